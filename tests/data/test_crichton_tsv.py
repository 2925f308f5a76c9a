import logging

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.data.crichton_tsv import read_sentences, two_column_lines
from tests.conftest import DEMO_DATA, PROJECT_ROOT


def test_demo_corpora_read_cleanly(caplog):
    with caplog.at_level(logging.WARNING):
        for name in ("demo-gene", "demo-chemical", "demo-disease"):
            sentences = list(read_sentences(str(DEMO_DATA / name / "train.tsv")))
            assert len(sentences) == 400
    assert "repaired" not in caplog.text


@pytest.mark.parametrize(
    "content, message",
    [
        ("a\tO\nb\tO\tX\n", r"bad\.tsv:2: expected 'token<TAB>label', found 3"),
        ("a\tO\nb O\n", r"bad\.tsv:2: expected 'token<TAB>label', found 1"),
        ("a\tO\n\nb\tX-GENE\n", r"bad\.tsv:3: unknown tag prefix 'X'"),
        ("a\tO\nb\tGENE\n", r"bad\.tsv:2: malformed tag 'GENE'"),
        ("a\tO\n\t O\n", r"bad\.tsv:2: empty token"),
        ("", r"bad\.tsv: no sentences \(empty file\)"),
        ("\n\n-DOCSTART-\tO\n\n", r"bad\.tsv: no sentences"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(InputFormatError, match=message):
        list(read_sentences(str(path)))


def test_prefix_not_in_declared_encoding(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tO\nb\tS-GENE\n")
    with pytest.raises(InputFormatError, match=r"bad\.tsv:2: unknown tag prefix 'S'.*BIO"):
        list(read_sentences(str(path), label_encoding="BIO"))


def test_ill_formed_sequences_are_repaired_and_counted(tmp_path, caplog):
    path = tmp_path / "odd.tsv"
    # I- after O starts an entity (conlleval); an IOBES B- never closed ends at the next tag;
    # an E- without a start is a one-token entity.
    path.write_text("a\tO\nb\tI-GENE\nc\tE-GENE\n\nd\tB-GENE\ne\tO\nf\tE-GENE\n")
    with caplog.at_level(logging.WARNING):
        sentences = list(read_sentences(str(path)))
    assert sentences[0][1] == ["O", "B-GENE", "L-GENE"]
    assert sentences[1][1] == ["U-GENE", "O", "U-GENE"]
    assert "3 IOBES tag sequence(s) did not follow the scheme" in caplog.text


def test_a_leading_byte_order_mark_is_stripped(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_text("\ufeffThe\tO\np53\tS-GENE\n\n\ufeffx\tO\n", encoding="utf-8")
    sentences = list(read_sentences(str(path)))
    assert sentences[0] == (["The", "p53"], ["O", "U-GENE"])
    # Only at the start of the file: elsewhere U+FEFF is part of the token, as before.
    assert sentences[1] == (["\ufeffx"], ["O"])
    # The same bytes as `utf-8-sig` reads them.
    assert path.read_text(encoding="utf-8-sig").startswith("The\t")


def test_two_column_lines(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("\ufeff# comment\na b\tX\r\n  \n#\tO\n", encoding="utf-8")
    assert list(two_column_lines(str(path), "term<TAB>type", skip_comments=True)) == [
        (2, ("a b", "X")),
        (3, None),
    ]
    # Without skip_comments a `#` line is data (a corpus token can be `#`), so the comment
    # line is a line of one field.
    with pytest.raises(InputFormatError, match=r"dict\.tsv:1: expected 'token<TAB>label', found 1"):
        list(two_column_lines(str(path), "token<TAB>label"))
    path.write_text("#\tO\na\tb\tc\n")
    with pytest.raises(InputFormatError) as caught:
        list(two_column_lines(str(path), "x<TAB>y"))
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    assert caught.value.message == "expected 'x<TAB>y', found 3 tab-separated field(s): 'a\\tb\\tc'"
    assert next(two_column_lines(str(path), "x<TAB>y")) == (1, ("#", "O"))


def test_missing_file(tmp_path):
    with pytest.raises(InputFormatError, match=r"nothing\.tsv: file not found"):
        list(read_sentences(str(tmp_path / "nothing.tsv")))


def test_no_module_imports_the_dataset_reader():
    # Only the package `__init__` may import from `dataset_readers` (no upward dependency).
    package = PROJECT_ROOT / "biomtl_allennlp"
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "biomtl_allennlp.dataset_readers" in path.read_text(encoding="utf-8")
    )
    assert importers == ["__init__.py"]
