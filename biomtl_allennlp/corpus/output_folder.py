"""
The output folder of `allennlp tag-corpus`, and what makes a run safe to kill and rerun:

- **One run per output folder**: a run holds an exclusive lock (`fcntl.flock`) on
  `DIR/.tag-corpus.lock` while it runs; a second run on the same folder stops at once
  with an error naming the holder's pid and host (`OutputFolderLockedError`). Temporary
  files are `.<name>.<pid>.partial`; those a killed run left are removed at the start.
- **Completion records**: once an input's entities file is checked and renamed into place,
  its record `DIR/.<entities file>.complete` is written (the input's size, the documents,
  the size and SHA-256 of each output file); `completion_problem` says whether an input's
  outputs still match it.
"""
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import time
from typing import Any, Dict, Iterator, Optional

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import CorpusFile

logger = logging.getLogger(__name__)

LOCK_NAME = ".tag-corpus.lock"
# The version of the completion records (`.<entities file>.complete`).
RECORD_VERSION = 1
_HASH_CHUNK = 1 << 20


class OutputFolderLockedError(InputFormatError):
    """Another `tag-corpus` run holds the output folder's lock."""



def temporary_name(path: str) -> str:
    """`DIR/.<name>.<pid>.partial`: the temporary name of `path`, unique per process."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{os.getpid()}.partial")


def write_atomically(path: str, temporary: str, text: str) -> Dict[str, Any]:
    """Writes `text` to `temporary`, syncs it and renames it to `path`; returns its
    `{"bytes", "sha256"}`."""
    data = text.encode("utf-8")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_digest(path: str) -> Dict[str, Any]:
    """`{"bytes", "sha256"}` of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


def fsync_directory(directory: str) -> None:
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
    if record.get("version") != RECORD_VERSION or record.get("output_format") != output_format:
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
            found = file_digest(os.path.join(directory, name))
        except OSError:
            return f"{name} is missing"
        expected = files[name]
        if found != {"bytes": expected.get("bytes"), "sha256": expected.get("sha256")}:
            return (
                f"{name} is not what was written ({found['bytes']} bytes, written "
                f"{expected.get('bytes')}, or other content): corrupt or changed"
            )
    return None



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
