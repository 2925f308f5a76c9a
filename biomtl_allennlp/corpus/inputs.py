"""
The inputs of `allennlp tag-corpus`: which files, in which format, named how in the output
folder, and the documents of each file as the `biomedical_entities` predictor takes them.

Formats, by file name (a folder means every such file directly in it, sorted by name):

- PubMed / MEDLINE XML: `*.xml`, `*.xml.gz` (`read_medline`): per citation
  `{"pmid", "title", "abstract"}`; `DeleteCitation` PMIDs are the file's deletions;
- JSON lines: `*.jsonl`, `*.json`, `*.jsonl.gz`: one JSON object per non-blank line, as
  `allennlp predict` takes them (`{"text": ...}` or `{"title", "abstract"}`, with ids);
  lines end at line feeds only (a carriage return inside a line stays in it), and a line
  that is not UTF-8, not valid JSON or not an object is a `BadRecord` naming its line
  (an error output; the other lines are tagged);
- PubTator: `*.pubtator`, `*.pubtator.txt`, `*.PubTator.txt`, `*.txt` (`read_pubtator`;
  annotations in the input are ignored): per document `{"pmid", "title", "abstract"}`;
- BioC (`biomtl_allennlp.documents.bioc_reader`): `*.bioc.xml`, `*.bioc.json`, and `*.xml`,
  `*.xml.gz`, `*.json` files whose content is a BioC XML collection, a BioC JSON
  collection or PubTator3's BioC JSON export (`bioc_format`): per document an
  `PlacedDocument` with its `BioCDocument`, whose passages are tagged one by one.

A document of `read_records` is a `PlacedDocument`: the `Document` to tag (for JSON lines
`Document.from_json` of the line's object; an object that is no document is kept as it is,
with the predictor's message, and gets the predictor's error output) or a BioC document,
with its reader's warnings and its line (JSON lines) beside it, never inside the user's
object.

A file's output name is its name without these endings (`pubmed25n0001.xml.gz` ->
`pubmed25n0001`), so two inputs with the same name in different folders are an error.

Output formats (`output_format_of`): `jsonl`, `pubtator`, `bioc_xml`, `bioc_json`, or
`auto`: BioC inputs in their own BioC format, the others as JSON lines. A BioC input is
written as BioC only (its documents have passages that JSON lines and PubTator cannot
hold); another input written as BioC gets a `title` and an `abstract` passage per
document (`document_from_record`; an object the predictor refuses is an error output
naming its `path:line`, as JSON lines get from the predictor). A BioC output is one collection per input: the input's
source, date, key and infons (for other inputs: the input's file name as source), then
its documents.
"""
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from bioc import BioCDocument

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents import bioc_reader, bioc_writer
from biomtl_allennlp.documents.document import Document, ids_of
from biomtl_allennlp.documents.json_lines import BadRecord, read_json_lines
from biomtl_allennlp.documents.medline_xml import MedlineDeletion, read_medline
from biomtl_allennlp.documents.pubtator import read_pubtator

# (ending, format), longest endings first; matched case-insensitively.
ENDINGS: Tuple[Tuple[str, str], ...] = (
    (".pubtator.txt", "pubtator"),
    (".bioc.json", "bioc_json"),
    (".bioc.xml", "bioc_xml"),
    (".jsonl.gz", "jsonl"),
    (".xml.gz", "medline"),
    (".pubtator", "pubtator"),
    (".jsonl", "jsonl"),
    (".json", "jsonl"),
    (".xml", "medline"),
    (".txt", "pubtator"),
)


