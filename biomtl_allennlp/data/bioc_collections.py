"""
Reading and writing BioC collections (XML and JSON) with the `bioc` package, and putting
the `biomedical_entities` predictor's entities into them as annotations.

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

Writing: `collection_start` + `format_document` per document (joined by
`DOCUMENT_SEPARATOR`) + `collection_end` is the whole file, so a collection can be written
one document at a time (`allennlp tag-corpus`); `write_bioc` writes a whole collection
that way. In XML, characters that XML 1.0 cannot hold are written as U+FFFD (one for one,
so offsets stay right) and infon values as strings (`null` as empty, numbers and booleans
as JSON writes them).

Tagging (`tag_documents`): every passage with text is one predictor input `{"text":
passage.text}`; each entity becomes an annotation on its passage with infons `type`,
`score`, `heads` (comma-separated), `head` and `annotator` (`biomtl_allennlp`), id
`biomtl-<n>` (numbered in the document), location in document offsets. Existing
annotations and relations are kept.
"""
import gzip
import json
import logging
import os
import re
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import bioc
from bioc import biocjson, biocxml
from lxml import etree

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.data.entity import ID_KEYS, Entity

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from biomtl_allennlp.data.pubtator import PubtatorDocument

PathLike = Union[str, "os.PathLike[str]"]

BIOC_FORMATS = ("bioc_xml", "bioc_json")
DOCUMENT_SEPARATOR = {"bioc_xml": "", "bioc_json": ",\n"}
ANNOTATOR = "biomtl_allennlp"

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16
# The first element of an XML file (after the declaration, comments, a DOCTYPE).
_FIRST_ELEMENT_RE = re.compile(rb"<(?![?!])([A-Za-z_][\w.:-]*)")
# A key only BioC JSON has: a collection's documents, PubTator3's export, a document's
# passages (not inside a string: the quote is not escaped).
_BIOC_JSON_KEY_RE = re.compile(r'(?<!\\)"(documents|PubTator3|passages)"\s*:\s*[\[{]')
# Characters XML 1.0 cannot hold.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_DOCTYPE = "<!DOCTYPE collection SYSTEM 'BioC.dtd'>\n"


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


def _xml_events(path: str) -> Iterator[Tuple[str, Any]]:
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
    for event, element in _xml_events(path):
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


# ---------------------------------------------------------------------- writing


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value)
    return _NOT_XML_RE.sub("\ufffd", value)


def _xml_safe_infons(infons: Mapping[str, Any]) -> Dict[str, str]:
    return {_xml_text(key): _xml_text(value) for key, value in infons.items()}


def _xml_safe(document: bioc.BioCDocument) -> bioc.BioCDocument:
    """A copy of `document` that lxml can write (see the module docstring)."""
    copy = biocjson.decoder.parse_doc(json.loads(biocjson.dumps(document)))
    copy.id = _xml_text(copy.id)
    copy.infons = _xml_safe_infons(copy.infons)
    holders: List[Any] = [copy]
    for passage in copy.passages:
        passage.infons = _xml_safe_infons(passage.infons)
        passage.text = _xml_text(passage.text)
        holders.append(passage)
        for sentence in passage.sentences:
            sentence.infons = _xml_safe_infons(sentence.infons)
            sentence.text = _xml_text(sentence.text)
            holders.append(sentence)
    for holder in holders:
        for annotation in holder.annotations:
            annotation.id = _xml_text(annotation.id)
            annotation.infons = _xml_safe_infons(annotation.infons)
            annotation.text = _xml_text(annotation.text)
        for relation in holder.relations:
            relation.id = _xml_text(relation.id)
            relation.infons = _xml_safe_infons(relation.infons)
    return copy


def collection_start(info: bioc.BioCCollection, format_: str) -> str:
    """The text of a BioC file before its first document (`info`'s documents are not
    written)."""
    if format_ == "bioc_xml":
        element = etree.Element("collection")
        for key in ("source", "date", "key"):
            etree.SubElement(element, key).text = _xml_text(getattr(info, key))
        for key, value in _xml_safe_infons(info.infons).items():
            etree.SubElement(element, "infon", {"key": key}).text = value
        text = etree.tostring(element, encoding="unicode", pretty_print=True).rstrip()
        assert text.endswith("</collection>")
        return _XML_DECLARATION + _DOCTYPE + text[: -len("</collection>")]
    if format_ == "bioc_json":
        head = {
            "source": info.source or "",
            "date": info.date or "",
            "key": info.key or "",
            "version": info.version,
            "infons": info.infons,
        }
        return json.dumps(head, ensure_ascii=False)[:-1] + ', "documents": [\n'
    raise ValueError(f"format must be one of {BIOC_FORMATS}, got {format_!r}")


