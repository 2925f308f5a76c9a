import io
import re
from pathlib import Path
from typing import List

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.documents.pubtator import (
    clean_field,
    clean_pmid,
    format_pubtator,
    is_annotation_line,
    looks_like_pubtator,
    parse_text_line,
    read_pubtator,
    write_pubtator,
)

SHARED_PUBTATOR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pubtator"

SAMPLE = (
    "111|t|Lithium toxicity in a newborn.\n"
    "111|a|A newborn with lithium-induced atrial flutter.\n"
    "111\t0\t7\tLithium\tChemical\tD008094\n"
    "111\t8\t16\ttoxicity\tDisease\tD064420\n"
    "111\t62\t76\tatrial flutter\tDisease\tD001282\n"
    "111\tCID\tD008094\tD001282\n"
    "\n"
    "222|t|No abstract here\n"
    "222|a|\n"
    "222\t3\t11\tabstract\tDiseaseClass\n"
    "\n"
    "333|t|Composite case\n"
    "333|a|Breast and ovarian cancer.\n"
    "333\t15\t40\tBreast and ovarian cancer\tDisease\tD001943|D010051\t"
    "Breast cancer|ovarian cancer\n"
    "\n"
)


def lines(text: str) -> List[str]:
    return text.splitlines(keepends=True)


def test_read_sample() -> None:
    documents = list(read_pubtator(lines(SAMPLE)))
    assert [d.pmid for d in documents] == ["111", "222", "333"]
    first = documents[0]
    assert first.text == (
        "Lithium toxicity in a newborn. A newborn with lithium-induced atrial flutter."
    )
    assert first.title_end == 30
    assert first.entities[0] == Entity(0, 7, "Lithium", "Chemical", concept_id="D008094")
    assert first.entities[2].text == "atrial flutter"
    assert first.relations == [("CID", "D008094", "D001282")]
    for document in documents:
        for annotation in document.entities:
            assert document.text[annotation.start:annotation.end] == annotation.text
    second = documents[1]
    assert second.abstract == "" and second.text == "No abstract here"
    assert second.entities == [Entity(3, 11, "abstract", "DiseaseClass")]
    third = documents[2]
    assert third.entities[0].concept_id == "D001943|D010051"
    assert third.entities[0].extra_columns == ("Breast cancer|ovarian cancer",)


def test_crlf_leading_blank_lines_and_no_final_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    text = "\r\n\r\n" + SAMPLE.rstrip("\n").replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    documents = list(read_pubtator(path))
    assert documents == list(read_pubtator(lines(SAMPLE)))
    assert documents == list(read_pubtator(str(path)))


def test_documents_without_blank_lines_between_them() -> None:
    text = SAMPLE.replace("\n\n", "\n")
    assert list(read_pubtator(lines(text))) == list(read_pubtator(lines(SAMPLE)))


def test_round_trip(tmp_path: Path) -> None:
    documents = list(read_pubtator(lines(SAMPLE)))
    path = tmp_path / "out.txt"
    write_pubtator(documents, path)
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert list(read_pubtator(path)) == documents
    buffer = io.StringIO()
    write_pubtator(documents, buffer)
    assert buffer.getvalue() == SAMPLE
    assert format_pubtator(documents[1]) == (
        "222|t|No abstract here\n222|a|\n222\t3\t11\tabstract\tDiseaseClass\n"
    )


def test_round_trip_of_unicode_text(tmp_path: Path) -> None:
    document = Document.from_parts(
        "α-Synuclein | café 👍", "Naïve e\u0301 text.", {"pmid": "9"},
        entities=[Entity(0, 11, "α-Synuclein", "Gene", concept_id="")],
    )
    document.entities.append(Entity(21, 26, "Naïve", "X"))
    assert document.text[21:26] == "Naïve"
    path = tmp_path / "u.txt"
    write_pubtator([document], path)
    assert list(read_pubtator(path)) == [document]


def test_whitespace_padded_mention_column_is_accepted() -> None:
    text = "5|t|Some febrile seizures here.\n5|a|\n5\t13\t21\tseizures  \tDisease\tD1\n"
    (document,) = read_pubtator(lines(text))
    assert document.entities == [Entity(13, 21, "seizures", "Disease", concept_id="D1")]


@pytest.mark.parametrize(
    "bad_line, line_number, message",
    [
        ("999\t0\t7\tLithium\tChemical\tD1\n", 3, "mention of PMID 999 inside document PMID 111"),
        ("111\tzero\t7\tLithium\tChemical\tD1\n", 3, "offsets must be integers"),
        ("111\t0\t500\tLithium\tChemical\tD1\n", 3, "outside the text"),
        ("111\t-1\t7\tLithium\tChemical\tD1\n", 3, "outside the text"),
        ("111\t1\t8\tLithium\tChemical\tD1\n", 3, "does not match the text"),
    ],
)
def test_bad_mentions(tmp_path: Path, bad_line: str, line_number: int, message: str) -> None:
    sample = lines(SAMPLE)
    sample.insert(2, bad_line)
    path = tmp_path / "bad.txt"
    path.write_text("".join(sample), encoding="utf-8")
    expected = re.escape(f"{path}:{line_number}: ") + ".*" + re.escape(message)
    with pytest.raises(InputFormatError, match=expected) as caught:
        list(read_pubtator(path))
    assert (caught.value.path, caught.value.line) == (str(path), line_number)
    # With strict=False the mention is skipped and reported.
    problems: List[str] = []
    documents = list(read_pubtator(path, strict=False, problems=problems))
    assert documents == list(read_pubtator(lines(SAMPLE)))
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line_number}: ")