@dataclass(frozen=True)
class PlacedDocument:
    """
    A document of an input file, and what `tag-corpus` needs beside it.

    # Parameters

    document : `Document`, optional
        The document to tag (MEDLINE, PubTator, JSON lines).
    bioc_document : `BioCDocument`, optional
        Instead, a document of a BioC input.
    refused : `Dict[str, Any]`, optional
        Instead, an input object that is no document (a JSON-lines input's object as it is,
        whatever its keys), with `refusal`, the message of its error output
        (`Document.from_json`'s, without a place).
    refusal : `str`, optional
    warnings : `Tuple[str, ...]`
        The warnings of its reader (`path:line: message`, e.g. an unresolved XML entity:
        not predictor input, written to the errors file).
    line : `int`, optional
        Its line in a JSON-lines input.
    chars : `int`
        The length of its text as `max_document_chars` counts it (title and abstract each
        with one separator); a BioC document's is its passages'.
    """

    document: Optional[Document] = None
    bioc_document: Optional[BioCDocument] = None
    refused: Optional[Dict[str, Any]] = None
    refusal: Optional[str] = None
    warnings: Tuple[str, ...] = ()
    line: Optional[int] = None
    chars: int = 0

    @classmethod
    def of_json(
        cls, fields: Dict[str, Any], line: Optional[int] = None, warnings: Tuple[str, ...] = ()
    ) -> "PlacedDocument":
        """The `Document.from_json` of a predictor input, or that input `refused` with its
        message."""
        chars = _text_chars(fields)
        try:
            return cls(Document.from_json(fields), warnings=warnings, line=line, chars=chars)
        except InputFormatError as error:
            return cls(refused=fields, refusal=error.message, warnings=warnings, line=line, chars=chars)

    @property
    def ids(self) -> Dict[str, Any]:
        """Its ids, as its outputs echo them (a BioC document's `id`)."""
        if self.bioc_document is not None:
            return {"id": self.bioc_document.id}
        if self.document is not None:
            return self.document.ids
        return ids_of(self.refused or {})


def _text_chars(fields: Dict[str, Any]) -> int:
    """The length of the text the predictor makes of `fields` (0 when it has none)."""
    if isinstance(fields.get("text"), str):
        return len(fields["text"])
    parts = [fields.get(key) for key in ("title", "abstract")]
    return sum(len(part) + 1 for part in parts if isinstance(part, str))


@dataclass(frozen=True)
class BiocRecord:
    """A document on its way to a worker for a BioC output: the `document` (tagged passage
    by passage) and the BioC format it is written in (`output_format`)."""

    document: BioCDocument
    output_format: str


# A document, the PMIDs of a deletion, or a bad line.
Record = Union[PlacedDocument, List[str], BadRecord]

OUTPUT_FORMATS = ("auto", "jsonl", "pubtator") + bioc_reader.BIOC_FORMATS
# The file name ending of each output format's entities file.
_OUTPUT_ENDINGS = {"jsonl": "jsonl", "pubtator": "pubtator", "bioc_xml": "bioc.xml", "bioc_json": "bioc.json"}


@dataclass(frozen=True)
class CorpusFile:
    """One input file: its `path`, its `format` (`medline`, `jsonl`, `pubtator`) and
    `stem`, the name of its outputs."""

    path: str
    format: str
    stem: str


def input_format(path: str) -> Tuple[str, str]:
    """`(format, stem)` of an input file name; `InputFormatError` for an unknown ending."""
    name = os.path.basename(path)
    lowered = name.lower()
    for ending, format_ in ENDINGS:
        if lowered.endswith(ending) and len(name) > len(ending):
            if ending in (".xml", ".xml.gz", ".json"):  # MEDLINE XML / JSON lines, or BioC
                format_ = bioc_reader.bioc_format(path) or format_
            return format_, name[: -len(ending)]
    known = ", ".join(ending for ending, _ in ENDINGS)
    raise InputFormatError(f"unknown input type (expected a name ending in {known})", path)


def collect_inputs(paths: Sequence[str]) -> List[CorpusFile]:
    """
    The input files of `paths` (files, or folders: every file of a known type directly in
    them, sorted by name), in order, each once. Raises `InputFormatError` for a missing
    path, a file of unknown type, a folder without inputs, or two inputs with the same
    output name.
    """
    files: List[CorpusFile] = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if os.path.isfile(full) and not name.startswith("."):
                    try:
                        found.append(CorpusFile(full, *input_format(full)))
                    except InputFormatError:
                        continue  # other files in the folder (READMEs, checksums, ...)
            if not found:
                raise InputFormatError(
                    "folder without input files (.xml[.gz], .jsonl, .pubtator, .bioc.xml, .bioc.json)", path
                )
            files.extend(found)
        elif os.path.isfile(path):
            files.append(CorpusFile(path, *input_format(path)))
        else:
            raise InputFormatError("file not found", path)
    by_stem: Dict[str, str] = {}
    unique: List[CorpusFile] = []
    seen = set()
    for corpus_file in files:
        real = os.path.realpath(corpus_file.path)
        if real in seen:
            continue
        seen.add(real)
        if corpus_file.stem in by_stem:
            raise InputFormatError(
                f"has the same output name {corpus_file.stem!r} as {by_stem[corpus_file.stem]}",
                corpus_file.path,
            )
        by_stem[corpus_file.stem] = corpus_file.path
        unique.append(corpus_file)
    return unique


