"""BioC in and out: the readers and writers of `documents/bioc_reader.py` and `bioc_writer.py`, and `allennlp
tag-corpus` on BioC XML and JSON (PubTator3's export) with the shipped model, on a local
Ray with one worker (the model is loaded once, in that worker: the JSON-lines path is
checked on a JSON-lines file of the same run)."""
import gzip
import json
from pathlib import Path

import bioc
import pytest
import ray
from bioc import biocjson

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import (
    collect_inputs,
    input_format,
    output_format_of,
    output_record,
    read_records,
)
from biomtl_allennlp.corpus.tagger import tag_corpus
from biomtl_allennlp.documents.bioc_reader import BIOC_FORMATS, bioc_format, load_bioc, read_bioc
from biomtl_allennlp.documents.bioc_writer import document_from_record, write_bioc
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.pretrained import tagger_path
from tests.conftest import PROJECT_ROOT
from tests.corpus.medline_fixtures import article_set, citation, shipped_abstracts

ABSTRACTS = [json.loads(line) for line in (PROJECT_ROOT / "fixtures/pubmed/abstracts.jsonl").open()]
# Non-ASCII text, with a character outside the BMP first (offsets count code points).
NON_ASCII = "𝒜 case: cisplatin‑induced nephrotoxicity in a Sjögren’s syndrome patient given α-tocopherol and naloxone."


def pubtator3_document(abstract):
    """A document as PubTator3's BioC JSON export has it (its own annotation included)."""
    title, text = abstract["title"], abstract["abstract"]
    return {
        "_id": f"{abstract['pmid']}|None",
        "id": abstract["pmid"],
        "infons": {},
        "passages": [
            {
                "infons": {"type": "title", "section_type": "TITLE", "valid": True, "year": None},
                "offset": 0,
                "text": title,
                "sentences": [],
                "annotations": [
                    {
                        "id": "1",
                        "infons": {"type": "Chemical", "identifier": "MESH:D009538", "valid": True},
                        "text": title.split()[0],
                        "locations": [{"offset": 0, "length": len(title.split()[0])}],
                    }
                ],
                "relations": [],
            },
            {"infons": {"type": "abstract"}, "offset": len(title) + 1, "text": text, "annotations": []},
        ],
        "relations": [],
        "pmid": int(abstract["pmid"]),
    }


def full_text_document():
    """A full-text document: many passages, one without text, one with non-ASCII text."""
    document = bioc.BioCDocument()
    document.id = "PMC0000001"
    document.infons["license"] = "CC BY"
    offset = 0
    texts = [ABSTRACTS[3]["title"], ABSTRACTS[3]["abstract"], "", NON_ASCII, ABSTRACTS[4]["abstract"], ABSTRACTS[5]["title"]]
    kinds = ["front", "abstract", "fig", "paragraph", "paragraph", "title_2"]
    for text, kind in zip(texts, kinds):
        passage = bioc.BioCPassage.of_text(text, offset)
        passage.infons["section_type"] = kind.upper()
        passage.infons["type"] = kind
        document.add_passage(passage)
        offset += len(text) + 1
    return document


def bioc_collection(*documents, source="PMC"):
    collection = bioc.BioCCollection()
    collection.source, collection.date, collection.key = source, "20260101", "collection.key"
    collection.infons["note"] = "fixture"
    for document in documents:
        collection.add_document(document)
    return collection