@pytest.mark.parametrize(
    "text, line_number, message",
    [
        ("111|a|Abstract first.\n", 1, "abstract of PMID 111 before its title line"),
        ("111|t|Title.\n222|a|Other abstract.\n", 2, "abstract of PMID 222 inside document"),
        ("111\t0\t3\tabc\tX\n", 1, "annotation line before any title line"),
        ("111|t|Title.\n111|a|A.\nnot a pubtator line\n", 3, "expected 'PMID|t|title'"),
        ("111|t|Title.\n111|a|A.\n111\t0\t3\n", 3, "got 3 columns"),
        ("111|x|Title.\n", 1, "expected 'PMID|t|title'"),
    ],
)
def test_structural_errors(text: str, line_number: int, message: str) -> None:
    expected = re.escape(f"<lines>:{line_number}: ") + ".*" + re.escape(message)
    with pytest.raises(InputFormatError, match=expected):
        list(read_pubtator(lines(text)))
    with pytest.raises(InputFormatError, match=re.escape(f"<lines>:{line_number}: ")):
        list(read_pubtator(lines(text), strict=False))


def test_file_object_name_is_used_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("1|t|T.\n1|a|A.\n1\t0\t9\tT.\tX\n", encoding="utf-8")
    with open(path, encoding="utf-8") as handle:
        with pytest.raises(InputFormatError, match=re.escape(f"{path}:3: ")):
            list(read_pubtator(handle))


def test_a_leading_byte_order_mark_is_not_part_of_the_first_pmid(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_text("\ufeff" + SAMPLE, encoding="utf-8")
    assert list(read_pubtator(path)) == list(read_pubtator(lines(SAMPLE)))
    assert list(read_pubtator(lines("\ufeff" + SAMPLE)))[0].pmid == "111"


def test_documents_are_read_as_a_stream() -> None:
    # The first document comes before the bad line further down is read.
    documents = read_pubtator(lines(SAMPLE + "bad line\n"))
    assert next(documents).pmid == "111"
    with pytest.raises(InputFormatError, match=r"<lines>:16: expected 'PMID\|t\|title'"):
        list(documents)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=re.escape(f"{tmp_path / 'none.txt'}: file not found")):
        list(read_pubtator(tmp_path / "none.txt"))


def test_line_rules() -> None:
    assert parse_text_line("PMC7|t|A | title\twith tab") == ("PMC7", "t", "A | title\twith tab")
    assert parse_text_line("7|a|") == ("7", "a", "")
    assert parse_text_line("7|x|title") is None and parse_text_line("7\t0\t1") is None
    assert is_annotation_line("7\t0\t3\tabc\tX") and is_annotation_line("PMC7\tCID\ta\tb")
    assert not is_annotation_line("a|b\tc") and not is_annotation_line("\t7")
    assert looks_like_pubtator("123|t|Title") and looks_like_pubtator("123|a|")
    assert not looks_like_pubtator("PMC7|t|Title") and not looks_like_pubtator("123\t0\t3")
    assert looks_like_pubtator("123\t0\t3", after_pubtator_lines=True)


def test_cleaning_keeps_lengths() -> None:
    value = "a\tb\nc\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029d \ud800e"
    cleaned = clean_field(value)
    assert cleaned == "a b c" + " " * 9 + "d \ufffde"
    assert len(cleaned) == len(value)
    assert clean_pmid("12 3|4\t") == "12_3/4_"
    # Documents written with cleaned fields read back.
    document = Document.from_parts(clean_field("T\tx"), clean_field("A\nb"), {"pmid": "1"})
    assert list(read_pubtator(lines(format_pubtator(document)))) == [document]
    assert format_pubtator(document, text_lines=False) == ""


@pytest.mark.skipif(not SHARED_PUBTATOR.is_dir(), reason="shared PubTator data not available")
@pytest.mark.parametrize(
    "name, documents, mentions",
    [
        ("CDR_TrainingSet.PubTator.txt", 500, 9385),
        ("CDR_DevelopmentSet.PubTator.txt", 500, 9591),
        ("NCBItrainset_corpus.txt", 593, 5145),
        ("NCBIdevelopset_corpus.txt", 100, 787),
    ],
)
def test_real_corpora_parse_without_errors(name: str, documents: int, mentions: int) -> None:
    parsed = list(read_pubtator(SHARED_PUBTATOR / name))
    assert len(parsed) == documents
    assert sum(len(d.entities) for d in parsed) == mentions
