"""
Reading BioC collections (XML and JSON) with the `bioc` package; writing them, and putting
predicted entities into them as annotations, is `bioc_writer`.

BioC (NCBI's PubTator3, the BioCreative tasks, PMC's BioC service) holds documents of
passages (title, abstract, full-text sections), each with its `offset` in the document, its
`text` and its annotations, whose locations are document offsets, so
`passage.text[location.offset - passage.offset :][: location.length]` is the annotated
text. Offsets count characters (Unicode code points), as the `bioc` package does.

Formats read (`read_bioc`, streaming for XML; `bioc_format` tells them from other files
by their content):

- `bioc_xml`: a `<collection>` (`.xml`, or gzip-compressed `.xml.gz`);
- `bioc_json`: a BioC JSON collection `{"source", "date", "key", "infons", "documents"}`,
  PubTator3's export `{"PubTator3": [documents]}`, a JSON array of documents, or JSON
  lines with one document per line (PubTator Central's old export). Missing optional
  keys (`infons`, `annotations`, `relations`, `sentences`) are taken as empty.

A passage without text is kept as it is (its `text` is `""`). Bad input raises
`InputFormatError` naming the file, and the line (XML, JSON syntax) or the document.
"""
import gzip
import json
import logging
import os
import re
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import bioc
from bioc import biocjson, biocxml
from lxml import etree

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.entity import ID_KEYS

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from biomtl_allennlp.documents.document import Document

PathLike = Union[str, "os.PathLike[str]"]

BIOC_FORMATS = ("bioc_xml", "bioc_json")

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16

# The first element of an XML file (after the declaration, comments, a DOCTYPE).
_FIRST_ELEMENT_RE = re.compile(rb"<(?![?!])([A-Za-z_][\w.:-]*)")
# A key only BioC JSON has: a collection's documents, PubTator3's export, a document's
# passages (not inside a string: the quote is not escaped).
_BIOC_JSON_KEY_RE = re.compile(r'(?<!\\)"(documents|PubTator3|passages)"\s*:\s*[\[{]')



# ---------------------------------------------------------------------- telling formats


def _open_binary(path: PathLike) -> IO[bytes]:
    name = os.fspath(path)
    try:
        handle = open(name, "rb")
    except FileNotFoundError:
        raise InputFormatError("file not found", name) from None
    except OSError as error:
        raise InputFormatError(f"cannot be read ({error})", name) from error
    if handle.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def bioc_format(path: PathLike) -> Optional[str]:
    """
    `"bioc_xml"` for an XML file whose root element is `<collection>`; `"bioc_json"` for a
    JSON file whose first line is a BioC collection (an object with `documents`),
    PubTator3's export (`PubTator3`), a BioC document (`passages`) or an array of them,
    or is not a whole JSON value but the start of the file holds one of these keys
    (pretty-printed JSON); `None` otherwise (MEDLINE XML, JSON lines: a first line that is
    an array of something else, or invalid JSON without these keys, is a bad line of a
    JSON-lines file) or when the file cannot be read. BioC is told only by these keys.
    """
    try:
        with _open_binary(path) as handle:
            head = handle.read(_SNIFF_BYTES)
    except (InputFormatError, OSError, EOFError):
        return None
    head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if head.lstrip().startswith(b"<"):
        match = _FIRST_ELEMENT_RE.search(head)
        return "bioc_xml" if match and match.group(1) == b"collection" else None
    text = head.decode("utf-8", errors="replace")
    first = next((line for line in text.split("\n") if line.strip()), "")
    if not first.lstrip().startswith(("{", "[")):
        return None
    try:
        value = json.loads(first)
    except ValueError:
        # Pretty-printed JSON, a long line cut by the sniffing window, or a bad line.
        return "bioc_json" if _BIOC_JSON_KEY_RE.search(text) else None
    if isinstance(value, list):  # an array of documents
        value = value[0] if value else None
    if isinstance(value, dict) and any(key in value for key in ("documents", "PubTator3", "passages")):
        return "bioc_json"
    return None


# ---------------------------------------------------------------------- reading


def _clean_passages(document: bioc.BioCDocument) -> bioc.BioCDocument:
    for passage in document.passages:
        if passage.text is None:
            passage.text = ""
    return document


def _document_from_element(element: Any, path: str) -> bioc.BioCDocument:
    wrapped = (
        "<collection><source/><date/><key/>"
        + etree.tostring(element, encoding="unicode")
        + "</collection>"
    )
    try:
        (document,) = biocxml.loads(wrapped).documents
    except (ValueError, TypeError, KeyError) as error:
        name = element.findtext("id")
        raise InputFormatError(
            f"document {name!r}: not a valid BioC document ({type(error).__name__}: {error})",
            path,
            element.sourceline,
        ) from None
    return _clean_passages(document)


