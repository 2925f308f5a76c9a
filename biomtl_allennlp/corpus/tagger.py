"""
Tagging a corpus (many files, millions of documents) with a `multitask_crf_tagger` on Ray:
the engine of `allennlp tag-corpus`.

- **Workers** (`worker.py`): Ray actors, each holding one `biomedical_entities` predictor (the archive is
  loaded once per actor), with `threads` torch threads and `num_cpus=threads` (and
  `num_gpus` when asked). A worker tags a batch of documents with `predict_batch_json` and
  formats each output with the predictor's own `dump_line`, so the lines are those that
  `allennlp predict` writes.
- **Streaming**: the driver reads the input files one after the other, cuts their
  documents into batches of `batch_size` (a batch may hold the end of one file and the
  start of the next; a document over `LARGE_DOCUMENT_CHARS` characters gets a batch of
  its own) and gives each batch to a free worker (one task per worker at a time, so no
  batch waits behind another), so memory does not grow with the corpus and a worker busy
  with a huge document holds up only that document's batch: the other workers go on,
  and every other input is finished and written as soon as its documents are. Results
  are put back in input order per file.
  `max_document_chars` (off by default) refuses longer documents with an error output
  (never a silent cut).
- **One run per output folder** (`output_folder.py`): a run holds an exclusive lock (`fcntl.flock`) on
  `DIR/.tag-corpus.lock` while it runs; a second run on the same folder stops at once
  with an error naming the holder's pid and host (`OutputFolderLockedError`). Temporary
  files are `.<name>.<pid>.partial`; those a killed run left are removed at the start.
- **Resumable and checked** (`writer.py`, `output_folder.py`): an input's entities file is written under a temporary name
  and checked before it is renamed into place: as many documents written as read from the
  input, the bytes on disk those written (SHA-256), for JSON lines one JSON object per
  document, for BioC a whole collection (well-formed XML, valid JSON) of the documents
  written (documents with error outputs are only in the errors file). Then its completion
  record `DIR/.<entities file>.complete` is written (the input's size, the documents, the size and SHA-256 of each output file). A rerun skips an
  input only when its record exists and every output file still matches it; anything else
  (no record: a killed run or an output of an older version; a file changed, cut or
  missing; the input's size changed) is tagged again, and reported as redone.
- **Bad input files** (unparsable XML, a truncated gzip file, ...): the file's partial
  output is removed, its error (`path:line: message`) reported, and the other files go
  on; the run ends with status 1 listing them. A bad line of a JSON-lines file (not UTF-8,
  invalid JSON, not an object) is an error output naming the line, and the file's other
  lines are tagged. Errors and warnings (an unresolved XML entity) go to
  `DIR/<name>.errors.jsonl`.
"""
import json
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import (
    OUTPUT_FORMATS,
    BadRecord,
    BiocRecord,
    CorpusFile,
    output_format_of,
    output_names,
    output_record,
    read_records,
)
from biomtl_allennlp.corpus.output_folder import completion_problem, output_folder_lock, record_path
from biomtl_allennlp.corpus.worker import Result, TaggerWorker
from biomtl_allennlp.corpus.writer import CorpusSummary, Driver, FileJob, write_summary
from biomtl_allennlp.documents.bioc_reader import BIOC_FORMATS
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.lines import error_output

logger = logging.getLogger(__name__)

# Documents longer than this (characters) are sent to a worker alone, so the documents
# batched with them do not wait for them.
LARGE_DOCUMENT_CHARS = 100_000

# A document on its way to a worker: its job, its index in the job's input, the worker's
# input (a `Document` or a `BiocRecord`; `None` for a bad line or an object refused:
# its result is then already known), its warnings (lines of the errors file) and that
# known result.
_Item = Tuple[FileJob, int, Union[Document, BiocRecord, None], List[str], Optional[Result]]


def _error_result(
    message: str, output_format: str, ids: Optional[Dict[str, Any]] = None, line: Optional[str] = None
) -> Result:
    """The result of a document that is not tagged: its error output (`error_output`),
    which a JSON-lines output holds as `allennlp predict` writes it (the other formats hold
    no error outputs)."""
    error = json.dumps(error_output(message, ids, line))
    return (error + "\n" if output_format == "jsonl" else "", error, [])


