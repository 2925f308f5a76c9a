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
  start of the next; a document over `LARGE_DOCUMENT_CHARS` characters gets a batch of
  its own) and gives each batch to a free worker (one task per worker at a time, so no
  batch waits behind another), so memory does not grow with the corpus and a worker busy
  with a huge document holds up only that document's batch: the other workers go on,
  and every other input is finished and written as soon as its documents are. Results are put back in input order per file.
  `max_document_chars` (off by default) refuses longer documents with an error output
  (never a silent cut).
- **One run per output folder**: a run holds an exclusive lock (`fcntl.flock`) on
  `DIR/.tag-corpus.lock` while it runs; a second run on the same folder stops at once
  with an error naming the holder's pid and host (`OutputFolderLockedError`). Temporary
  files are `.<name>.<pid>.partial`; those a killed run left are removed at the start.
- **Resumable and checked**: an input's entities file is written under a temporary name
  and checked before it is renamed into place: as many documents written as read from the
  input, the bytes on disk those written (SHA-256), for JSON lines one JSON object per
  document, for BioC a whole collection (well-formed XML, valid JSON) of the documents
  written (documents with error outputs are only in the errors file). Then its completion record `DIR/.<entities file>.complete` is written (the
  input's size, the documents, the size and SHA-256 of each output file). A rerun skips an
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
from collections import Counter
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import resource
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.bioc_reader import BIOC_FORMATS
from biomtl_allennlp.documents.bioc_writer import count_written_documents
from biomtl_allennlp.documents.entity import ID_KEYS
from biomtl_allennlp.corpus.inputs import (
    OUTPUT_FORMATS,
    BadRecord,
    BiocRecord,
    CorpusFile,
    InputDocument,
    output_end,
    output_format_of,
    output_names,
    output_record,
    output_separator,
    output_start,
    read_records,
)

logger = logging.getLogger(__name__)

LOCK_NAME = ".tag-corpus.lock"
# Documents longer than this (characters) are sent to a worker alone, so the documents
# batched with them do not wait for them.
LARGE_DOCUMENT_CHARS = 100_000
# The version of the completion records (`.<entities file>.complete`).
_RECORD_VERSION = 1
_HASH_CHUNK = 1 << 20


class OutputFolderLockedError(InputFormatError):
    """Another `tag-corpus` run holds the output folder's lock."""


class TaggerWorker:
    """
    One worker (wrapped by `ray.remote` in `tag_corpus`): loads the archive's
    `biomedical_entities` predictor once and tags batches of documents.

    # Parameters

    archive : `str`
        A `model.tar.gz` of a `multitask_crf_tagger`.
    output_format : `str`
        `"pubtator"` (the predictor's `"pubtator"`), or another of `OUTPUT_FORMATS` (the
        predictor's `"json"`; documents of BioC outputs come as `BiocRecord`s, see
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

    def tag(
        self, documents: List[Union[Dict[str, Any], BiocRecord]]
    ) -> List[Tuple[str, Optional[str], List[str]]]:
        """Per document (a predictor input, or a `BiocRecord`): its output lines (as
        `allennlp predict` writes them; for a BioC record the document as its BioC file
        holds it), its error output as a JSON line (or `None`; a BioC document's errors,
        one line per passage), and the types of its entities."""
        plain = [index for index, document in enumerate(documents) if not isinstance(document, BiocRecord)]
        results: List[Any] = [None] * len(documents)
        outputs = self.predictor.predict_batch_json([documents[index] for index in plain]) if plain else []
        for index, output in zip(plain, outputs):
            error = json.dumps(output) if "error" in output else None
            types = [entity["type"] for entity in output.get("entities", [])]
            results[index] = (self.predictor.dump_line(output), error, types)
        records = [(index, document) for index, document in enumerate(documents) if isinstance(document, BiocRecord)]
        if records:
            from biomtl_allennlp.documents.bioc_writer import format_document, tag_documents

            tagged = tag_documents(self.predictor.predict_batch_json, [r.document for _, r in records])
            for (index, record), (entities, errors) in zip(records, tagged):
                text = format_document(record.document, record.output_format)
                error = "\n".join(json.dumps(e) for e in errors) if errors else None
                results[index] = (text, error, [entity.type for entity in entities])
        return results

    def stats(self) -> Dict[str, float]:
        """Tokens tagged so far and the peak resident memory of this worker's process."""
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "tokens": float(self.predictor.tokens_processed),
            "peak_memory_mb": peak_kib / 1024,
        }


