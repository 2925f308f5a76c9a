"""
JSON-lines files of documents, read as bytes (`allennlp tag-file`, `allennlp tag-corpus`):
lines end at line feeds only (a carriage return inside a line stays in it), blank lines
are skipped, `.gz` files are read through gzip, and a file that cannot be opened or read
to its end (a truncated gzip file) is an `InputFormatError` naming it and the line.
`format_json_line` writes one output as `allennlp predict` does, and `read_outputs` reads
such outputs back (`allennlp visualize`).
"""
import gzip
import json
import sys
import zlib
from dataclasses import dataclass
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError

_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BadRecord:
    """A line of an input that is no document: `message` (`path:line: what is wrong`) and
    the `line` itself (bytes that are not UTF-8 shown escaped)."""

    message: str
    line: Optional[str] = None


def open_binary(path: str) -> IO[bytes]:
    """`path` opened for reading bytes (`"-"`: stdin; a name ending in `.gz`: through
    gzip); `InputFormatError` (`"<path>: cannot be read (...)"`) when it cannot be."""
    try:
        if path == "-":
            return sys.stdin.buffer
        if path.lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as error:
        raise InputFormatError(f"cannot be read ({error})", path) from error


def read_byte_lines(path: str) -> Iterator[Tuple[int, bytes]]:
    """
    `(line number, line)` of the non-blank lines of `path` (see `open_binary`), line ends
    included. A read error (a truncated gzip file, ...) raises `InputFormatError` naming
    the line where it happened.
    """
    with open_binary(path) as handle:
        number = 0
        while True:
            try:
                data = handle.readline()
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                raise InputFormatError(f"cannot be read ({error})", path, number + 1) from error
            if not data:
                break
            number += 1
            if data.strip():
                yield number, data


def decode_line(data: bytes) -> str:
    """
    One input line read as bytes, decoded. A line that is not valid UTF-8 raises
    `InputFormatError` (without a place) naming the first bad byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFormatError(
            f"not valid UTF-8: byte 0x{data[error.start]:02x} at byte {error.start + 1} "
            "of the line (the file must be UTF-8)"
        ) from None


def parse_json_object(line: str) -> Dict[str, Any]:
    """
    The JSON object of one input line (`allennlp predict`, `tag-file`, `tag-corpus`): a line
    that is not valid JSON (`invalid JSON: ...`) or whose value is not an object
    (`expected a JSON object, got list`) raises `InputFormatError` (without a place).
    """
    try:
        value = json.loads(line)
    except ValueError as error:
        raise InputFormatError(f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InputFormatError(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_json_lines(path: str) -> Iterator[Union[Tuple[int, Dict[str, Any]], BadRecord]]:
    """
    `(line number, object)` per JSON object line of `path`, or a `BadRecord` for a line
    that is not UTF-8, not valid JSON or not an object (`decode_line`, `parse_json_object`;
    the other lines are read on). A UTF-8 byte-order mark at the start of the file is
    removed.
    """
    for number, data in read_byte_lines(path):
        if number == 1 and data.startswith(_BYTE_ORDER_MARK):
            data = data[len(_BYTE_ORDER_MARK) :]
            if not data.strip():
                continue
        data = data[:-1] if data.endswith(b"\n") else data
        data = data[:-1] if data.endswith(b"\r") else data
        try:
            line = decode_line(data)
        except InputFormatError as error:
            shown = data.decode("utf-8", errors="backslashreplace")
            yield BadRecord(str(InputFormatError(error.message, path, number)), shown)
            continue
        try:
            value = parse_json_object(line)
        except InputFormatError as error:
            yield BadRecord(str(InputFormatError(error.message, path, number)), line)
            continue
        yield number, value


def format_json_line(output: Dict[str, Any]) -> str:
    """One output as a JSON line (non-ASCII characters escaped as `\\uXXXX`)."""
    return json.dumps(output) + "\n"


def read_outputs(lines: Iterable[str]) -> Tuple[List[Dict[str, Any]], int]:
    """The outputs of the `biomedical_entities` predictor in JSON lines (`allennlp predict`'s
    output), those with `text` and `entities`; returns them and the number of other lines
    (error outputs, lines that are not JSON objects), which are skipped."""
    documents, skipped = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("text"), str)
            or not isinstance(value.get("entities"), list)
        ):
            skipped += 1
            continue
        documents.append(value)
    return documents, skipped
