"""
Writing the results of `allennlp tag-corpus` (`Driver`): each input's documents in input
order, whatever order the workers give them back in, into a temporary entities file that
is checked (`check_output`: as many documents written as read, the bytes on disk those
written, for JSON lines one JSON object per document, for BioC a whole collection) before
it is renamed into place and its completion record written; and the summary of a run
(`CorpusSummary`).
"""
from collections import Counter
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import CorpusFile, output_end, output_separator, output_start
from biomtl_allennlp.corpus.output_folder import (
    RECORD_VERSION,
    file_digest,
    fsync_directory,
    record_path,
    temporary_name,
    write_atomically,
)
from biomtl_allennlp.corpus.worker import Result
from biomtl_allennlp.documents.bioc_reader import BIOC_FORMATS
from biomtl_allennlp.documents.bioc_writer import count_written_documents

logger = logging.getLogger(__name__)


@dataclass
class FileJob:
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
        return temporary_name(self.paths[kind])



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



def check_output(job: FileJob) -> Optional[str]:
    """Why the temporary entities file of `job` is not complete, or `None`: every document
    read is written, the file on disk holds the bytes written, a JSON-lines file has one
    JSON object per document, and a BioC file is a whole collection (well-formed XML,
    valid JSON) of the documents written to it."""
    if job.written != job.documents:
        return f"{job.written} documents written for {job.documents} read"
    path = job.temporary("entities")
    found = file_digest(path)
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



class Driver:
    """Writes the results of the jobs (in input order per job, whatever order they come
    back in) and finishes or discards each job once it is read and written."""

    def __init__(
        self, jobs: Sequence[FileJob], summary: CorpusSummary, progress: Any, started: float
    ) -> None:
        self.summary = summary
        self.progress = progress
        self.started = started
        self.open_jobs: List[FileJob] = list(jobs)

    def write(self, job: FileJob, index: int, result: Result, warnings: List[str]) -> None:
        """Takes the result of document `index` of `job`; writes it and those after it that
        came back before it."""
        if job.failure is not None:
            return
        job.waiting[index] = (result, warnings)
        while job.written in job.waiting:
            self._write_next(job, *job.waiting.pop(job.written))

    @staticmethod
    def _emit(job: FileJob, text: str) -> None:
        """Appends `text` to the job's temporary entities file (opened on first use),
        counting its bytes and hashing them."""
        if job.handle is None:
            job.handle = open(job.temporary("entities"), "wb")
        data = text.encode("utf-8")
        job.handle.write(data)
        job.bytes_written += len(data)
        job.digest.update(data)

    def _write_next(self, job: FileJob, result: Result, warnings: List[str]) -> None:
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

    def _finish(self, job: FileJob) -> None:
        if job.handle is None:  # an input without documents gets its (empty) file
            self._emit(job, output_start(job.corpus_file, job.output_format))
        self._emit(job, output_end(job.output_format))
        job.handle.flush()
        os.fsync(job.handle.fileno())
        job.handle.close()
        problem = check_output(job)
        if problem is not None:
            job.failure = f"{job.corpus_file.path}: output check failed: {problem}"
            self._discard(job)
            return
        files = {}
        for kind, lines in (("deleted", job.deleted), ("errors", job.errors)):
            path = job.paths[kind]
            if lines:
                text = "".join(f"{line}\n" for line in lines)
                files[os.path.basename(path)] = write_atomically(path, job.temporary(kind), text)
            elif os.path.exists(path):
                os.remove(path)  # of an earlier run
        os.replace(job.temporary("entities"), job.paths["entities"])
        files[os.path.basename(job.paths["entities"])] = {
            "bytes": job.bytes_written,
            "sha256": job.digest.hexdigest(),
        }
        directory = os.path.dirname(job.paths["entities"]) or "."
        fsync_directory(directory)
        record = {
            "version": RECORD_VERSION,
            "input": job.corpus_file.path,
            "input_bytes": job.input_bytes,
            "output_format": job.output_format,
            "documents": job.documents,
            "files": files,
        }
        path = record_path(job.paths["entities"])
        write_atomically(path, temporary_name(path), json.dumps(record, indent=1) + "\n")
        fsync_directory(directory)
        summary = self.summary
        summary.files_done.append(job.corpus_file.path)
        summary.documents += job.written
        summary.documents_with_errors += job.documents_with_errors
        summary.warnings += job.warnings
        summary.deleted_citations += len(job.deleted)
        summary.entities_by_type.update(job.entities_by_type)
        self.progress.set_postfix(files=len(summary.files_done), refresh=False)
        logger.info("tag-corpus: wrote %s (%d documents)", job.paths["entities"], job.written)

    def _discard(self, job: FileJob) -> None:
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



def write_summary(output_dir: str, summary: CorpusSummary) -> None:
    path = os.path.join(output_dir, "tag-corpus-summary.json")
    write_atomically(path, temporary_name(path), json.dumps(summary.to_json(), indent=2) + "\n")
