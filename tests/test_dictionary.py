import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.data.tokenizers import BiomedicalTokenizer
from biomtl_allennlp.dictionary import (
    EntityDictionary,
    build_dictionary_from_corpus,
    postprocess_tags,
    split_term,
)
from tests.run_allennlp import run_allennlp

SENTENCE = "loss of p53 in breast cancer".split()


@pytest.fixture
def dictionary_file(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text(
        "# user dictionary\n"
        "breast cancer\tDisease\n"
        "\n"
        "p53\tGENE\n"
        "Cancer\tDisease\n"
        "endo-beta-1,4-glucanase\tGENE\n"
        "IL-2\tGENE\n"
        "IL-2\tChemical\n"
    )
    return str(path)


def test_split_term():
    assert split_term("endo-beta-1,4-glucanase") == "endo - beta - 1 , 4 - glucanase".split()
    assert split_term("IL-2R (alpha)/p55") == ["IL", "-", "2R", "(", "alpha", ")", "/", "p55"]
    assert split_term("Ca2+ x_y") == ["Ca2", "+", "x", "_", "y"]


@pytest.mark.parametrize(
    "text", ["endo-beta-1,4-glucanase", "IL-2R (alpha)/p55", "Ca2+ x_y", "α-synuclein 5.2%"]
)
def test_split_term_agrees_with_the_tokenizer_on_plain_text(text):
    # One rule: on text without combining marks, invisible separators or long tokens,
    # dictionary terms split exactly as the tokenizer splits raw text.
    assert split_term(text) == [token.text for token in BiomedicalTokenizer().tokenize(text)]


def test_load_and_lookup(dictionary_file):
    dictionary = EntityDictionary.from_file(dictionary_file)
    assert len(dictionary) == 5
    assert dictionary.entity_types == ["Chemical", "Disease", "GENE"]
    assert "BREAST CANCER" in dictionary
    assert "endo - beta - 1 , 4 - glucanase" in dictionary
    assert ["endo-beta-1", ",", "4-glucanase"] in dictionary
    assert dictionary.types_of("IL-2") == ["GENE", "Chemical"]
    assert dictionary.types_of("unknown") == []

    case_sensitive = EntityDictionary.from_file(dictionary_file, lowercase=False)
    assert "Breast cancer" not in case_sensitive
    assert "breast cancer" in case_sensitive


def test_malformed_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("p53\tGENE\nbreast cancer Disease\n")
    with pytest.raises(
        InputFormatError, match=r"bad\.tsv:2: expected 'term<TAB>type', found 1 tab-separated"
    ):
        EntityDictionary.from_file(str(path))
    path.write_text("p53\tGENE\n\n\t GENE\n")
    with pytest.raises(InputFormatError, match=r"bad\.tsv:3: empty term or type: '\\t GENE'"):
        EntityDictionary.from_file(str(path))
    with pytest.raises(InputFormatError, match=r"missing\.tsv: file not found"):
        EntityDictionary.from_file(str(tmp_path / "missing.tsv"))


def test_a_leading_byte_order_mark_is_not_part_of_the_first_term(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_text("\ufeffp53\tGENE\n", encoding="utf-8")
    dictionary = EntityDictionary.from_file(str(path))
    assert dictionary.types_of("p53") == ["GENE"]
    assert dictionary.terms_per_type() == {"GENE": 1}


def test_match_longest_first(dictionary_file):
    dictionary = EntityDictionary.from_file(dictionary_file)
    assert dictionary.match(SENTENCE) == [(2, 2, "GENE"), (4, 5, "Disease")]
    assert dictionary.match(["cancer", "cells"]) == [(0, 0, "Disease")]
    # A term matches however the sentence was split.
    tokens = "the endo-beta-1 , 4-glucanase and IL-2 and IL - 2".split()
    assert dictionary.match(tokens) == [(1, 3, "GENE"), (5, 5, "GENE"), (7, 9, "GENE")]
    assert dictionary.match(["IL-2"], entity_types=["Chemical"]) == [(0, 0, "Chemical")]
    assert dictionary.match(["IL-2"], entity_types=["Disease"]) == []
    # Windows are limited to max_window corpus tokens: 9 tokens here.
    split = "the endo - beta - 1 , 4 - glucanase".split()
    assert dictionary.match(split) == []
    long_windows = EntityDictionary.from_file(dictionary_file, max_window=9)
    assert long_windows.match(split) == [(1, 9, "GENE")]
    short = EntityDictionary.from_file(dictionary_file, max_window=2)
    assert short.match(tokens) == [(5, 5, "GENE")]


def test_postprocess_tags(dictionary_file):
    dictionary = EntityDictionary.from_file(dictionary_file)
    assert postprocess_tags(SENTENCE, ["O"] * 6, dictionary) == [
        "O",
        "O",
        "U-GENE",
        "O",
        "B-Disease",
        "L-Disease",
    ]
    # Existing entity tags are never overwritten: "breast" is already tagged, so only the
    # O-run "cancer" can be matched (as the shorter term "cancer").
    tags = ["O", "O", "O", "O", "U-Chemical", "O"]
    assert postprocess_tags(SENTENCE, tags, dictionary) == [
        "O",
        "O",
        "U-GENE",
        "O",
        "U-Chemical",
        "U-Disease",
    ]
    assert tags == ["O", "O", "O", "O", "U-Chemical", "O"]
    tags = ["B-GENE", "I-GENE", "L-GENE", "O", "O", "O"]
    assert postprocess_tags(SENTENCE, tags, dictionary)[:3] == tags[:3]
    with pytest.raises(ValueError):
        postprocess_tags(SENTENCE, ["O"], dictionary)


IOBES_CORPUS = """-DOCSTART-\tO

loss\tO
of\tO
p53\tS-GENE
in\tO
breast\tB-Disease
cancer\tE-Disease

the\tO
P53\tS-GENE
gene\tO
p53\tS-Chemical
p53\tS-GENE

IL\tB-GENE
-\tI-GENE
2\tE-GENE
"""

BIO_CORPUS = """Breast\tB-Disease
cancer\tI-Disease
and\tO
BRCA1\tB-GENE
"""


def test_build_dictionary_from_corpus(tmp_path):
    iobes = tmp_path / "train.tsv"
    iobes.write_text(IOBES_CORPUS)
    bio = tmp_path / "bio.tsv"
    bio.write_text(BIO_CORPUS)

    dictionary = build_dictionary_from_corpus([str(iobes)], label_encoding="IOBES")
    assert dictionary.entity_types == ["Chemical", "Disease", "GENE"]
    # p53 is GENE three times (P53 included, lowercase) and Chemical once.
    assert dictionary.types_of("p53") == ["GENE", "Chemical"]
    assert dictionary.types_of("IL-2") == ["GENE"]
    assert dictionary.types_of("breast cancer") == ["Disease"]

    out = tmp_path / "dict.tsv"
    dictionary.save(str(out))
    assert out.read_text().splitlines() == [
        "breast cancer\tDisease",
        "IL - 2\tGENE",
        "P53\tGENE",
        "p53\tGENE",
        "p53\tChemical",
    ]
    reloaded = EntityDictionary.from_file(str(out))
    assert reloaded == dictionary
    assert reloaded.types_of("p53") == ["GENE", "Chemical"]
    assert reloaded.match(SENTENCE) == dictionary.match(SENTENCE)

    bio_dictionary = build_dictionary_from_corpus(str(bio), label_encoding="BIO")
    assert bio_dictionary.match("breast cancer and brca1".split()) == [
        (0, 1, "Disease"),
        (3, 3, "GENE"),
    ]
    frequent = build_dictionary_from_corpus([str(iobes)], "IOBES", min_count=2)
    assert frequent.types_of("p53") == ["GENE"] and "breast cancer" not in frequent


def test_build_rejects_wrong_encoding(tmp_path):
    iobes = tmp_path / "train.tsv"
    iobes.write_text(IOBES_CORPUS)
    with pytest.raises(InputFormatError, match=r"train.tsv:5: unknown tag prefix 'S'"):
        build_dictionary_from_corpus([str(iobes)], label_encoding="BIO")
    with pytest.raises(ValueError, match="unknown label encoding"):
        build_dictionary_from_corpus([str(iobes)], label_encoding="XYZ")


def test_cli_build(tmp_path, capsys, monkeypatch):
    iobes = tmp_path / "train.tsv"
    iobes.write_text(IOBES_CORPUS)
    bio = tmp_path / "bio.tsv"
    bio.write_text("Breast\tB-Disease\ncancer\tE-Disease\nand\tO\nBRCA1\tS-GENE\n")
    out = tmp_path / "dict.tsv"
    run_allennlp(monkeypatch, "dictionary", "build", "--out", out, iobes, bio)
    assert "Breast cancer\tDisease" in out.read_text()
    assert "BRCA1\tGENE" in out.read_text()
    assert "wrote 4 terms" in capsys.readouterr().err
    # With --include-package, as on the command line.
    run_allennlp(monkeypatch, "dictionary", "build", "--out", out, iobes, bio, "--include-package", "biomtl_allennlp")
    assert "wrote 4 terms" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "dictionary", "build", "--out", out, "--label-encoding", "BIO", iobes)
    assert exit_info.value.code == 1
    assert f"error: {iobes}:5: unknown tag prefix 'S'" in capsys.readouterr().err


def test_cli_help(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "dictionary", "--help")
    assert exit_info.value.code == 0
    assert "Entity dictionary tools" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_allennlp(monkeypatch, "dictionary", "build", "--help")
    assert "--min-count" in capsys.readouterr().out