def xml_events(path: str) -> Iterator[Tuple[str, Any]]:
    """The `start` and `end` events of a BioC XML file, streaming; its root must be
    `<collection>`."""
    handle = _open_binary(path)
    try:
        context = etree.iterparse(
            handle, events=("start", "end"), resolve_entities=False, no_network=True, huge_tree=True
        )
        root = None
        while True:
            try:
                event, element = next(context)
            except StopIteration:
                return
            except etree.XMLSyntaxError as error:
                raise InputFormatError(f"not well-formed XML: {error.msg}", path, error.lineno) from None
            except (OSError, EOFError) as error:
                raise InputFormatError(f"cannot be read ({error})", path) from error
            if root is None:
                root = element
                if element.tag != "collection":
                    raise InputFormatError(
                        f"expected a BioC <collection>, got <{element.tag}>", path, element.sourceline
                    )
            yield event, element
    finally:
        handle.close()


def _read_xml(path: str) -> Iterator[Union[bioc.BioCCollection, bioc.BioCDocument]]:
    """The collection's information (a `BioCCollection` without documents, first) and its
    documents, streaming: each `<document>` is freed once read."""
    depth = 0
    info = bioc.BioCCollection()
    sent_info = False
    for event, element in xml_events(path):
        if event == "start":
            depth += 1
            if depth == 2 and element.tag == "document" and not sent_info:
                sent_info = True
                yield info
            continue
        depth -= 1
        if depth != 1:
            continue
        if element.tag == "document":
            yield _document_from_element(element, path)
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
        elif element.tag in ("source", "date", "key"):
            setattr(info, element.tag, element.text or "")
        elif element.tag == "infon":
            info.infons[element.get("key")] = element.text or ""
    if not sent_info:
        yield info