def read_records(corpus_file: CorpusFile) -> Iterator[Record]:
    """
    The records of one input file, in file order: a `PlacedDocument` per document, a list of PMIDs per
    `DeleteCitation`, a `BadRecord` per bad JSON line. A bad file (XML that is not well
    formed, a truncated gzip file, ...) raises `InputFormatError` naming the file and line.
    """
    if corpus_file.format == "medline":
        for record in read_medline(corpus_file.path):
            if isinstance(record, MedlineDeletion):
                yield record.pmids
            else:
                yield PlacedDocument.of_json(record.to_json(), warnings=tuple(record.warnings))
    elif corpus_file.format == "pubtator":
        for document in read_pubtator(corpus_file.path, strict=False):
            yield PlacedDocument.of_json(document.to_json())
    elif corpus_file.format in bioc_reader.BIOC_FORMATS:
        for document in bioc_reader.read_bioc(corpus_file.path, corpus_file.format):
            chars = sum(len(passage.text or "") for passage in document.passages)
            yield PlacedDocument(bioc_document=document, chars=chars)
    else:
        yield from _read_jsonl(corpus_file.path)


def _read_jsonl(path: str) -> Iterator[Union[PlacedDocument, BadRecord]]:
    for item in read_json_lines(path):
        yield item if isinstance(item, BadRecord) else PlacedDocument.of_json(item[1], line=item[0])


def output_format_of(corpus_file: CorpusFile, output_format: str) -> str:
    """The format `corpus_file` is written in with `output_format` (see the module
    docstring); `InputFormatError` for a BioC input with `jsonl` or `pubtator`."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    is_bioc = corpus_file.format in bioc_reader.BIOC_FORMATS
    if output_format == "auto":
        return corpus_file.format if is_bioc else "jsonl"
    if is_bioc and output_format not in bioc_reader.BIOC_FORMATS:
        raise InputFormatError(
            f"a BioC input is written as BioC (--output-format auto, bioc_xml or bioc_json), "
            f"not {output_format}",
            corpus_file.path,
        )
    return output_format


def output_record(document: PlacedDocument, output_format: str) -> Union[Document, BiocRecord]:
    """
    A document of `read_records` as the tagger takes it for `output_format` (an input's
    resolved format): the predictor's input (the `Document`), or for BioC outputs a
    `BiocRecord`, other inputs' documents made BioC documents (`document_from_record`).

    Raises `InputFormatError` (the predictor's message, without a place: for a BioC output
    the caller names the input's `path:line`) for an object the predictor refuses
    (missing keys, a non-string text, empty text).
    """
    if document.bioc_document is not None:
        assert output_format in bioc_reader.BIOC_FORMATS, "a BioC input is written as BioC"
        return BiocRecord(document.bioc_document, output_format)
    if document.document is None:
        raise InputFormatError(document.refusal or "not a document")
    if output_format not in bioc_reader.BIOC_FORMATS:
        return document.document
    return BiocRecord(bioc_writer.document_from_record(document.document), output_format)


def output_start(corpus_file: CorpusFile, output_format: str) -> str:
    """The text of an entities file before its first document (a BioC collection's
    information; nothing for the other formats)."""
    if output_format not in bioc_reader.BIOC_FORMATS:
        return ""
    if corpus_file.format in bioc_reader.BIOC_FORMATS:
        info = bioc_reader.read_collection_info(corpus_file.path, corpus_file.format)
    else:
        info = bioc_reader.bioc.BioCCollection()
        info.source = os.path.basename(corpus_file.path)
    return bioc_writer.collection_start(info, output_format)


def output_separator(output_format: str) -> str:
    """The text between two documents of an entities file."""
    return bioc_writer.DOCUMENT_SEPARATOR.get(output_format, "")


def output_end(output_format: str) -> str:
    """The text of an entities file after its last document."""
    if output_format not in bioc_reader.BIOC_FORMATS:
        return ""
    return bioc_writer.collection_end(output_format)


def output_names(stem: str, output_format: str) -> Dict[str, str]:
    """The file names of one input's outputs: `entities` (`<stem>.jsonl`,
    `<stem>.pubtator`, `<stem>.bioc.xml` or `<stem>.bioc.json`), `deleted` (the PMIDs of its `DeleteCitation`s, one per line, when
    it has any) and `errors` (documents that could not be tagged, as JSON lines, when there
    are any; with JSON output they are also in `entities`, as `allennlp predict` writes
    them)."""
    return {
        "entities": f"{stem}.{_OUTPUT_ENDINGS[output_format]}",
        "deleted": f"{stem}.deleted.txt",
        "errors": f"{stem}.errors.jsonl",
    }