def format_document(document: bioc.BioCDocument, format_: str) -> str:
    """One document as it stands in a BioC file of `format_`."""
    if format_ == "bioc_xml":
        element = biocxml.encoder.encode_document(_xml_safe(document))
        return etree.tostring(element, encoding="unicode", pretty_print=True)
    if format_ == "bioc_json":
        return json.dumps(biocjson.toJSON(document), ensure_ascii=False)
    raise ValueError(f"format must be one of {BIOC_FORMATS}, got {format_!r}")


def collection_end(format_: str) -> str:
    """The text of a BioC file after its last document."""
    if format_ == "bioc_xml":
        return "</collection>\n"
    if format_ == "bioc_json":
        return "\n]}\n"
    raise ValueError(f"format must be one of {BIOC_FORMATS}, got {format_!r}")


def count_written_documents(path: PathLike, format_: str) -> int:
    """
    The number of documents of a BioC file as `collection_start`, `format_document` (joined
    by `DOCUMENT_SEPARATOR`) and `collection_end` write it, checking that it is whole:
    well-formed XML whose root is a `<collection>`, or valid JSON (a collection object
    whose `documents` are objects, each on a line of its own). Streaming: it holds one
    document at a time. Raises `InputFormatError` naming the file and line otherwise.
    """
    name = os.fspath(path)
    if format_ == "bioc_xml":
        documents = depth = 0
        for event, element in _xml_events(name):
            if event == "start":
                depth += 1
                continue
            depth -= 1
            if depth == 1:
                documents += element.tag == "document"
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
        return documents
    if format_ != "bioc_json":
        raise ValueError(f"format must be one of {BIOC_FORMATS}, got {format_!r}")
    separator = DOCUMENT_SEPARATOR["bioc_json"].rstrip("\n")
    end = collection_end("bioc_json").strip()
    with open(name, "rb") as handle:
        number, documents, closed, separated = 1, 0, False, False
        try:
            head = json.loads(handle.readline().decode("utf-8") + end)
            if not isinstance(head, dict) or head.get("documents") != []:
                raise ValueError("not the start of a BioC collection")
            for number, data in enumerate(handle, start=2):
                line = data.decode("utf-8").rstrip("\n")
                if closed:
                    raise ValueError("text after the end of the collection")
                if line == end:
                    if separated:
                        raise ValueError(f"{separator!r} after the last document")
                    closed = True
                elif not line and not documents:  # an empty collection
                    continue
                elif documents and not separated:
                    raise ValueError(f"no {separator!r} between two documents")
                else:
                    separated = line.endswith(separator)
                    if not isinstance(json.loads(line[: -len(separator)] if separated else line), dict):
                        raise ValueError("a document is not a JSON object")
                    documents += 1
            if not closed:
                raise ValueError("the collection is not closed (cut)")
        except (ValueError, UnicodeDecodeError) as error:
            raise InputFormatError(f"not a whole BioC JSON collection ({error})", name, number) from None
    return documents


