"""
Opening input files line by line, the same way for every reader of the project (corpus and
dictionary TSV files, PubTator files, BioCreative eval files): through allennlp's
`cached_path` (so paths and URLs work), as UTF-8, with a leading UTF-8 byte-order mark
removed, and with an `InputFormatError` naming the file when it cannot be opened.
"""
import os
from typing import Iterable, Iterator, Optional, Union

from allennlp.common.file_utils import cached_path

from biomtl_allennlp.common.errors import InputFormatError

BYTE_ORDER_MARK = "\ufeff"

PathLike = Union[str, "os.PathLike[str]"]


def strip_byte_order_mark(line: str) -> str:
    """`line` without a leading U+FEFF (how a UTF-8 byte-order mark reads in `str`)."""
    return line[1:] if line.startswith(BYTE_ORDER_MARK) else line


def without_byte_order_mark(lines: Iterable[str]) -> Iterator[str]:
    """`lines` with a byte-order mark removed from the start of the first one only."""
    iterator = iter(lines)
    for first in iterator:
        yield strip_byte_order_mark(first)
        break
    yield from iterator


def open_lines(path: PathLike, newline: Optional[str] = None) -> Iterator[str]:
    """
    Yields the lines of `path` (a local path or URL), line ends included, without a leading
    byte-order mark. The file is opened on the first `next()` and closed at the end.

    # Parameters

    path : `str` or `os.PathLike`
    newline : `str`, optional (default = `None`)
        As for `open`: `None` reads `\\n`, `\\r\\n` and `\\r` as line ends; `"\\n"` ends
        lines at `\\n` only (a lone `\\r` stays inside its line).

    Raises `InputFormatError` (`"<path>: file not found"`, `"<path>: cannot be read (...)"`).
    """
    name = os.fspath(path)
    try:
        local = cached_path(name)
    except FileNotFoundError:
        raise InputFormatError("file not found", name) from None
    except Exception as error:  # network errors, HTTP 404, ...
        raise InputFormatError(f"cannot be read ({error})", name) from error
    try:
        handle = open(local, encoding="utf-8", newline=newline)
    except OSError as error:  # a folder, no permission, ...
        raise InputFormatError(f"cannot be read ({error})", name) from error
    with handle:
        yield from without_byte_order_mark(handle)