def _with_defaults(value: Any, keys: Mapping[str, Any], what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    value = dict(value)
    for key, default in keys.items():
        if value.get(key) is None:
            value[key] = default() if callable(default) else default
    return value


def _document_from_json(value: Any, path: str, number: int, line: Optional[int]) -> bioc.BioCDocument:
    """One document of a JSON file (its `number`, 1-based), missing optional keys filled."""
    annotation_keys = {"id": "", "infons": dict, "text": "", "locations": list}
    try:
        document = _with_defaults(value, {"infons": dict, "annotations": list, "relations": list}, "a document")
        if "id" not in document or document["id"] is None:
            document["id"] = next((str(value[key]) for key in ID_KEYS if value.get(key) is not None), "")
        if not isinstance(document.get("passages"), list):
            raise ValueError("a document needs a 'passages' list")
        document["id"] = str(document["id"])
        document["annotations"] = [_with_defaults(a, annotation_keys, "an annotation") for a in document["annotations"]]
        passages = []
        for passage in document["passages"]:
            passage = _with_defaults(
                passage, {"infons": dict, "text": "", "sentences": list, "annotations": list, "relations": list}, "a passage"
            )
            if isinstance(passage.get("offset"), bool) or not isinstance(passage.get("offset"), int):
                raise ValueError(f"a passage's 'offset' must be an integer, got {passage.get('offset')!r}")
            if not isinstance(passage["text"], str):
                raise ValueError(f"a passage's 'text' must be a string, got {type(passage['text']).__name__}")
            passage["annotations"] = [_with_defaults(a, annotation_keys, "an annotation") for a in passage["annotations"]]
            passage["sentences"] = [
                _with_defaults(s, {"infons": dict, "text": "", "annotations": list, "relations": list}, "a sentence")
                for s in passage["sentences"]
            ]
            passages.append(passage)
        document["passages"] = passages
        return _clean_passages(biocjson.decoder.parse_doc(document))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        name = value.get("id") if isinstance(value, dict) else None
        label = f"document {number}" + (f" ({name})" if name is not None else "")
        raise InputFormatError(f"{label}: not a valid BioC document ({error})", path, line) from None


def _read_json(path: str) -> Iterator[Union[bioc.BioCCollection, bioc.BioCDocument]]:
    try:
        with _open_binary(path) as handle:
            text = handle.read().decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise InputFormatError(f"cannot be read ({error})", path) from error
    info = bioc.BioCCollection()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        lines = [line for line in text.splitlines()]
        if error.msg != "Extra data":
            raise InputFormatError(f"invalid JSON ({error.msg}, column {error.colno})", path, error.lineno) from None
        # JSON lines: one document per line.
        yield info
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except json.JSONDecodeError as line_error:
                raise InputFormatError(f"invalid JSON ({line_error.msg}, column {line_error.colno})", path, number) from None
            yield _document_from_json(document, path, number, number)
        return
    if isinstance(value, dict) and "PubTator3" in value:
        info.source = "PubTator3"
        documents = value["PubTator3"]
    elif isinstance(value, dict) and "documents" in value:
        for key in ("source", "date", "key"):
            setattr(info, key, "" if value.get(key) is None else str(value[key]))
        if value.get("version") is not None:
            info.version = str(value["version"])
        info.infons = dict(value.get("infons") or {})
        documents = value["documents"]
    elif isinstance(value, dict) and "passages" in value:
        documents = [value]
    else:
        documents = value
    if not isinstance(documents, list):
        raise InputFormatError(
            "expected a BioC collection (an object with 'documents'), PubTator3's export "
            "({'PubTator3': [...]}), a list of documents or one document per line",
            path,
        )
    yield info
    for number, document in enumerate(documents, start=1):
        yield _document_from_json(document, path, number, None)


def _format_of(path: PathLike, format_: Optional[str]) -> str:
    format_ = format_ or bioc_format(path)
    if format_ not in BIOC_FORMATS:
        raise InputFormatError(
            "not a BioC collection (expected a BioC XML <collection>, a BioC JSON collection "
            "or PubTator3's BioC JSON)",
            os.fspath(path),
        )
    return format_


def read_bioc_file(
    path: PathLike, format_: Optional[str] = None
) -> Iterator[Union[bioc.BioCCollection, bioc.BioCDocument]]:
    """
    The collection's information first (a `BioCCollection` without documents: source,
    date, key, infons), then each `BioCDocument`, in file order. `format_` is
    `"bioc_xml"` or `"bioc_json"` (default: `bioc_format`).
    """
    name = os.fspath(path)
    if _format_of(name, format_) == "bioc_xml":
        yield from _read_xml(name)
    else:
        yield from _read_json(name)


def read_bioc(path: PathLike, format_: Optional[str] = None) -> Iterator[bioc.BioCDocument]:
    """The documents of a BioC file (see `read_bioc_file`)."""
    for item in read_bioc_file(path, format_):
        if isinstance(item, bioc.BioCDocument):
            yield item


def read_collection_info(path: PathLike, format_: Optional[str] = None) -> bioc.BioCCollection:
    """The collection's source, date, key and infons (no documents)."""
    for item in read_bioc_file(path, format_):
        if isinstance(item, bioc.BioCCollection):
            return item
    return bioc.BioCCollection()  # pragma: no cover


def load_bioc(path: PathLike, format_: Optional[str] = None) -> bioc.BioCCollection:
    """A whole BioC file as one `BioCCollection`."""
    collection = None
    for item in read_bioc_file(path, format_):
        if isinstance(item, bioc.BioCCollection):
            collection = item
        else:
            assert collection is not None
            collection.add_document(item)
    return collection if collection is not None else bioc.BioCCollection()


# ---------------------------------------------------------------------- PubTator view


def pubtator_documents(path: PathLike, format_: Optional[str] = None) -> List["Document"]:
    """
    The documents of a BioC file of titles and abstracts (PubTator3's layout: a passage at
    offset 0, the title, and optionally one at `len(title) + 1`, the abstract) as
    `Document`s (ids `{"pmid": id}`), with every annotation (of the document, its passages
    and their sentences) whose infons have a `type` as an entity: the gold file of
    `allennlp pubtator-eval`.
    Annotations without a `type` or without a location are skipped, and their number
    logged as a warning.

    Raises `InputFormatError` naming the document for a document of another layout (full
    text), a location whose offset or length is not a non-negative integer or that ends
    outside the text, and a discontinuous annotation (several locations): exact-offset
    scoring cannot score it, and widening it to one span would score text it does not
    annotate (split it into one annotation per location to score the parts).
    """
    from biomtl_allennlp.documents.document import Document
    from biomtl_allennlp.documents.entity import Entity

    name = os.fspath(path)
    documents = []
    skipped = 0
    for document in read_bioc(name, format_):
        passages = document.passages
        title = passages[0].text if passages else ""
        abstract = passages[1].text if len(passages) > 1 else ""
        if not passages or len(passages) > 2 or passages[0].offset != 0 or (
            len(passages) == 2 and passages[1].offset != len(title) + 1
        ):
            raise InputFormatError(
                f"document {document.id!r}: expected a title passage at offset 0 and at most an "
                "abstract passage at len(title) + 1 (titles and abstracts, as PubTator3 has them)",
                name,
            )
        pubtator = Document.from_parts(title, abstract, {"pmid": document.id})
        text = pubtator.text
        holders = [document] + list(passages) + [s for p in passages for s in p.sentences]
        for annotation in (a for holder in holders for a in holder.annotations):
            if not annotation.infons.get("type") or not annotation.locations:
                skipped += 1
                continue
            label = f"document {document.id!r}, annotation {annotation.id!r}"
            if len(annotation.locations) > 1:
                raise InputFormatError(
                    f"{label}: a discontinuous annotation ({len(annotation.locations)} locations), "
                    "which exact-offset scoring cannot score; give each part an annotation of its own",
                    name,
                )
            (location,) = annotation.locations
            start, length = location.offset, location.length
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (start, length)):
                raise InputFormatError(
                    f"{label}: a location's offset and length must be non-negative integers, got "
                    f"{start!r} and {length!r}",
                    name,
                )
            end = start + length
            if end > len(text):
                raise InputFormatError(
                    f"{label}: its location ({start}, length {length}) ends after the text "
                    f"({len(text)} characters)",
                    name,
                )
            identifier = annotation.infons.get("identifier")
            pubtator.entities.append(
                Entity(start, end, text[start:end], str(annotation.infons["type"]), concept_id=identifier)
            )
        pubtator.entities.sort(key=lambda a: (a.start, a.end, a.type))
        documents.append(pubtator)
    if skipped:
        logger.warning("%s: %d annotations without a 'type' infon or a location skipped", name, skipped)
    return documents
