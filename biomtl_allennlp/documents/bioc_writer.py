"""
Writing BioC collections (XML and JSON), and putting the `biomedical_entities` predictor's
entities into them as annotations (reading them is `bioc_reader`).

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
import json
import os
import re
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple, Union

import bioc
from bioc import biocjson, biocxml
from lxml import etree

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.bioc_reader import BIOC_FORMATS, PathLike, xml_events
from biomtl_allennlp.documents.document import Document, first_id
from biomtl_allennlp.documents.entity import Entity

DOCUMENT_SEPARATOR = {"bioc_xml": "", "bioc_json": ",\n"}
ANNOTATOR = "biomtl_allennlp"

# Characters XML 1.0 cannot hold.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_DOCTYPE = "<!DOCTYPE collection SYSTEM 'BioC.dtd'>\n"


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
        for event, element in xml_events(name):
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


def document_from_record(record: Union[Document, Mapping[str, Any]]) -> bioc.BioCDocument:
    """
    A `Document` (or a predictor input, read with `Document.from_json`) as a BioC document
    (to write other inputs as BioC): one with a title gives a `title` passage at offset 0
    and an `abstract` passage at `len(title) + 1` (PubTator3's layout, so document offsets
    are those of `title + " " + abstract`); a text one passage at 0. The id is the first
    of `ID_KEYS` present.

    Raises `InputFormatError` (without a place) with the message of the predictor's error
    output for a record it refuses (missing keys, a `text`, `title` or `abstract` that is
    not a string, empty text: `Document.from_json`), so a JSON line is refused alike
    whether it is written as JSON lines or as BioC.
    """
    if not isinstance(record, Document):
        record = Document.from_json(record)
    document = bioc.BioCDocument()
    document.id = first_id(record.ids, "")
    if record.title is None:
        document.add_passage(bioc.BioCPassage.of_text(record.text))
        return document
    title = record.title
    abstract = record.abstract or ""
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
