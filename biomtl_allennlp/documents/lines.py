"""
Reading documents one input line at a time, as `allennlp predict` and `allennlp tag-file`
give them to the `biomedical_entities` predictor (`LineReader`), and the error outputs of
inputs that are no document.

A line is read as (`input_format`):

- JSON: a document object (`{"text": ...}` or `{"title", "abstract"}`, with ids; see
  `Document.from_json`); a line that is not valid JSON or not an object is an error;
- PubTator (`PMID|t|title`, `PMID|a|abstract`; mention and relation lines are ignored):
  the `|t|` line is kept and the document is complete at its `|a|` line (lines that
  complete no document give no document). A title whose `|a|` line is missing is a
  document alone when the next `|t|` or mention line arrives, or at the end of the input
  when the reader asks for it (`flush`);
- plain text: one document per line (the line without its line break).

`"auto"`: a line starting with `{`, or `[` and a JSON value (`[{`, `[1`, not `[Treatment of
...]`), or that is a whole JSON value (a string, number, `true`, `false`, `null`), is JSON
(and an error line unless it is an object), one matching `^\\d+\\|[ta]\\|` is PubTator (and,
after one, lines matching `^\\d+\\t` are its mention lines, ignored), anything else is
plain text.

What a line gives is an `InputLine`: the document's JSON object, with the line it was read
from beside it (never inside the user's object), or for a line that gives no document its
error or nothing.
"""
import json
import logging
from typing import Any, Mapping, Optional, Tuple

from allennlp.common.util import JsonDict, sanitize

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.json_lines import decode_line, parse_json_object
from biomtl_allennlp.documents.pubtator import is_annotation_line, looks_like_pubtator, parse_text_line
from biomtl_allennlp.data.text_lines import strip_byte_order_mark

logger = logging.getLogger(__name__)

INPUT_FORMATS = ("auto", "json", "pubtator", "text")
# The longest input line echoed in an error output.
MAX_ECHOED_LINE = 1000
# The whitespace of JSON (RFC 8259): space, tab, line feed, carriage return.
_JSON_WHITESPACE = " \t\n\r"


class InputLine(dict):
    """
    A predictor input read from one line: the document's JSON object (this dict, as the
    line has it), and beside it `line`, the line it was read from (echoed in an error
    output). A line that gives no document is an empty `InputLine` with `error` (and the
    `ids` known) or with `skip` (a line that completes no document: no output).
    """

    def __init__(
        self,
        fields: Optional[Mapping[str, Any]] = None,
        line: Optional[str] = None,
        error: Optional[str] = None,
        ids: Optional[Mapping[str, Any]] = None,
        skip: bool = False,
    ) -> None:
        super().__init__(fields or {})
        self.line = line
        self.error = error
        self.ids = dict(ids or {})
        self.skip = skip


def error_output(message: str, ids: Optional[Mapping[str, Any]] = None, line: Optional[str] = None) -> JsonDict:
    """The output of an input that is not tagged: `{**ids, "error": message, "line": line}`
    (the line cut after `MAX_ECHOED_LINE` characters)."""
    output: JsonDict = dict(sanitize(dict(ids or {})))
    output["error"] = message
    if line is not None:
        output["line"] = line if len(line) <= MAX_ECHOED_LINE else line[:MAX_ECHOED_LINE] + "..."
    return output


