"""
Tagging a corpus (many files, millions of documents) with a `multitask_crf_tagger` on Ray:
the engine of `allennlp tag-corpus`.

- **Workers**: Ray actors, each holding one `biomedical_entities` predictor (the archive is
  loaded once per actor), with `threads` torch threads and `num_cpus=threads` (and
  `num_gpus` when asked). A worker tags a batch of documents with `predict_batch_json` and
  formats each output with the predictor's own `dump_line`, so the lines are those that
  `allennlp predict` writes.
- **Streaming**: the driver reads the input files one after the other, cuts their
  documents into batches of `batch_size` (a batch may hold the end of one file and the
  start of the next) and keeps at most `2 * workers` batches in flight, so memory does
  not grow with the corpus. Results are taken back in submission order, so each output
  file has its documents in input order.
- **Resumable**: an input's entities file is written under a temporary name in the output
  folder and renamed when the input is complete (its deletions and errors files first);
  inputs whose entities file exists are skipped. A run killed at any point therefore
  loses only the inputs it had not finished, and a rerun writes them again, the same.
- **Bad input files** (unparsable XML, bad JSON lines, ...): the file's partial output is
  removed, its error (`path:line: message`) reported, and the other files go on; the run
  ends with status 1 listing them.
"""
import collections
from collections import Counter
import json
import logging
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import (
    BIOC_DOCUMENT,
    BIOC_OUTPUT,
    OUTPUT_FORMATS,
    CorpusFile,
    is_complete,
    output_end,
    output_format_of,
    output_names,
    output_record,
    output_separator,
    output_start,
    read_records,
)

logger = logging.getLogger(__name__)


class TaggerWorker:
    """
    One worker (wrapped by `ray.remote` in `tag_corpus`): loads the archive's
    `biomedical_entities` predictor once and tags batches of documents.

    # Parameters

    archive : `str`
        A `model.tar.gz` of a `multitask_crf_tagger`.
    output_format : `str`
        `"pubtator"` (the predictor's `"pubtator"`), or another of `OUTPUT_FORMATS` (the
        predictor's `"json"`; documents of BioC outputs come as BioC records, see
        `inputs.output_record`).
    threads : `int`
        torch threads of this worker.
    cuda_device : `int`
        -1 for CPU; with Ray-assigned GPUs (`num_gpus`), 0 is the worker's first GPU. On
        a GPU the CRF runs as `"scan"` (`biomtl_allennlp.pretrained.archive_overrides`).
    predictor_args : `Dict[str, Any]`
        Further constructor arguments of the predictor (`min_score`, `overlap_policy`, ...).
    """

    def __init__(
        self,
        archive: str,
        output_format: str,
        threads: int = 1,
        cuda_device: int = -1,
        predictor_args: Optional[Dict[str, Any]] = None,
    ) -> None:
        import torch

        import biomtl_allennlp  # noqa: F401  (registers the components)
        from biomtl_allennlp.common.archives import predictor_from_path
        from biomtl_allennlp.pretrained import archive_overrides

        torch.set_num_threads(threads)
        self.predictor = predictor_from_path(
            archive,
            "biomedical_entities",
            cuda_device=cuda_device,
            overrides=archive_overrides(cuda_device),
            output_format="pubtator" if output_format == "pubtator" else "json",
            **(predictor_args or {}),
        )

    def tag(self, documents: List[Dict[str, Any]]) -> List[Tuple[str, Optional[str], List[str]]]:
        """Per document: its output lines (as `allennlp predict` writes them; for a BioC
        record the document as its BioC file holds it), its error output as a JSON line
        (or `None`; a BioC document's errors, one line per passage), and the types of its
        entities."""
        plain = [index for index, document in enumerate(documents) if BIOC_DOCUMENT not in document]
        results: List[Any] = [None] * len(documents)
        outputs = self.predictor.predict_batch_json([documents[index] for index in plain]) if plain else []
        for index, output in zip(plain, outputs):
            error = json.dumps(output) if "error" in output else None
            types = [entity["type"] for entity in output.get("entities", [])]
            results[index] = (self.predictor.dump_line(output), error, types)
        records = [(index, document) for index, document in enumerate(documents) if BIOC_DOCUMENT in document]
        if records:
            from biomtl_allennlp.data.bioc_collections import format_document, tag_documents

            tagged = tag_documents(self.predictor.predict_batch_json, [r[BIOC_DOCUMENT] for _, r in records])
            for (index, record), (entities, errors) in zip(records, tagged):
                text = format_document(record[BIOC_DOCUMENT], record[BIOC_OUTPUT])
                error = "\n".join(json.dumps(e) for e in errors) if errors else None
                results[index] = (text, error, [entity.type for entity in entities])
        return results

    def stats(self) -> Dict[str, float]:
        """Tokens tagged so far and the peak resident memory of this worker's process."""
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "tokens": float(getattr(self.predictor, "tokens_processed", 0)),
            "peak_memory_mb": peak_kib / 1024,
        }