def write_bioc(path: PathLike, collection: bioc.BioCCollection, format_: str) -> None:
    """Writes `collection` (as `collection_start`, `format_document`, `collection_end`)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(collection_start(collection, format_))
        for number, document in enumerate(collection.documents):
            handle.write((DOCUMENT_SEPARATOR[format_] if number else "") + format_document(document, format_))
        handle.write(collection_end(format_))


# ---------------------------------------------------------------------- tagging


def document_from_record(record: Mapping[str, Any]) -> bioc.BioCDocument:
    """
    A predictor input as a BioC document (to write other inputs as BioC): `{"title",
    "abstract"}` gives a `title` passage at offset 0 and an `abstract` passage at
    `len(title) + 1` (PubTator3's layout, so document offsets are those of `title + " " +
    abstract`); `{"text"}` one passage at 0. The id is the first of `ID_KEYS` present.

    Raises `InputFormatError` (without a place) with the message of the predictor's error
    output for a record it refuses (missing keys, a `text`, `title` or `abstract` that is
    not a string, empty text: `check_document_input`), so a JSON line is refused alike
    whether it is written as JSON lines or as BioC.
    """
    from biomtl_allennlp.predictors.biomedical_entities import check_document_input

    check_document_input(record)
    document = bioc.BioCDocument()
    document.id = next((str(record[key]) for key in ID_KEYS if record.get(key) is not None), "")
    if "text" in record:
        document.add_passage(bioc.BioCPassage.of_text(record["text"]))
        return document
    title = record.get("title") or ""
    abstract = record.get("abstract") or ""
    for kind, text, offset in (("title", title, 0), ("abstract", abstract, len(title) + 1)):
        if kind == "abstract" and not abstract:
            continue
        passage = bioc.BioCPassage.of_text(text, offset)
        passage.infons["type"] = kind
        document.add_passage(passage)
    return document


def entity_annotation(entity: Entity, passage_offset: int, number: int) -> bioc.BioCAnnotation:
    """The annotation of one predicted entity of a passage at `passage_offset`."""
    annotation = bioc.BioCAnnotation()
    annotation.id = f"biomtl-{number}"
    annotation.text = entity.text
    annotation.infons.update(
        {
            "type": entity.type,
            "score": str(entity.score),
            "heads": ",".join(entity.datasets or (entity.dataset,)),
            "head": entity.dataset,
            "annotator": ANNOTATOR,
        }
    )
    annotation.add_location(bioc.BioCLocation(passage_offset + entity.start, entity.end - entity.start))
    return annotation


def tag_documents(
    predict_batch: Callable[[List[Dict[str, Any]]], List[Dict[str, Any]]],
    documents: Sequence[bioc.BioCDocument],
) -> List[Tuple[List[Entity], List[Dict[str, Any]]]]:
    """
    Tags every passage with text of `documents` with one `predict_batch` call (the
    predictor's `predict_batch_json`) and adds an annotation per entity to its passage (see
    the module docstring). Returns per document its entities and its errors (`{"id",
    "passage_offset", "error"}` for each passage that could not be tagged; it is kept
    without new annotations).
    """
    inputs: List[Dict[str, Any]] = []
    places: List[Tuple[int, bioc.BioCPassage]] = []
    for index, document in enumerate(documents):
        for passage in document.passages:
            if passage.text and passage.text.strip():
                inputs.append({"id": document.id, "text": passage.text})
                places.append((index, passage))
    outputs = predict_batch(inputs) if inputs else []
    results: List[Tuple[List[Entity], List[Dict[str, Any]]]] = [([], []) for _ in documents]
    numbers = [0] * len(documents)
    taken = [_annotation_ids(document) for document in documents]
    for (index, passage), output in zip(places, outputs):
        entities, errors = results[index]
        if "error" in output:
            errors.append({"id": documents[index].id, "passage_offset": passage.offset, "error": output["error"]})
            continue
        for value in output["entities"]:
            entity = Entity.from_json(value)
            numbers[index] += 1
            while f"biomtl-{numbers[index]}" in taken[index]:  # ids of an earlier tagging
                numbers[index] += 1
            passage.add_annotation(entity_annotation(entity, passage.offset, numbers[index]))
            entities.append(entity)
    return results


def _annotation_ids(document: bioc.BioCDocument) -> set:
    holders = [document] + list(document.passages) + [s for p in document.passages for s in p.sentences]
    return {annotation.id for holder in holders for annotation in holder.annotations}


# ---------------------------------------------------------------------- PubTator view


def pubtator_documents(path: PathLike, format_: Optional[str] = None) -> List["PubtatorDocument"]:
    """
    The documents of a BioC file of titles and abstracts (PubTator3's layout: a passage at
    offset 0, the title, and optionally one at `len(title) + 1`, the abstract) as
    `PubtatorDocument`s, with every annotation (of the document, its passages and their
    sentences) whose infons have a `type`: the gold file of `allennlp pubtator-eval`.
    Annotations without a `type` or without a location are skipped, and their number
    logged as a warning.

    Raises `InputFormatError` naming the document for a document of another layout (full
    text), a location whose offset or length is not a non-negative integer or that ends
    outside the text, and a discontinuous annotation (several locations): exact-offset
    scoring cannot score it, and widening it to one span would score text it does not
    annotate (split it into one annotation per location to score the parts).
    """
    from biomtl_allennlp.data.pubtator import PubtatorAnnotation, PubtatorDocument

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
        pubtator = PubtatorDocument(pmid=document.id, title=title, abstract=abstract)
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
            pubtator.annotations.append(
                PubtatorAnnotation(start, end, text[start:end], str(annotation.infons["type"]), identifier)
            )
        pubtator.annotations.sort(key=lambda a: (a.start, a.end, a.type))
        documents.append(pubtator)
    if skipped:
        logger.warning("%s: %d annotations without a 'type' infon or a location skipped", name, skipped)
    return documents