def make_corpus(folder: Path) -> Path:
    folder.mkdir()
    # PubTator3's export (BioC JSON), named .json as PubTator3 names it
    (folder / "pubtator3.json").write_text(
        json.dumps({"PubTator3": [pubtator3_document(a) for a in ABSTRACTS[:3]]}, indent=1), encoding="utf-8"
    )
    # BioC XML written by the bioc package itself (interoperability), full text
    (folder / "fulltext.xml").write_text(bioc.biocxml.dumps(bioc_collection(full_text_document())), encoding="utf-8")
    # a BioC JSON collection written by the bioc package
    one = bioc.BioCDocument()
    one.id = "plain"
    one.add_passage(bioc.BioCPassage.of_text(NON_ASCII, 100))
    (folder / "collection.bioc.json").write_text(biocjson.dumps(bioc_collection(one, source="test")), encoding="utf-8")
    # BioC XML that breaks after its first document
    text = bioc.biocxml.dumps(bioc_collection(full_text_document()))
    (folder / "broken.bioc.xml").write_text(text.replace("</document>", "</document>\n<document><id>2</passage>"), encoding="utf-8")
    # the same passage texts as JSON lines
    lines = []
    for name in ("pubtator3.json", "fulltext.xml", "collection.bioc.json"):
        for document in read_bioc(folder / name):
            for passage in document.passages:
                if passage.text:
                    lines.append(json.dumps({"id": f"{name}|{document.id}|{passage.offset}", "text": passage.text}))
    (folder / "same.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("bioc") / "in")


@pytest.fixture(scope="module")
def tagged(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagged")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        summary = tag_corpus(
            str(tagger_path()), collect_inputs([str(corpus)]), str(out), workers=1, batch_size=2, progress=False
        )
    finally:
        ray.shutdown()
    return out, summary


def ours(annotation):
    return annotation.infons.get("annotator") == "biomtl_allennlp"


def test_each_bioc_input_gets_its_bioc_output_and_a_broken_one_is_reported(corpus, tagged):
    out, summary = tagged
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "collection.bioc.json", "fulltext.bioc.xml", "pubtator3.bioc.json", "same.jsonl", "tag-corpus-summary.json",
    ]  # fmt: skip
    broken = str(corpus / "broken.bioc.xml")
    assert list(summary.files_failed) == [broken]
    assert summary.files_failed[broken].startswith(f"{broken}:")
    assert "not well-formed XML" in summary.files_failed[broken]
    assert summary.documents == 3 + 1 + 1 + sum(1 for _ in (corpus / "same.jsonl").open())
    assert summary.documents_with_errors == 0


def test_round_trip_keeps_everything_and_adds_annotations_with_exact_offsets(corpus, tagged):
    out, _ = tagged
    total = 0
    for name, output in [("pubtator3.json", "pubtator3.bioc.json"), ("fulltext.xml", "fulltext.bioc.xml"),
                         ("collection.bioc.json", "collection.bioc.json")]:  # fmt: skip
        source, result = load_bioc(corpus / name), load_bioc(out / output)
        assert (result.source, result.date, result.key) == (source.source, source.date, source.key)
        assert result.infons == source.infons
        assert [d.id for d in result.documents] == [d.id for d in source.documents]
        for before, after in zip(source.documents, result.documents):
            assert after.infons == before.infons
            assert [(p.offset, p.text, p.infons) for p in after.passages] == [
                (p.offset, p.text, p.infons) for p in before.passages
            ]
            for old, new in zip(before.passages, after.passages):
                kept = [a for a in new.annotations if not ours(a)]
                assert [biocjson.toJSON(a) for a in kept] == [biocjson.toJSON(a) for a in old.annotations]
                for annotation in filter(ours, new.annotations):
                    (location,) = annotation.locations
                    start = location.offset - new.offset
                    assert 0 <= start and start + location.length <= len(new.text)
                    assert new.text[start : start + location.length] == annotation.text
                    assert annotation.infons["head"] in annotation.infons["heads"].split(",")
                    assert 0.0 < float(annotation.infons["score"]) <= 1.0
                    assert annotation.infons["type"]
                    total += 1
            ids = [a.id for p in after.passages for a in p.annotations]
            assert len(ids) == len(set(ids))
    assert total > 100


def test_passages_without_text_are_kept_and_non_ascii_text_is_tagged(tagged):
    out, _ = tagged
    (document,) = load_bioc(out / "fulltext.bioc.xml").documents
    assert len(document.passages) == 6
    assert document.passages[2].text == "" and document.passages[2].infons["type"] == "fig"
    assert not document.passages[2].annotations
    non_ascii = document.passages[3]
    assert non_ascii.text == NON_ASCII
    found = {(a.text, a.infons["type"]) for a in non_ascii.annotations if ours(a)}
    assert {("cisplatin", "Chemical"), ("nephrotoxicity", "Disease")} <= found
    (collection,) = load_bioc(out / "collection.bioc.json").documents
    (passage,) = collection.passages
    for annotation in passage.annotations:  # offset 100, after a character outside the BMP
        assert annotation.locations[0].offset > 100
        start = annotation.locations[0].offset - 100
        assert NON_ASCII[start : start + annotation.locations[0].length] == annotation.text