@dataclass
class _FileJob:
    """The state of one input file while its documents are tagged."""

    corpus_file: CorpusFile
    paths: Dict[str, str]
    output_format: str = "jsonl"  # resolved for this input (`inputs.output_format_of`)
    handle: Any = None
    documents: int = 0  # read so far
    written: int = 0
    deleted: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    entities_by_type: Counter = field(default_factory=Counter)
    reading_done: bool = False
    failure: Optional[str] = None

    def temporary(self, kind: str) -> str:
        directory, name = os.path.split(self.paths[kind])
        return os.path.join(directory, f".{name}.partial")


@dataclass
class CorpusSummary:
    """What a `tag_corpus` run did; `files_failed` maps each bad input to its error."""

    files_done: List[str] = field(default_factory=list)
    files_skipped: List[str] = field(default_factory=list)
    files_failed: Dict[str, str] = field(default_factory=dict)
    documents: int = 0
    documents_with_errors: int = 0
    deleted_citations: int = 0
    entities_by_type: Counter = field(default_factory=Counter)
    tokens: int = 0
    seconds: float = 0.0
    first_output_seconds: Optional[float] = None
    workers: int = 0
    worker_peak_memory_mb: List[float] = field(default_factory=list)

    @property
    def entities(self) -> int:
        return sum(self.entities_by_type.values())

    def to_json(self) -> Dict[str, Any]:
        rate = self.documents / self.seconds if self.seconds else 0.0
        return {
            **self.__dict__,
            "entities": self.entities,
            "entities_by_type": dict(sorted(self.entities_by_type.items())),
            "documents_per_second": round(rate, 2),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else 0.0,
        }

    def format(self) -> str:
        types = ", ".join(f"{name} {count}" for name, count in sorted(self.entities_by_type.items()))
        rates = self.to_json()
        lines = [
            f"files: {len(self.files_done)} tagged, {len(self.files_skipped)} skipped "
            f"(already complete), {len(self.files_failed)} failed",
            f"documents: {self.documents} ({self.documents_with_errors} with errors), "
            f"deleted citations listed: {self.deleted_citations}",
            f"entities: {self.entities}" + (f" ({types})" if types else ""),
            f"time: {self.seconds:.1f} s, {rates['documents_per_second']} documents/s, "
            f"{rates['tokens_per_second']} tokens/s, {self.workers} workers",
        ]
        lines += [f"FAILED {path}: {error}" for path, error in self.files_failed.items()]
        return "\n".join(lines)


def _batches(
    jobs: Sequence[_FileJob], batch_size: int
) -> Iterator[List[Tuple[_FileJob, Dict[str, Any]]]]:
    """The documents of all jobs, in order, cut into batches across file boundaries. A job
    whose input fails to read is marked failed and the next one read."""
    batch: List[Tuple[_FileJob, Dict[str, Any]]] = []
    for job in jobs:
        try:
            for record in read_records(job.corpus_file):
                if isinstance(record, list):
                    job.deleted.extend(record)
                    continue
                job.documents += 1
                batch.append((job, output_record(record, job.output_format)))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
        except InputFormatError as error:
            job.failure = str(error)
        job.reading_done = True
        yield []  # lets the driver finish a job without documents (or that failed) now
    if batch:
        yield batch