@dataclass
class _FileJob:
    """The state of one input file while its documents are tagged."""

    corpus_file: CorpusFile
    paths: Dict[str, str]
    output_format: str = "jsonl"  # resolved for this input (`inputs.output_format_of`)
    input_bytes: int = 0
    handle: Any = None
    documents: int = 0  # read so far
    written: int = 0  # results taken, in order (error results too)
    # Documents in the entities file (results with output text): for a BioC output, the
    # documents of the collection (those with error outputs are not there).
    output_documents: int = 0
    # Results that came back before those of earlier documents: document index -> result.
    waiting: Dict[int, Any] = field(default_factory=dict)
    # The entities file as written: its size and SHA-256.
    bytes_written: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    deleted: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)  # lines of the errors file
    documents_with_errors: int = 0
    warnings: int = 0
    entities_by_type: Counter = field(default_factory=Counter)
    reading_done: bool = False
    failure: Optional[str] = None

    def temporary(self, kind: str) -> str:
        return _temporary_name(self.paths[kind])


@dataclass
class CorpusSummary:
    """What a `tag_corpus` run did; `files_failed` maps each bad input to its error."""

    files_done: List[str] = field(default_factory=list)
    files_skipped: List[str] = field(default_factory=list)
    files_failed: Dict[str, str] = field(default_factory=dict)
    # Inputs tagged again because their earlier output was incomplete or corrupt: the reason.
    files_redone: Dict[str, str] = field(default_factory=dict)
    documents: int = 0
    documents_with_errors: int = 0
    warnings: int = 0
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
            f"(already complete), {len(self.files_failed)} failed"
            + (f", {len(self.files_redone)} redone (incomplete or corrupt output)" if self.files_redone else ""),
            f"documents: {self.documents} ({self.documents_with_errors} with errors"
            + (f", {self.warnings} warnings" if self.warnings else "")
            + f"), deleted citations listed: {self.deleted_citations}",
            f"entities: {self.entities}" + (f" ({types})" if types else ""),
            f"time: {self.seconds:.1f} s, {rates['documents_per_second']} documents/s, "
            f"{rates['tokens_per_second']} tokens/s, {self.workers} workers",
        ]
        lines += [f"REDONE {path}: {reason}" for path, reason in self.files_redone.items()]
        lines += [f"FAILED {path}: {error}" for path, error in self.files_failed.items()]
        return "\n".join(lines)


# A worker's result for one document: its output text, its error output as a JSON line (or
# `None`), and the types of its entities.
_Result = Tuple[str, Optional[str], List[str]]
# A document on its way to a worker: its job, its index in the job's input, the worker's
# input (a predictor input or a `BiocRecord`; `None` for a bad line or a document refused:
# its result is then already known), its warnings (lines of the errors file) and that
# known result.
_Item = Tuple[_FileJob, int, Union[Dict[str, Any], BiocRecord, None], List[str], Optional[_Result]]
# The longest input line echoed in an error output (as the predictor does).
_MAX_ECHOED_LINE = 1000


def _error_result(
    message: str, output_format: str, ids: Optional[Dict[str, Any]] = None, line: Optional[str] = None
) -> _Result:
    """The result of a document that is not tagged: `{**ids, "error": message, "line":
    line}`, which a JSON-lines output holds as `allennlp predict` writes it (the other
    formats hold no error outputs)."""
    output: Dict[str, Any] = dict(ids or {})
    output["error"] = message
    if line is not None:
        output["line"] = line if len(line) <= _MAX_ECHOED_LINE else line[:_MAX_ECHOED_LINE] + "..."
    error = json.dumps(output)
    return (error + "\n" if output_format == "jsonl" else "", error, [])