def test_the_same_entities_as_the_json_lines_path(tagged):
    out, _ = tagged
    expected = {}
    for line in (out / "same.jsonl").read_text().splitlines():
        output = json.loads(line)
        expected[output["id"]] = sorted(
            (e["start"], e["end"], e["type"], e["score"], ",".join(e["datasets"])) for e in output["entities"]
        )
    seen = 0
    for name, output in [("pubtator3.json", "pubtator3.bioc.json"), ("fulltext.xml", "fulltext.bioc.xml"),
                         ("collection.bioc.json", "collection.bioc.json")]:  # fmt: skip
        for document in read_bioc(out / output):
            for passage in document.passages:
                if not passage.text:
                    continue
                got = sorted(
                    (a.locations[0].offset - passage.offset, a.locations[0].end - passage.offset,
                     a.infons["type"], float(a.infons["score"]), a.infons["heads"])
                    for a in passage.annotations if ours(a)
                )  # fmt: skip
                assert got == expected[f"{name}|{document.id}|{passage.offset}"]
                seen += 1
    assert seen == len(expected)


def test_xml_and_json_outputs_convert_into_each_other(tagged, tmp_path):
    out, _ = tagged
    collection = load_bioc(out / "fulltext.bioc.xml")
    write_bioc(tmp_path / "x.json", collection, "bioc_json")
    write_bioc(tmp_path / "x.xml", load_bioc(tmp_path / "x.json"), "bioc_xml")
    assert (tmp_path / "x.xml").read_text() == (out / "fulltext.bioc.xml").read_text()
    # and PubTator3's non-string infons are written as strings in XML
    write_bioc(tmp_path / "p.xml", load_bioc(out / "pubtator3.bioc.json"), "bioc_xml")
    title = load_bioc(tmp_path / "p.xml").documents[0].passages[0]
    assert title.infons == {"type": "title", "section_type": "TITLE", "valid": "true", "year": None}  # empty


# ---------------------------------------------------------------------- without the model


def test_formats_are_told_by_content(tmp_path):
    medline = tmp_path / "pubmed.xml"
    medline.write_text(article_set(citation(shipped_abstracts()[0])), encoding="utf-8")
    collection = bioc_collection(document_from_record(ABSTRACTS[0]))
    write_bioc(tmp_path / "c.xml", collection, "bioc_xml")
    with gzip.open(tmp_path / "c.xml.gz", "wt", encoding="utf-8") as handle:
        handle.write((tmp_path / "c.xml").read_text())
    write_bioc(tmp_path / "c.json", collection, "bioc_json")
    (tmp_path / "pretty.json").write_text(json.dumps({"PubTator3": [pubtator3_document(ABSTRACTS[1])]}, indent=2))
    (tmp_path / "lines.json").write_text(
        "\n".join(json.dumps(pubtator3_document(a)) for a in ABSTRACTS[:2]) + "\n"
    )
    (tmp_path / "plain.json").write_text(json.dumps({"id": "1", "text": "Aspirin."}) + "\n")
    assert input_format(str(medline)) == ("medline", "pubmed")
    assert input_format(str(tmp_path / "c.xml")) == ("bioc_xml", "c")
    assert input_format(str(tmp_path / "c.xml.gz")) == ("bioc_xml", "c")
    assert input_format(str(tmp_path / "c.json")) == ("bioc_json", "c")
    assert input_format(str(tmp_path / "pretty.json")) == ("bioc_json", "pretty")
    assert input_format(str(tmp_path / "lines.json")) == ("bioc_json", "lines")
    assert input_format(str(tmp_path / "plain.json")) == ("jsonl", "plain")
    assert input_format("x.bioc.xml") == ("bioc_xml", "x") and input_format("x.bioc.json") == ("bioc_json", "x")
    assert bioc_format(tmp_path / "missing.xml") is None
    assert [d.id for d in read_bioc(tmp_path / "lines.json")] == [a["pmid"] for a in ABSTRACTS[:2]]
    assert [d.id for d in read_bioc(tmp_path / "c.xml.gz")] == [ABSTRACTS[0]["pmid"]]
    records = list(read_records(collect_inputs([str(tmp_path / "pretty.json")])[0]))
    assert [r.bioc_document.id for r in records] == [ABSTRACTS[1]["pmid"]]