def _write_atomically(path: str, temporary: str, text: str) -> None:
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class _Driver:
    """Writes the results of the jobs (in input order) and finishes or discards each job
    once it is read and written."""

    def __init__(
        self, jobs: Sequence[_FileJob], summary: CorpusSummary, progress: Any, started: float
    ) -> None:
        self.summary = summary
        self.progress = progress
        self.started = started
        self.open_jobs: Deque[_FileJob] = collections.deque(jobs)

    def write(self, job: _FileJob, result: Tuple[str, Optional[str], List[str]]) -> None:
        lines, error, types = result
        if job.failure is not None:
            return
        if job.handle is None:
            job.handle = open(job.temporary("entities"), "w", encoding="utf-8")
            job.handle.write(output_start(job.corpus_file, job.output_format))
        elif lines:
            job.handle.write(output_separator(job.output_format))
        job.handle.write(lines)
        job.written += 1
        if error is not None:
            job.errors.append(error)
        job.entities_by_type.update(types)
        if self.summary.first_output_seconds is None:
            self.summary.first_output_seconds = time.time() - self.started

    def settle(self) -> None:
        """Finishes (renames into place) or discards every job that has been read and whose
        documents are all written or that failed."""
        while self.open_jobs:
            job = self.open_jobs[0]
            if not job.reading_done:
                break  # later jobs are not complete either (documents are in order)
            if job.failure is None and job.written < job.documents:
                break
            self.open_jobs.popleft()
            if job.failure is not None:
                self._discard(job)
            else:
                self._finish(job)

    def _finish(self, job: _FileJob) -> None:
        if job.deleted:
            _write_atomically(job.paths["deleted"], job.temporary("deleted"), "".join(f"{p}\n" for p in job.deleted))
        if job.errors:
            _write_atomically(job.paths["errors"], job.temporary("errors"), "".join(f"{e}\n" for e in job.errors))
        if job.handle is None:
            job.handle = open(job.temporary("entities"), "w", encoding="utf-8")
            job.handle.write(output_start(job.corpus_file, job.output_format))
        job.handle.write(output_end(job.output_format))
        job.handle.flush()
        os.fsync(job.handle.fileno())
        job.handle.close()
        os.replace(job.temporary("entities"), job.paths["entities"])
        summary = self.summary
        summary.files_done.append(job.corpus_file.path)
        summary.documents += job.written
        summary.documents_with_errors += len(job.errors)
        summary.deleted_citations += len(job.deleted)
        summary.entities_by_type.update(job.entities_by_type)
        self.progress.set_postfix(files=len(summary.files_done), refresh=False)
        logger.info("tag-corpus: wrote %s (%d documents)", job.paths["entities"], job.written)

    def _discard(self, job: _FileJob) -> None:
        if job.handle is not None:
            job.handle.close()
        for kind in ("entities", "deleted", "errors"):
            if os.path.exists(job.temporary(kind)):
                os.remove(job.temporary(kind))
        self.summary.files_failed[job.corpus_file.path] = job.failure
        logger.error("tag-corpus: %s", job.failure)


