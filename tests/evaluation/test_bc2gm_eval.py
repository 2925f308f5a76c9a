import json

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.evaluation.bc2gm_eval import (
    predictions_to_eval_lines,
    read_mentions,
    score,
    tags_to_mentions,
    write_predictions,
)
from tests.run_allennlp import run_allennlp

# Sentence S1: "The human p53 gene and MDM2 ." -> without spaces "Thehumanp53geneandMDM2."
# The 0-2, human 3-7, p53 8-10, gene 11-14, and 15-17, MDM2 18-21, . 22
S1_TOKENS = ["The", "human", "p53", "gene", "and", "MDM2", "."]
GOLD = """S1|3 14|human p53 gene
S1|18 21|MDM2
S2|0 4|BRCA1
S3|0 4|alpha
S3|5 9|betaa
"""
ALT = """S1|8 10|p53
S1|3 10|human p53
S2|6 9|gene
S3|0 9|alphabetaa
"""


@pytest.fixture
def files(tmp_path):
    gold = tmp_path / "GENE.eval"
    gold.write_text(GOLD)
    alt = tmp_path / "ALTGENE.eval"
    alt.write_text(ALT)
    return str(gold), str(alt)


def _score(files, lines):
    gold, alt = files
    return score(gold, alt, [mention for mention, _ in _parse(lines)])


def _parse(lines):
    result = []
    for line in lines:
        sid, offsets, text = line.split("|", 2)
        start, end = offsets.split()
        result.append(((sid, int(start), int(end)), text))
    return result


def test_exact_match(files):
    scores = _score(files, ["S1|18 21|MDM2"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 4)


def test_match_only_via_alternative(files):
    scores = _score(files, ["S1|8 10|p53"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 4)
    # Without the alternatives it is a false positive.
    gold, _ = files
    exact = score(gold, None, [("S1", 8, 10)])
    assert (exact["tp"], exact["fp"], exact["fn"]) == (0, 1, 5)


def test_alternative_must_overlap_a_gold_mention(files):
    # S2|6 9 is listed as an alternative but overlaps no gold mention of S2.
    scores = _score(files, ["S2|6 9|gene"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (0, 1, 5)
    # Alternatives only count in their own sentence.
    scores = _score(files, ["S2|8 10|p53"])
    assert (scores["tp"], scores["fp"]) == (0, 1)


def test_two_predictions_for_one_gold_mention_count_once(files):
    scores = _score(files, ["S1|8 10|p53", "S1|3 10|human p53"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 4)
    scores = _score(files, ["S1|3 14|human p53 gene", "S1|8 10|p53"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 4)


def test_matching_is_maximal(files):
    # S3|0 9 may stand for either S3 gold mention; S3|0 4 only for the first one.
    scores = _score(files, ["S3|0 9|alphabetaa", "S3|0 4|alpha"])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 3)


def test_mixed_case_scores(files):
    predictions = [
        "S1|18 21|MDM2",  # exact
        "S1|8 10|p53",  # alternative of "human p53 gene"
        "S1|3 10|human p53",  # second match of the same gold mention
        "S2|10 14|xyzzy",  # spurious
        "S2|10 14|xyzzy",  # a repeated line counts once
    ]  # S2 BRCA1 and both S3 mentions are missed
    scores = _score(files, predictions)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 2, 3)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.4)
    assert scores["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)


def test_tags_to_mentions():
    tags = ["O", "B-GENE", "I-GENE", "L-GENE", "O", "U-GENE", "O"]
    assert tags_to_mentions("S1", S1_TOKENS, tags) == [
        (("S1", 3, 14), "human p53 gene"),
        (("S1", 18, 21), "MDM2"),
    ]
    # BIO works too, and the type filter drops other types.
    bio = ["O", "B-GENE", "I-GENE", "I-GENE", "O", "B-Chemical", "O"]
    assert tags_to_mentions("S1", S1_TOKENS, bio, entity_type="GENE") == [
        (("S1", 3, 14), "human p53 gene")
    ]
    with pytest.raises(ValueError):
        tags_to_mentions("S1", S1_TOKENS, tags[:-1])


def test_predictions_file_and_cli(files, tmp_path, capsys, monkeypatch):
    gold, alt = files
    predictions = [
        ("S1", S1_TOKENS, ["O", "O", "U-GENE", "O", "O", "U-GENE", "O"]),
        ("S2", ["BRCA1", "is", "x"], ["O", "O", "U-GENE"]),
    ]
    assert predictions_to_eval_lines(predictions) == [
        "S1|8 10|p53",
        "S1|18 21|MDM2",
        "S2|7 7|x",
    ]
    pred_path = tmp_path / "pred.eval"
    write_predictions(str(pred_path), predictions)
    assert [m for m, _ in read_mentions(str(pred_path))] == [
        ("S1", 8, 10),
        ("S1", 18, 21),
        ("S2", 7, 7),
    ]
    out = tmp_path / "scores.json"
    argv = ["--gold", gold, "--alt", alt, "--predictions", pred_path, "--output-file", out]
    run_allennlp(monkeypatch, "bc2gm-eval", *argv, "--include-package", "biomtl_allennlp")
    scores = json.loads(out.read_text())
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 3)
    assert "TP: 2  FP: 1  FN: 3" in capsys.readouterr().out
    assert scores == score(gold, alt, str(pred_path))


def test_malformed_line_names_file_and_line(tmp_path, files, capsys, monkeypatch):
    bad = tmp_path / "bad.eval"
    bad.write_text("S1|0 3|p53\nS1|zero three|p53\n")
    with pytest.raises(InputFormatError, match=r"bad\.eval:2: expected 'sentence_id\|start end\|text'"):
        read_mentions(str(bad))
    bad.write_text("S1|3 0|p53\n")
    with pytest.raises(InputFormatError, match=r"bad\.eval:1: end before start"):
        read_mentions(str(bad))
    gold, _ = files
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "bc2gm-eval", "--gold", gold, "--predictions", bad)
    assert exit_info.value.code == 1
    assert f"error: {bad}:1: end before start" in capsys.readouterr().err


def test_a_leading_byte_order_mark_is_not_part_of_the_sentence_id(tmp_path):
    path = tmp_path / "bom.eval"
    path.write_text("\ufeffS1|0 3|p53\n", encoding="utf-8")
    assert read_mentions(str(path)) == [(("S1", 0, 3), "p53")]


def test_cli_help(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "bc2gm-eval", "--help")
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "alt_eval.perl" in help_text and "--predictions" in help_text
