import gzip

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.medline_xml import MedlineDeletion, read_medline
from tests.corpus.medline_fixtures import (
    BOOK,
    DELETION,
    STRUCTURED,
    TITLE_ONLY,
    article_set,
    write,
)

EXPECTED = [
    Document.from_parts(
        "Cisplatin-induced nephrotoxicity in BRCA1 carriers.",
        "Renal failure & Töxicity after cisplatin. "
        "We measured H2O intake in 12 patients with Crohn’s disease.",
        {"pmid": "100"},
        line=4,
    ),
    Document.from_parts("Tamoxifen and breast cancer in BRCA2 carriers.", "", {"pmid": "101"}, line=20),
    Document.from_parts("Hereditary haemochromatosis", "HFE mutations cause iron overload.", {"pmid": "102"}, line=21),
    MedlineDeletion(pmids=["5", "6"], line=22),
]


@pytest.mark.parametrize("name", ["pubmed25n0001.xml", "pubmed25n0001.xml.gz"])
def test_citations_deletions_and_the_pubtator_text(tmp_path, name):
    path = write(tmp_path / name, article_set(STRUCTURED, TITLE_ONLY, BOOK, DELETION))
    records = list(read_medline(path))
    assert records == EXPECTED
    # title + " " + abstract parts (labels and OtherAbstract left out); the title alone
    assert records[0].text == (
        "Cisplatin-induced nephrotoxicity in BRCA1 carriers. Renal failure & Töxicity after "
        "cisplatin. We measured H2O intake in 12 patients with Crohn’s disease."
    )
    assert records[1].text == records[1].title
    assert records[0].to_json() == {"pmid": "100", "title": records[0].title, "abstract": records[0].abstract}


def test_records_stream_across_read_chunks(tmp_path, monkeypatch):
    import biomtl_allennlp.documents.medline_xml as medline_xml

    monkeypatch.setattr(medline_xml, "_CHUNK_BYTES", 7)  # splits tags and characters
    path = write(tmp_path / "a.xml", article_set(STRUCTURED, TITLE_ONLY, BOOK, DELETION))
    assert list(read_medline(path)) == EXPECTED


def test_not_well_formed_xml_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.xml", article_set(TITLE_ONLY, "<PubmedArticle><MedlineCitation>\n</Oops>"))
    with pytest.raises(InputFormatError, match=r"bad\.xml:6: not well-formed XML: mismatched tag"):
        list(read_medline(path))


def test_other_xml_and_missing_pmids_are_errors(tmp_path):
    path = write(tmp_path / "other.xml", "<?xml version='1.0'?>\n<html><body/></html>")
    with pytest.raises(InputFormatError, match=r"other\.xml:2: expected a PubmedArticleSet .*got <html>"):
        list(read_medline(path))
    no_pmid = "<PubmedArticle><MedlineCitation><Article><ArticleTitle>x</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    path = write(tmp_path / "nopmid.xml", article_set(TITLE_ONLY, no_pmid))
    with pytest.raises(InputFormatError, match=r"nopmid\.xml:5: <PubmedArticle> without a PMID"):
        list(read_medline(path))
    with pytest.raises(InputFormatError, match=r"missing\.xml: file not found"):
        list(read_medline(tmp_path / "missing.xml"))
    empty = write(tmp_path / "empty.xml", "")
    with pytest.raises(InputFormatError, match=r"empty\.xml:1: not well-formed XML: no element found"):
        list(read_medline(empty))


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    data = gzip.compress(article_set(STRUCTURED, TITLE_ONLY).encode())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match=r"cut\.xml\.gz: cannot be read"):
        list(read_medline(path))


def test_an_unresolved_entity_is_reported_not_silently_dropped(tmp_path):
    """issue 41: with a DOCTYPE naming the (unread) PubMed DTD, expat skips `&foo;`."""
    article = STRUCTURED.replace("Renal failure &amp;", "Renal &beta; failure &amp;").replace(
        "<CommentsCorrectionsList>", "<Note>&ignored;</Note><CommentsCorrectionsList>"
    )
    path = write(tmp_path / "entity.xml", article_set(article, TITLE_ONLY))
    first, second = read_medline(path)
    assert first.abstract.startswith("Renal  failure & Töxicity")  # left out, as expat does ...
    assert first.warnings == [  # ... and reported with file and line
        f"{path}:10: XML entity &beta; is not defined (the DTD is not read); it is left out of "
        "the text of <AbstractText>"
    ]  # fmt: skip
    assert second.warnings == []  # an entity outside the text (<Note>) changes nothing read
    # Without a DOCTYPE naming a DTD, expat rejects it outright.
    bare = write(tmp_path / "bare.xml", "<PubmedArticleSet>\n" + article + "\n</PubmedArticleSet>\n")
    with pytest.raises(InputFormatError, match=r"bare\.xml:8: not well-formed XML: undefined entity"):
        list(read_medline(bare))


def test_entity_expansion_bomb_stops_at_expats_limit(tmp_path):
    levels = "".join(f'<!ENTITY e{i} "{"&e%d;" % (i - 1) * 10}">' for i in range(1, 10))
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY e0 "lol">' + levels + "]>\n"
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>"
        "&e9;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>\n"
    )
    path = write(tmp_path / "bomb.xml", bomb)
    with pytest.raises(InputFormatError, match=r"bomb\.xml:3: not well-formed XML: limit on input amplification"):
        list(read_medline(path))


def test_external_entities_and_dtds_are_not_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    external = (
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM "{tmp_path / "evil.dtd"}" '
        f'[<!ENTITY leak SYSTEM "file://{secret}">]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>"
        "A &leak; B</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>\n"
    )
    (tmp_path / "evil.dtd").write_text('<!ENTITY leak2 "DTD READ">')
    (citation,) = read_medline(write(tmp_path / "external.xml", external))
    assert citation.title == "A  B" and "SECRET" not in citation.title
    assert citation.warnings == [
        f"{tmp_path / 'external.xml'}:3: XML entity &leak; is external ('file://{secret}') and not "
        "fetched; it is left out of the text of <ArticleTitle>"
    ]  # fmt: skip