def tag_corpus(
    archive: str,
    inputs: Sequence[CorpusFile],
    output_dir: str,
    output_format: str = "auto",
    workers: Optional[int] = None,
    batch_size: int = 32,
    threads_per_worker: int = 1,
    cuda_device: int = -1,
    gpus_per_worker: float = 0.0,
    address: Optional[str] = None,
    predictor_args: Optional[Dict[str, Any]] = None,
    num_cpus: Optional[int] = None,
    progress: bool = True,
) -> CorpusSummary:
    """
    Tags every document of `inputs` into `output_dir` (see the module docstring); returns
    the summary of the run (also written to `output_dir/tag-corpus-summary.json`).

    # Parameters

    archive : `str`
        A `model.tar.gz` of a `multitask_crf_tagger`.
    inputs : `Sequence[CorpusFile]`
        From `collect_inputs`.
    output_dir : `str`
        Created if needed. Per input `<stem>.jsonl`, `<stem>.pubtator`, `<stem>.bioc.xml`
        or `<stem>.bioc.json`, and when there are any `<stem>.deleted.txt` and
        `<stem>.errors.jsonl`.
    output_format : `str`, optional (default = `"auto"`)
        `"jsonl"` (the predictor's JSON lines), `"pubtator"`, `"bioc_xml"`, `"bioc_json"`,
        or `"auto"`: BioC inputs in their own BioC format, the others as JSON lines
        (`inputs.output_format_of`; a BioC input with `"jsonl"` or `"pubtator"` is an
        `InputFormatError` before anything is tagged).
    workers : `int`, optional
        Ray actors; default: the cluster's CPUs (or GPUs with `gpus_per_worker`) divided
        by what one worker takes.
    batch_size : `int`, optional (default = `32`)
        Documents per task sent to a worker.
    threads_per_worker : `int`, optional (default = `1`)
        torch threads and Ray CPUs per worker.
    cuda_device : `int`, optional (default = `-1`)
        Every worker tags on this GPU (one machine).
    gpus_per_worker : `float`, optional (default = `0`)
        Ray GPUs per worker (each worker then uses its first assigned GPU).
    address : `str`, optional
        An existing Ray cluster (`ray.init(address=...)`); default: a local Ray with
        `num_cpus` CPUs (default: the machine's).
    predictor_args : `Dict[str, Any]`, optional
        Further arguments of the `biomedical_entities` predictor.
    progress : `bool`, optional (default = `True`)
        Show a progress bar (documents) on stderr.
    """
    import ray
    from allennlp.common.tqdm import Tqdm

    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    for name, value in (("batch_size", batch_size), ("threads_per_worker", threads_per_worker)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not os.path.isfile(archive):
        raise InputFormatError("model archive not found", archive)
    os.makedirs(output_dir, exist_ok=True)
    start = time.time()
    summary = CorpusSummary()
    jobs = []
    for corpus_file in inputs:
        file_format = output_format_of(corpus_file, output_format)
        if is_complete(output_dir, corpus_file.stem, file_format):
            summary.files_skipped.append(corpus_file.path)
            continue
        names = output_names(corpus_file.stem, file_format)
        paths = {kind: os.path.join(output_dir, name) for kind, name in names.items()}
        jobs.append(_FileJob(corpus_file, paths, file_format))
    if not jobs:
        summary.seconds = time.time() - start
        _write_summary(output_dir, summary)
        return summary

    started_ray = not ray.is_initialized()
    if started_ray:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=True)
    try:
        resources = ray.cluster_resources()
        if workers is None:
            if gpus_per_worker:
                workers = max(1, int(resources.get("GPU", 0) // gpus_per_worker))
            else:
                workers = max(1, int(resources.get("CPU", 1) // threads_per_worker))
        actor_class = ray.remote(num_cpus=threads_per_worker, num_gpus=gpus_per_worker)(TaggerWorker)
        device = 0 if gpus_per_worker else cuda_device
        actors = [
            actor_class.remote(archive, output_format, threads_per_worker, device, predictor_args)
            for _ in range(workers)
        ]
        summary.workers = workers
        bar = Tqdm.tqdm(unit="doc", disable=not progress, desc="tag-corpus")
        driver = _Driver(jobs, summary, bar, started=start)
        in_flight: Deque[Tuple[List[_FileJob], Any]] = collections.deque()

        def drain_one() -> None:
            owners, future = in_flight.popleft()
            results = ray.get(future)
            for job, result in zip(owners, results):
                driver.write(job, result)
            bar.update(len(results))
            driver.settle()

        submitted = 0
        for batch in _batches(jobs, batch_size):
            if not batch:
                driver.settle()
                continue
            while len(in_flight) >= 2 * workers:
                drain_one()
            future = actors[submitted % workers].tag.remote([document for _, document in batch])
            in_flight.append(([job for job, _ in batch], future))
            submitted += 1
        while in_flight:
            drain_one()
        driver.settle()
        bar.close()
        stats = ray.get([actor.stats.remote() for actor in actors])
        summary.tokens = int(sum(s["tokens"] for s in stats))
        summary.worker_peak_memory_mb = [round(s["peak_memory_mb"], 1) for s in stats]
        for actor in actors:
            ray.kill(actor)
    finally:
        if started_ray:
            ray.shutdown()
    summary.seconds = time.time() - start
    _write_summary(output_dir, summary)
    return summary


def _write_summary(output_dir: str, summary: CorpusSummary) -> None:
    path = os.path.join(output_dir, "tag-corpus-summary.json")
    _write_atomically(path, path + ".partial", json.dumps(summary.to_json(), indent=2) + "\n")