def describe(value: Any) -> str:
    """A short JSON rendering of a bad input for its error output."""
    try:
        return json.dumps(sanitize(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class LineReader:
    """
    Reads the lines of one input, in order (see the module docstring).

    # Parameters

    input_format : `str`, optional (default = `"auto"`)
        One of `INPUT_FORMATS`.
    """

    def __init__(self, input_format: str = "auto") -> None:
        self.input_format = input_format
        self._pending_title: Optional[Tuple[str, str, str]] = None  # (pmid, title, line)
        self._seen_pubtator = False
        # Whether no line has been read yet (it may start with a byte-order mark).
        self._at_first_line = True

    def read_line(self, line: str) -> InputLine:
        """
        Reads one non-blank input line. A byte-order mark starting the first line is
        removed (a line left blank by that gives no document).
        """
        if self._at_first_line:
            self._at_first_line = False
            line = strip_byte_order_mark(line)
            if not line.strip():
                return InputLine(skip=True)
        raw = line[:-1] if line.endswith("\n") else line
        raw = raw[:-1] if raw.endswith("\r") else raw
        kind = self.input_format
        if kind == "auto":
            if _looks_like_json_container(raw):
                kind = "json"
            elif looks_like_pubtator(raw, after_pubtator_lines=self._seen_pubtator):
                kind = "pubtator"
            elif _is_json_scalar(raw):
                kind = "json"
            else:
                kind = "text"
        if kind == "json":
            self._drop_pending_title()
            try:
                return InputLine(parse_json_object(raw), line=raw)
            except InputFormatError as error:
                return InputLine(line=raw, error=error.message)
        if kind == "pubtator":
            return self._read_pubtator_line(raw)
        self._drop_pending_title()
        return InputLine({"text": raw}, line=raw)

    def read_bytes(self, data: bytes) -> InputLine:
        """
        `read_line` for a line read as bytes. A line that is not valid UTF-8 is an error
        naming the first bad byte, with the line shown with that byte escaped (`\\xe4`).
        """
        try:
            line = decode_line(data)
        except InputFormatError as error:
            self._at_first_line = False
            self._drop_pending_title()
            shown = data.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
            return InputLine(line=shown, error=error.message)
        return self.read_line(line)

    def flush(self) -> Optional[InputLine]:
        """
        At the end of the input: the pending PubTator title (a `|t|` line whose `|a|` line
        never came) as a document of its own, or `None` when there is none (`read_line`
        cannot know that a title is the last line).
        """
        if self._pending_title is None:
            return None
        pmid, title, line = self._pending_title
        self._pending_title = None
        return InputLine({"pmid": pmid, "title": title, "abstract": ""}, line=line)

    def _drop_pending_title(self) -> None:
        if self._pending_title is not None:
            logger.warning(
                "PubTator document %s: title line without an abstract line before a "
                "non-PubTator line; not predicted",
                self._pending_title[0],
            )
            self._pending_title = None

    def _read_pubtator_line(self, raw: str) -> InputLine:
        self._seen_pubtator = True
        text_line = parse_text_line(raw)
        if text_line is None:
            flushed = self.flush()
            if is_annotation_line(raw):
                return flushed or InputLine(skip=True)
            error = "expected 'PMID|t|title', 'PMID|a|abstract' or a tab-separated PubTator annotation line"
            return flushed or InputLine(line=raw, error=error)
        pmid, kind, content = text_line
        if kind == "t":
            flushed = self.flush()
            self._pending_title = (pmid, content, raw)
            return flushed or InputLine(skip=True)
        pending = self._pending_title
        if pending is None or pending[0] != pmid:
            message = (
                f"abstract line of PMID {pmid} without its title line"
                if pending is None
                else f"abstract line of PMID {pmid} after the title line of PMID {pending[0]}"
            )
            self._pending_title = None
            return InputLine(line=raw, error=message, ids={"pmid": pmid})
        self._pending_title = None
        return InputLine({"pmid": pmid, "title": pending[1], "abstract": content}, line=raw)


def _looks_like_json_container(line: str) -> bool:
    """Whether `line` starts a JSON object or array: `{`, or `[` followed by what can start
    a JSON value (`[{`, `[1`, `["`, `[]`, ...). A bracketed plain-text start such as
    PubMed's translated titles (`[Treatment of hypertension in the elderly].`) is text."""
    stripped = line.lstrip(_JSON_WHITESPACE)
    if stripped.startswith("{"):
        return True
    if not stripped.startswith("["):
        return False
    rest = stripped[1:].lstrip(_JSON_WHITESPACE)
    return not rest or rest[0] in '{["]-0123456789' or rest.startswith(("true", "false", "null"))


def _is_json_scalar(line: str) -> bool:
    """Whether `line` is one JSON string, number, `true`, `false` or `null` (a JSON value
    that is not an object: an error line, not plain text)."""
    stripped = line.strip(_JSON_WHITESPACE)
    if not stripped or stripped[0] not in '"-0123456789tfn':
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True