def test_invalid_bioc_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.bioc.json"
    bad.write_text('{"source": "x", "documents": [\n  {"id": "1", "passages": [}\n]}')
    with pytest.raises(InputFormatError, match=r"bad\.bioc\.json:2: invalid JSON"):
        list(read_bioc(bad))
    bad.write_text(json.dumps({"documents": [{"id": "7", "passages": [{"offset": "zero", "text": "x"}]}]}))
    with pytest.raises(InputFormatError, match=r"bad\.bioc\.json: document 1 \(7\): not a valid BioC document .*'offset' must be an integer"):
        list(read_bioc(bad))
    bad.write_text(json.dumps({"documents": [{"id": "8"}]}))
    with pytest.raises(InputFormatError, match=r"document 1 \(8\): .*needs a 'passages' list"):
        list(read_bioc(bad))
    xml = tmp_path / "bad.bioc.xml"
    xml.write_text("<?xml version='1.0'?>\n<collection><source/><date/><key/>\n<document><id>1</id>\n<passage><offset>x</offset></passage></document></collection>")
    with pytest.raises(InputFormatError, match=r"bad\.bioc\.xml:3: document '1': not a valid BioC document \(ValueError"):
        list(read_bioc(xml))
    xml.write_text("<?xml version='1.0'?>\n<PubmedArticleSet/>")
    with pytest.raises(InputFormatError, match=r"bad\.bioc\.xml:2: expected a BioC <collection>, got <PubmedArticleSet>"):
        list(read_bioc(xml, "bioc_xml"))
    with pytest.raises(InputFormatError, match=r"bad\.bioc\.xml: not a BioC collection"):
        list(read_bioc(xml))


def test_output_formats(tmp_path):
    write_bioc(tmp_path / "c.bioc.json", bioc_collection(document_from_record(ABSTRACTS[0])), "bioc_json")
    (tmp_path / "d.jsonl").write_text(json.dumps(ABSTRACTS[0]) + "\n")
    bioc_file, plain = collect_inputs([str(tmp_path / "c.bioc.json"), str(tmp_path / "d.jsonl")])
    assert output_format_of(bioc_file, "auto") == "bioc_json" and output_format_of(plain, "auto") == "jsonl"
    assert output_format_of(bioc_file, "bioc_xml") == "bioc_xml" and output_format_of(plain, "bioc_xml") == "bioc_xml"
    with pytest.raises(InputFormatError, match=r"c\.bioc\.json: a BioC input is written as BioC"):
        output_format_of(bioc_file, "pubtator")
    with pytest.raises(InputFormatError, match=r"c\.bioc\.json: a BioC input is written as BioC"):
        tag_corpus(str(tagger_path()), [bioc_file], str(tmp_path / "out"), output_format="jsonl")
    (record,) = list(read_records(plain))
    made = output_record(record, "bioc_xml")
    document = made.document
    assert made.output_format == "bioc_xml" and document.id == ABSTRACTS[0]["pmid"]
    text = f"{ABSTRACTS[0]['title']} {ABSTRACTS[0]['abstract']}"  # PubTator's document text
    assert [(p.infons["type"], p.offset) for p in document.passages] == [("title", 0), ("abstract", len(ABSTRACTS[0]["title"]) + 1)]
    for passage in document.passages:
        assert text[passage.offset : passage.offset + len(passage.text)] == passage.text
    assert output_record(record, "jsonl") is record.document
    assert set(BIOC_FORMATS) == {"bioc_xml", "bioc_json"}


