"""
Reading and writing the PubTator format: raw titles and abstracts with character-offset
entity annotations (BioCreative V CDR, NCBI disease corpus, PubTator exports).

    PMID|t|Title text
    PMID|a|Abstract text
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>id[<TAB>more...]]
    PMID<TAB>CID<TAB>chemical_id<TAB>disease_id          (relation line, 4 columns)
    <blank line between documents>

Offsets are into `title + " " + abstract`.

The one PubTator module of the project: `read_pubtator` (strict, streaming: documents are
yielded as they are read), `write_pubtator` / `format_pubtator`, the predictor's output as
PubTator (`format_output`), and the line rules that `documents.lines` applies to input
lines one at a time (`parse_text_line`, `is_annotation_line`, `looks_like_pubtator`) and
`format_output` to its output (`clean_field`, `clean_pmid`). Bad input raises `InputFormatError` (`path:line: message`).
"""
import io
import logging
import os
import re
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.data.text_lines import open_lines, without_byte_order_mark
from biomtl_allennlp.documents.document import Document, first_id
from biomtl_allennlp.documents.entity import Entity

logger = logging.getLogger(__name__)

_TEXT_LINE_RE = re.compile(r"([^\t|]+)\|([ta])\|(.*)", re.DOTALL)
# A mention or relation line, loosely: a PMID column, then a tab.
_ANNOTATION_LINE_RE = re.compile(r"[^\t|]+\t")
# What makes a line PubTator when the format is not declared: a numeric PMID before `|t|` /
# `|a|`, or (once PubTator lines were seen) before a tab.
_NUMERIC_TEXT_LINE_RE = re.compile(r"\d+\|[ta]\|")
_NUMERIC_ANNOTATION_LINE_RE = re.compile(r"\d+\t")
# Characters that would break a PubTator line (replaced one for one by a space on output).
_UNSAFE_RE = re.compile("[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

PathOrLines = Union[str, "os.PathLike[str]", Iterable[str]]


def parse_text_line(line: str) -> Optional[Tuple[str, str, str]]:
    """`(pmid, "t" or "a", text)` for a `PMID|t|title` / `PMID|a|abstract` line (without
    its line end), else `None`."""
    match = _TEXT_LINE_RE.match(line)
    return None if match is None else match.group(1, 2, 3)


def is_annotation_line(line: str) -> bool:
    """Whether `line` starts like a mention or relation line (a PMID column, then a tab)."""
    return _ANNOTATION_LINE_RE.match(line) is not None


def looks_like_pubtator(line: str, after_pubtator_lines: bool = False) -> bool:
    """
    Whether an input line of undeclared format is PubTator: `<digits>|t|` or `<digits>|a|`,
    or, when `after_pubtator_lines`, `<digits><TAB>` (a mention line; before any PubTator
    line such a line is taken for plain text).
    """
    if _NUMERIC_TEXT_LINE_RE.match(line):
        return True
    return after_pubtator_lines and _NUMERIC_ANNOTATION_LINE_RE.match(line) is not None


def clean_field(value: str) -> str:
    """`value` safe in a PubTator column: tabs, line breaks and other line separators become
    spaces (one for one, so offsets stay right), lone surrogates U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", _UNSAFE_RE.sub(" ", value))


def clean_pmid(value: str) -> str:
    """`value` as a PMID column: `clean_field`, then `|` -> `/` and spaces -> `_`."""
    return clean_field(value).replace("|", "/").replace(" ", "_")


class _DocumentBuilder:
    def __init__(self, pmid: str, title: str, line_number: int) -> None:
        self.pmid = pmid
        self.title = title
        self.abstract = ""
        self.line_number = line_number
        # (line number, columns) of each mention line, checked once the text is complete.
        self.mention_lines: List[Tuple[int, List[str]]] = []
        self.relations: List[Tuple[str, ...]] = []


def read_pubtator(
    source: PathOrLines, strict: bool = True, problems: Optional[List[str]] = None
) -> Iterator[Document]:
    """
    Reads PubTator documents from a file path (or URL) or an iterable of lines (e.g. an
    open file or a list of strings; `\\r\\n` line ends are accepted; a byte-order mark at
    the start of the first line is removed). Documents are yielded as they are read.

    Malformed input raises an `InputFormatError` (a `ValueError`) whose message starts
    with the file (or `<lines>`) and the 1-based line number: `path:line: message`. With
    `strict=True` (the default) this includes every bad mention line: a PMID differing from
    the current document's, non-integer offsets, offsets outside the text, or
    `text[start:end] != mention` (a mention column that only differs by surrounding
    whitespace is accepted, and the annotation text is then taken from the document). With
    `strict=False` such mentions are skipped instead, logged as warnings and their messages
    appended to `problems` (if given). Structural errors (an abstract or mention line before any
    title, an abstract for another PMID, an unrecognised line) always raise.

    # Parameters

    source : `Union[str, os.PathLike, Iterable[str]]`
        A path to a PubTator file, or its lines.
    strict : `bool`, optional (default = `True`)
        Whether bad mention lines raise (`True`) or are skipped and reported (`False`).
    problems : `List[str]`, optional (default = `None`)
        With `strict=False`, a list that receives one message per skipped mention.
    """
    if isinstance(source, (str, os.PathLike)):
        # Lines end at "\n" only: a lone "\r" inside a title or abstract stays there.
        name, lines = os.fspath(source), open_lines(source, newline="\n")
    else:
        name, lines = str(getattr(source, "name", "<lines>")), without_byte_order_mark(source)
    yield from _read(name, lines, strict, problems)


def _read(
    name: str, lines: Iterable[str], strict: bool, problems: Optional[List[str]]
) -> Iterator[Document]:
    current: Optional[_DocumentBuilder] = None

    def fail(line_number: int, message: str) -> InputFormatError:
        return InputFormatError(message, name, line_number)

    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip("\n").rstrip("\r")
        if not line.strip():
            if current is not None:
                yield _finish(current, name, strict, problems)
                current = None
            continue
        text_line = parse_text_line(line)
        if text_line is not None:
            pmid, kind, content = text_line
            if kind == "t":
                if current is not None:  # a new document without a blank line before it
                    yield _finish(current, name, strict, problems)
                current = _DocumentBuilder(pmid, content, line_number)
            else:
                if current is None:
                    raise fail(line_number, f"abstract of PMID {pmid} before its title line")
                if pmid != current.pmid:
                    raise fail(
                        line_number,
                        f"abstract of PMID {pmid} inside document PMID {current.pmid}",
                    )
                current.abstract = content
            continue
        if "\t" not in line:
            raise fail(
                line_number,
                f"expected 'PMID|t|title', 'PMID|a|abstract' or a tab-separated "
                f"annotation line: {line!r}",
            )
        columns = line.split("\t")
        if current is None:
            raise fail(line_number, f"annotation line before any title line: {line!r}")
        if len(columns) == 4:
            if columns[0] != current.pmid:
                _problem(
                    fail(line_number, f"relation of PMID {columns[0]} inside document PMID "
                         f"{current.pmid}"), strict, problems,
                )
                continue
            current.relations.append(tuple(columns[1:]))
            continue
        if len(columns) < 5:
            raise fail(
                line_number,
                f"expected 'PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>id]' or a "
                f"4-column relation line, got {len(columns)} columns: {line!r}",
            )
        current.mention_lines.append((line_number, columns))
    if current is not None:
        yield _finish(current, name, strict, problems)


def _problem(error: InputFormatError, strict: bool, problems: Optional[List[str]]) -> None:
    if strict:
        raise error
    logger.warning("Skipping annotation: %s", error)
    if problems is not None:
        problems.append(str(error))


def _finish(
    builder: _DocumentBuilder, name: str, strict: bool, problems: Optional[List[str]]
) -> Document:
    document = Document.from_parts(
        builder.title, builder.abstract, {"pmid": builder.pmid}, relations=builder.relations
    )
    text = document.text
    for line_number, columns in builder.mention_lines:
        pmid, start_str, end_str, mention, entity_type = columns[:5]

        def fail(message: str, line_number: int = line_number) -> InputFormatError:
            return InputFormatError(message, name, line_number)

        if pmid != builder.pmid:
            _problem(fail(f"mention of PMID {pmid} inside document PMID {builder.pmid}"),
                     strict, problems)
            continue
        try:
            start, end = int(start_str), int(end_str)
        except ValueError:
            _problem(fail(f"offsets must be integers, got {start_str!r} and {end_str!r}"),
                     strict, problems)
            continue
        if not 0 <= start <= end <= len(text):
            _problem(
                fail(f"offsets {start}-{end} outside the text of PMID {pmid} "
                     f"({len(text)} characters)"),
                strict, problems,
            )
            continue
        if text[start:end] != mention and text[start:end] != mention.strip():
            # (A mention column padded with whitespace, as on line 3249 of the NCBI disease
            # training file, is accepted: its offsets are right.)
            _problem(
                fail(f"mention {mention!r} does not match the text at {start}-{end} "
                     f"of PMID {pmid}: {text[start:end]!r}"),
                strict, problems,
            )
            continue
        document.entities.append(
            Entity(
                start=start,
                end=end,
                text=text[start:end],
                type=entity_type,
                concept_id=columns[5] if len(columns) > 5 else None,
                extra_columns=tuple(columns[6:]),
            )
        )
    return document


def format_pubtator(document: Document, text_lines: bool = True) -> str:
    """
    The PubTator lines of one document (each ending with a newline, no blank line). Fields
    are written as they are (see `clean_field` for text that may hold tabs or line breaks).

    # Parameters

    document : `Document`
        With its `pmid` id, its `title` and `abstract` (written as they are) and its
        entities (their `concept_id` and `extra_columns` too) and relations.
    text_lines : `bool`, optional (default = `True`)
        Write the `|t|` and `|a|` lines (`False`: mention and relation lines only, for a
        document that has no title and abstract).
    """
    out = io.StringIO()
    if text_lines:
        out.write(f"{document.pmid}|t|{document.title}\n")
        out.write(f"{document.pmid}|a|{document.abstract}\n")
    for entity in document.entities:
        columns = [
            document.pmid,
            str(entity.start),
            str(entity.end),
            entity.text,
            entity.type,
        ]
        if entity.concept_id is not None or entity.extra_columns:
            columns.append(entity.concept_id or "")
        columns.extend(entity.extra_columns)
        out.write("\t".join(columns) + "\n")
    for relation in document.relations:
        out.write("\t".join((document.pmid,) + tuple(relation)) + "\n")
    return out.getvalue()


def write_pubtator(
    documents: Iterable[Document], file: Union[str, "os.PathLike[str]", IO[str]]
) -> None:
    """
    Writes documents in the PubTator format (a blank line after each document) to a path
    or an open text file; `read_pubtator` reads them back unchanged.
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", encoding="utf-8", newline="\n") as handle:
            write_pubtator(documents, handle)
        return
    for document in documents:
        file.write(format_pubtator(document))
        file.write("\n")


def format_output(outputs: Dict[str, Any]) -> str:
    """
    The PubTator lines of one output of the `biomedical_entities` predictor and a blank
    line (a document without title and entities gives two blank lines, so each has its
    block): the `|t|` and `|a|` lines of documents that had a title, then a mention line
    per entity. The PMID column is the first id of `ID_KEYS` present, else `-`. Fields are
    cleaned with `clean_field` / `clean_pmid`.
    """
    entities = [Entity.from_json(entity) for entity in outputs["entities"]]
    document = Document.from_parts(
        clean_field(outputs.get("title") or ""),
        clean_field(outputs.get("abstract") or ""),
        {"pmid": clean_pmid(first_id(outputs))},
        entities=[Entity(e.start, e.end, clean_field(e.text), clean_field(e.type)) for e in entities],
    )
    return (format_pubtator(document, text_lines="title" in outputs) or "\n") + "\n"