def _document_chars(document: InputDocument) -> int:
    """The length of the text the predictor makes of `document` (0 when it has none); for
    a BioC document the sum of its passages' texts (each tagged as one input)."""
    if document.bioc_document is not None:
        return sum(len(passage.text or "") for passage in document.bioc_document.passages)
    fields = document.fields or {}
    if isinstance(fields.get("text"), str):
        return len(fields["text"])
    parts = [fields.get(key) for key in ("title", "abstract")]
    return sum(len(part) + 1 for part in parts if isinstance(part, str))


def _ids_of(document: InputDocument) -> Dict[str, Any]:
    """The ids of a document, as its outputs echo them (a BioC document's `id`)."""
    if document.bioc_document is not None:
        return {"id": document.bioc_document.id}
    fields = document.fields or {}
    return {key: fields[key] for key in ID_KEYS if key in fields}


def _batches(
    jobs: Sequence[_FileJob], batch_size: int, max_document_chars: Optional[int] = None
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
                document: Union[Dict[str, Any], BiocRecord, None] = None
                result: Optional[_Result] = None
                size = 0
                if isinstance(record, BadRecord):
                    result = _error_result(record.message, job.output_format, line=record.line)
                else:
                    ids = _ids_of(record)
                    warnings = [json.dumps({**ids, "warning": w}) for w in record.warnings]
                    size = _document_chars(record)
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
                        except InputFormatError as error:  # refused as the predictor would
                            message = str(InputFormatError(error.message, job.corpus_file.path, record.line))
                            line = json.dumps(record.fields, ensure_ascii=False)
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


def _temporary_name(path: str) -> str:
    """`DIR/.<name>.<pid>.partial`: the temporary name of `path`, unique per process."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{os.getpid()}.partial")


def _write_atomically(path: str, temporary: str, text: str) -> Dict[str, Any]:
    """Writes `text` to `temporary`, syncs it and renames it to `path`; returns its
    `{"bytes", "sha256"}`."""
    data = text.encode("utf-8")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _file_digest(path: str) -> Dict[str, Any]:
    """`{"bytes", "sha256"}` of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _fsync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # not supported by every file system
        pass
    finally:
        os.close(descriptor)


def record_path(entities_path: str) -> str:
    """The completion record of an entities file: `DIR/.<entities file>.complete`."""
    directory, name = os.path.split(entities_path)
    return os.path.join(directory, f".{name}.complete")


def completion_problem(paths: Dict[str, str], corpus_file: CorpusFile, output_format: str) -> Optional[str]:
    """
    `None` when the outputs `paths` of `corpus_file` are complete: their completion
    record exists, is of this output format and input size, and every output file it
    lists has its size and SHA-256 (and no deletions or errors file it does not list is
    there). Otherwise why not.
    """
    try:
        with open(record_path(paths["entities"]), encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return "no completion record (an interrupted run, or an output of an older version)"
    except (OSError, ValueError) as error:
        return f"unreadable completion record ({error})"
    # Hand-edited or corrupt: not of the shape this module writes.
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict) or not all(isinstance(entry, dict) for entry in files.values()):
        return "unreadable completion record (not an object with 'files' of objects)"
    if record.get("version") != _RECORD_VERSION or record.get("output_format") != output_format:
        return "its completion record is of another version or output format"
    try:
        input_bytes = os.path.getsize(corpus_file.path)
    except OSError as error:
        return f"the input cannot be read ({error})"
    if record.get("input_bytes") != input_bytes:
        return f"the input has changed since it was tagged ({input_bytes} bytes, was {record.get('input_bytes')})"
    directory = os.path.dirname(paths["entities"])
    for kind in ("entities", "deleted", "errors"):
        name = os.path.basename(paths[kind])
        if name not in files:
            if kind == "entities":
                return "its completion record lists no entities file"
            if os.path.exists(paths[kind]):
                return f"{name} is there but not in its completion record"
            continue
        try:
            found = _file_digest(os.path.join(directory, name))
        except OSError:
            return f"{name} is missing"
        expected = files[name]
        if found != {"bytes": expected.get("bytes"), "sha256": expected.get("sha256")}:
            return (
                f"{name} is not what was written ({found['bytes']} bytes, written "
                f"{expected.get('bytes')}, or other content): corrupt or changed"
            )
    return None


def _check_output(job: _FileJob) -> Optional[str]:
    """Why the temporary entities file of `job` is not complete, or `None`: every document
    read is written, the file on disk holds the bytes written, a JSON-lines file has one
    JSON object per document, and a BioC file is a whole collection (well-formed XML,
    valid JSON) of the documents written to it."""
    if job.written != job.documents:
        return f"{job.written} documents written for {job.documents} read"
    path = job.temporary("entities")
    found = _file_digest(path)
    if found != {"bytes": job.bytes_written, "sha256": job.digest.hexdigest()}:
        return f"the file on disk ({found['bytes']} bytes) is not what was written ({job.bytes_written} bytes)"
    if job.output_format == "jsonl":
        lines = 0
        with open(path, "rb") as handle:
            for lines, line in enumerate(handle, start=1):
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError("not an object")
                except ValueError as error:
                    return f"line {lines} of the output is not a JSON object ({error})"
        if lines != job.documents:
            return f"{lines} output lines for {job.documents} documents"
    elif job.output_format in BIOC_FORMATS:
        try:
            found_documents = count_written_documents(path, job.output_format)
        except InputFormatError as error:
            return str(error)
        if found_documents != job.output_documents:
            return f"{found_documents} documents in the output for {job.output_documents} written"
    return None


class _Driver:
    """Writes the results of the jobs (in input order per job, whatever order they come
    back in) and finishes or discards each job once it is read and written."""

    def __init__(
        self, jobs: Sequence[_FileJob], summary: CorpusSummary, progress: Any, started: float
    ) -> None:
        self.summary = summary
        self.progress = progress
        self.started = started
        self.open_jobs: List[_FileJob] = list(jobs)

    def write(self, job: _FileJob, index: int, result: _Result, warnings: List[str]) -> None:
        """Takes the result of document `index` of `job`; writes it and those after it that
        came back before it."""
        if job.failure is not None:
            return
        job.waiting[index] = (result, warnings)
        while job.written in job.waiting:
            self._write_next(job, *job.waiting.pop(job.written))

    @staticmethod
    def _emit(job: _FileJob, text: str) -> None:
        """Appends `text` to the job's temporary entities file (opened on first use),
        counting its bytes and hashing them."""
        if job.handle is None:
            job.handle = open(job.temporary("entities"), "wb")
        data = text.encode("utf-8")
        job.handle.write(data)
        job.bytes_written += len(data)
        job.digest.update(data)

    def _write_next(self, job: _FileJob, result: _Result, warnings: List[str]) -> None:
        lines, error, types = result
        if job.handle is None:
            self._emit(job, output_start(job.corpus_file, job.output_format))
        if lines:  # not a document with only an error output (BioC, PubTator)
            if job.output_documents:
                self._emit(job, output_separator(job.output_format))
            self._emit(job, lines)
            job.output_documents += 1
        job.written += 1
        for warning in warnings:  # JSON lines {ids..., "warning": ...}
            logger.warning("tag-corpus: %s", warning)
            job.errors.append(warning)
            job.warnings += 1
        if error is not None:
            job.errors.append(error)
            job.documents_with_errors += 1
        job.entities_by_type.update(types)
        if self.summary.first_output_seconds is None:
            self.summary.first_output_seconds = time.time() - self.started

    def settle(self) -> None:
        """Finishes (checks and renames into place) or discards every job that has been read
        and whose documents are all written, or that failed."""
        still_open = []
        for job in self.open_jobs:
            if not job.reading_done or (job.failure is None and job.written < job.documents):
                still_open.append(job)
            elif job.failure is not None:
                self._discard(job)
            else:
                self._finish(job)
        self.open_jobs = still_open

    def _finish(self, job: _FileJob) -> None:
        if job.handle is None:  # an input without documents gets its (empty) file
            self._emit(job, output_start(job.corpus_file, job.output_format))
        self._emit(job, output_end(job.output_format))
        job.handle.flush()
        os.fsync(job.handle.fileno())
        job.handle.close()
        problem = _check_output(job)
        if problem is not None:
            job.failure = f"{job.corpus_file.path}: output check failed: {problem}"
            self._discard(job)
            return
        files = {}
        for kind, lines in (("deleted", job.deleted), ("errors", job.errors)):
            path = job.paths[kind]
            if lines:
                text = "".join(f"{line}\n" for line in lines)
                files[os.path.basename(path)] = _write_atomically(path, job.temporary(kind), text)
            elif os.path.exists(path):
                os.remove(path)  # of an earlier run
        os.replace(job.temporary("entities"), job.paths["entities"])
        files[os.path.basename(job.paths["entities"])] = {
            "bytes": job.bytes_written,
            "sha256": job.digest.hexdigest(),
        }
        directory = os.path.dirname(job.paths["entities"]) or "."
        _fsync_directory(directory)
        record = {
            "version": _RECORD_VERSION,
            "input": job.corpus_file.path,
            "input_bytes": job.input_bytes,
            "output_format": job.output_format,
            "documents": job.documents,
            "files": files,
        }
        path = record_path(job.paths["entities"])
        _write_atomically(path, _temporary_name(path), json.dumps(record, indent=1) + "\n")
        _fsync_directory(directory)
        summary = self.summary
        summary.files_done.append(job.corpus_file.path)
        summary.documents += job.written
        summary.documents_with_errors += job.documents_with_errors
        summary.warnings += job.warnings
        summary.deleted_citations += len(job.deleted)
        summary.entities_by_type.update(job.entities_by_type)
        self.progress.set_postfix(files=len(summary.files_done), refresh=False)
        logger.info("tag-corpus: wrote %s (%d documents)", job.paths["entities"], job.written)

    def _discard(self, job: _FileJob) -> None:
        """Removes the job's temporary files and any earlier (unverified) outputs of its
        input, and reports its failure."""
        if job.handle is not None:
            job.handle.close()
        for kind in ("entities", "deleted", "errors"):
            for path in (job.temporary(kind), job.paths[kind]):
                if os.path.exists(path):
                    os.remove(path)
        self.summary.files_failed[job.corpus_file.path] = job.failure
        logger.error("tag-corpus: %s", job.failure)


@contextlib.contextmanager
def output_folder_lock(output_dir: str) -> Iterator[None]:
    """
    Holds an exclusive `fcntl.flock` on `output_dir/.tag-corpus.lock` (which then names
    this process) while the block runs. Raises `OutputFolderLockedError`, naming the holder,
    at once when another process holds it. Temporary files (`.*.partial`) left in the
    folder by killed runs are removed once the lock is held.
    """
    path = os.path.join(output_dir, LOCK_NAME)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise OutputFolderLockedError(
            f"in use by another tag-corpus run ({holder or 'its holder has not written its pid yet'}, "
            f"lock {path}); wait for it to end, or choose another --output-dir",
            output_dir,
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(f"pid {os.getpid()} on host {socket.gethostname()}, started {started}\n")
        handle.flush()
        for name in os.listdir(output_dir):
            if name.startswith(".") and name.endswith(".partial"):
                leftover = os.path.join(output_dir, name)
                if os.path.isfile(leftover):
                    logger.info("tag-corpus: removing %s (left by an interrupted run)", leftover)
                    os.remove(leftover)
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


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
        jobs.append(_FileJob(corpus_file, paths, output_format=file_format, input_bytes=input_bytes))
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
        # task -> (its worker, its documents' (job, index, warnings)). A task goes to a free
        # worker (one task per worker: none waits behind a slow one) and results are taken
        # as they come, so a worker busy with a huge document holds up only its batch.
        in_flight: Dict[Any, Tuple[int, List[Tuple[_FileJob, int, List[str]]]]] = {}
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
    _write_summary(output_dir, summary)
    return summary


def _write_summary(output_dir: str, summary: CorpusSummary) -> None:
    path = os.path.join(output_dir, "tag-corpus-summary.json")
    _write_atomically(path, _temporary_name(path), json.dumps(summary.to_json(), indent=2) + "\n")