def test_pubtator_eval_gold_can_be_bioc(tmp_path):
    """The fixture gold PubTator file as PubTator3-style BioC reads back as the same gold
    documents (what `allennlp pubtator-eval` scores against)."""
    from biomtl_allennlp.documents.bioc_reader import pubtator_documents
    from biomtl_allennlp.documents.pubtator import read_pubtator

    gold = list(read_pubtator(PROJECT_ROOT / "fixtures/pubmed/gold.pubtator"))
    collection = bioc_collection()
    for number, document in enumerate(gold):
        converted = document_from_record({"pmid": document.pmid, "title": document.title, "abstract": document.abstract})
        for index, annotation in enumerate(document.entities):
            passage = converted.passages[0 if annotation.start < len(document.title) else 1]
            made = bioc.BioCAnnotation()
            made.id, made.text = str(index), annotation.text
            made.infons.update({"type": annotation.type, "identifier": annotation.concept_id})
            made.add_location(bioc.BioCLocation(annotation.start, annotation.end - annotation.start))
            passage.add_annotation(made)
        collection.add_document(converted)
    for format_ in BIOC_FORMATS:
        write_bioc(tmp_path / f"gold.{format_}", collection, format_)
        back = pubtator_documents(tmp_path / f"gold.{format_}")
        assert [(d.pmid, d.title, d.abstract) for d in back] == [(d.pmid, d.title, d.abstract) for d in gold]
        for a, b in zip(back, gold):
            key = lambda x: (x.start, x.end, x.text, x.type, x.concept_id)  # noqa: E731
            assert sorted(map(key, a.entities)) == sorted(map(key, b.entities))
    assert sum(len(d.entities) for d in gold) > 100
    full = bioc_collection(full_text_document())
    write_bioc(tmp_path / "full.xml", full, "bioc_xml")
    with pytest.raises(InputFormatError, match=r"full\.xml: document 'PMC0000001': expected a title passage"):
        pubtator_documents(tmp_path / "full.xml")


def test_bioc_json_is_told_only_by_its_keys(tmp_path):
    """A `.json` JSON-lines file whose first line is an array, or invalid JSON followed by
    more lines, or an object with a `source` key, is JSON lines: that line is a bad line
    and the others are documents (not the whole file a failed BioC input)."""
    cases = {
        "array.json": '[{"id": "a", "text": "Aspirin."}]\n{"id": "b", "text": "Cisplatin."}\n',
        "broken.json": '{"id": "a", "text": \n{"id": "b", "text": "Cisplatin."}\n',
        "source.json": '{"source": "x", "id": "a", "text": "Aspirin."}\n{"id": "b", "text": "Cisplatin."}\n',
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        corpus_file = collect_inputs([str(tmp_path / name)])[0]
        assert corpus_file.format == "jsonl", name
        records = list(read_records(corpus_file))
        assert records[-1].document == Document("Cisplatin.", {"id": "b"}) and len(records) == 2
    # positive evidence: a document's passages, PubTator3's key, a collection's documents
    (tmp_path / "docs.json").write_text(json.dumps([pubtator3_document(ABSTRACTS[0])]) + "\n")
    (tmp_path / "pretty.json").write_text(json.dumps([pubtator3_document(ABSTRACTS[0])], indent=2))
    (tmp_path / "one.json").write_text(json.dumps({"source": "x", "documents": []}) + "\n")
    for name in ("docs.json", "pretty.json", "one.json"):
        assert bioc_format(tmp_path / name) == "bioc_json", name


def test_bioc_gold_locations_are_checked(tmp_path):
    """`pubtator_documents` (pubtator-eval's BioC gold): a location that is not integers
    or a discontinuous annotation is an error naming the document; sentence annotations
    are read."""
    from biomtl_allennlp.documents.bioc_reader import pubtator_documents

    def gold(locations, holder="passage"):
        document = pubtator3_document(ABSTRACTS[0])
        title = document["passages"][0]
        annotation = {"id": "9", "infons": {"type": "Disease"}, "text": "x", "locations": locations}
        if holder == "sentence":
            title["sentences"] = [{"offset": 0, "text": title["text"], "annotations": [annotation]}]
        else:
            title["annotations"] = [annotation]
        (tmp_path / "gold.json").write_text(json.dumps({"PubTator3": [document]}))
        return tmp_path / "gold.json"

    pmid = ABSTRACTS[0]["pmid"]
    with pytest.raises(InputFormatError, match=rf"gold\.json: document '{pmid}', annotation '9': a location's offset and length must be non-negative integers, got '0' and 5"):
        pubtator_documents(gold([{"offset": "0", "length": 5}]))
    with pytest.raises(InputFormatError, match=rf"document '{pmid}', annotation '9': a discontinuous annotation \(2 locations\)"):
        pubtator_documents(gold([{"offset": 0, "length": 3}, {"offset": 10, "length": 4}]))
    with pytest.raises(InputFormatError, match=rf"document '{pmid}', annotation '9': its location \(0, length 100000\) ends after the text"):
        pubtator_documents(gold([{"offset": 0, "length": 100000}]))
    (document,) = pubtator_documents(gold([{"offset": 2, "length": 5}], holder="sentence"))
    assert (2, 7, "Disease") in [(a.start, a.end, a.type) for a in document.entities]