def _batches(
    jobs: Sequence[FileJob], batch_size: int, max_document_chars: Optional[int] = None
) -> Iterator[List[_Item]]:
    """The documents of all jobs, in order, cut into batches across file boundaries (a
    document over `LARGE_DOCUMENT_CHARS` in a batch of its own). A job whose input fails
    to read is marked failed and the next one read. Bad lines and documents over
    `max_document_chars` come with their (error) result and go to no worker."""
    batch: List[_Item] = []
    for job in jobs:
        try:
            for record in read_records(job.corpus_file):
                if isinstance(record, list):
                    job.deleted.extend(record)
                    continue
                warnings: List[str] = []
                document: Union[Document, BiocRecord, None] = None
                result: Optional[Result] = None
                size = 0
                if isinstance(record, BadRecord):
                    result = _error_result(record.message, job.output_format, line=record.line)
                else:
                    ids = record.ids
                    warnings = [json.dumps({**ids, "warning": w}) for w in record.warnings]
                    size = record.chars
                    if max_document_chars is not None and size > max_document_chars:
                        result = _error_result(
                            f"document of {size} characters, over the limit of "
                            f"{max_document_chars} (max_document_chars); not tagged",
                            job.output_format,
                            ids=ids,
                        )
                    else:
                        try:
                            document = output_record(record, job.output_format)
                        except InputFormatError as error:  # refused: the predictor's error output
                            message = error.message
                            if job.output_format in BIOC_FORMATS:  # named, as no predictor saw it
                                message = str(InputFormatError(message, job.corpus_file.path, record.line))
                            line = json.dumps(record.refused, ensure_ascii=False)
                            result = _error_result(message, job.output_format, ids=ids, line=line)
                job.documents += 1
                item = (job, job.documents - 1, document, warnings, result)
                if document is not None and size > LARGE_DOCUMENT_CHARS:
                    yield [item]
                    continue
                batch.append(item)
                if len(batch) == batch_size:
                    yield batch
                    batch = []
        except InputFormatError as error:
            job.failure = str(error)
        job.reading_done = True
        yield []  # lets the driver finish a job without documents (or that failed) now
    if batch:
        yield batch



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
    max_document_chars: Optional[int] = None,
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
    max_document_chars : `int`, optional (default = `None`: no limit)
        A longer document (its text, or title + " " + abstract) is not tagged: it gets an
        error output (and a line in the errors file) saying so.

    Raises `OutputFolderLockedError` when another run holds `output_dir`.
    """
    import ray
    from allennlp.common.tqdm import Tqdm

    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    for name, value in (("batch_size", batch_size), ("threads_per_worker", threads_per_worker)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if max_document_chars is not None and (not isinstance(max_document_chars, int) or max_document_chars < 1):
        raise ValueError(f"max_document_chars must be a positive integer, got {max_document_chars!r}")
    if not os.path.isfile(archive):
        raise InputFormatError("model archive not found", archive)
    os.makedirs(output_dir, exist_ok=True)
    with output_folder_lock(output_dir):
        return _tag_corpus_locked(
            archive, inputs, output_dir, output_format, workers, batch_size, threads_per_worker,
            cuda_device, gpus_per_worker, address, predictor_args, num_cpus, progress,
            max_document_chars,
        )  # fmt: skip


def _tag_corpus_locked(
    archive: str,
    inputs: Sequence[CorpusFile],
    output_dir: str,
    output_format: str,
    workers: Optional[int],
    batch_size: int,
    threads_per_worker: int,
    cuda_device: int,
    gpus_per_worker: float,
    address: Optional[str],
    predictor_args: Optional[Dict[str, Any]],
    num_cpus: Optional[int],
    progress: bool,
    max_document_chars: Optional[int],
) -> CorpusSummary:
    """`tag_corpus` once the output folder's lock is held."""
    import ray
    from allennlp.common.tqdm import Tqdm

    start = time.time()
    summary = CorpusSummary()
    jobs = []
    for corpus_file in inputs:
        file_format = output_format_of(corpus_file, output_format)
        names = output_names(corpus_file.stem, file_format)
        paths = {kind: os.path.join(output_dir, name) for kind, name in names.items()}
        problem = completion_problem(paths, corpus_file, file_format)
        if problem is None:
            summary.files_skipped.append(corpus_file.path)
            continue
        record = record_path(paths["entities"])
        if os.path.exists(record) or os.path.exists(paths["entities"]):
            summary.files_redone[corpus_file.path] = problem
            logger.warning("tag-corpus: %s is tagged again: %s", corpus_file.path, problem)
            if os.path.exists(record):
                os.remove(record)  # incomplete until this run's record replaces it
        try:
            input_bytes = os.path.getsize(corpus_file.path)
        except OSError:
            input_bytes = -1  # reading it fails and reports it
        jobs.append(FileJob(corpus_file, paths, output_format=file_format, input_bytes=input_bytes))
    if not jobs:
        summary.seconds = time.time() - start
        write_summary(output_dir, summary)
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
        driver = Driver(jobs, summary, bar, started=start)
        # task -> (its worker, its documents' (job, index, warnings)). A task goes to a free
        # worker (one task per worker: none waits behind a slow one) and results are taken
        # as they come, so a worker busy with a huge document holds up only its batch.
        in_flight: Dict[Any, Tuple[int, List[Tuple[FileJob, int, List[str]]]]] = {}
        queued = [0] * workers

        def collect() -> None:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for future in ready:
                worker, owners = in_flight.pop(future)
                queued[worker] -= 1
                results = ray.get(future)
                for (job, index, warnings), result in zip(owners, results):
                    driver.write(job, index, result, warnings)
                bar.update(len(results))
            driver.settle()

        for batch in _batches(jobs, batch_size, max_document_chars):
            for job, index, _, warnings, result in batch:
                if result is not None:  # a bad line or a refused document
                    driver.write(job, index, result, warnings)
            batch = [item for item in batch if item[4] is None]
            if not batch:
                driver.settle()
                continue
            while min(queued) >= 1:
                collect()
            worker = queued.index(min(queued))
            future = actors[worker].tag.remote([item[2] for item in batch])
            in_flight[future] = (worker, [(job, index, warnings) for job, index, _, warnings, _ in batch])
            queued[worker] += 1
        while in_flight:
            collect()
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
    write_summary(output_dir, summary)
    return summary
