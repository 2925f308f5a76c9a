"""The project's one P/R/F1 formula and its one markdown table writer."""
import pytest

from biomtl_allennlp.common.markdown import markdown_table
from biomtl_allennlp.common.scoring import precision_recall_f1


def test_precision_recall_f1():
    scores = precision_recall_f1(3, 1, 2)
    assert scores["precision"] == 0.75 and scores["recall"] == 0.6
    assert scores["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (3, 1, 2)
    # Undefined ratios are 0, as allennlp's SpanBasedF1Measure reports them.
    assert precision_recall_f1(0, 0, 4)["precision"] == 0.0
    assert precision_recall_f1(0, 3, 0)["recall"] == 0.0
    assert precision_recall_f1(0, 0, 0)["f1"] == 0.0


def test_markdown_table():
    assert markdown_table(["a", 1], [["x|y", 2.5], [None, ""]]) == (
        "| a | 1 |\n|---|---|\n| x\\|y | 2.5 |\n| None |  |"
    )
    with pytest.raises(ValueError, match="row 2 has 1 cells, header 2"):
        markdown_table(["a", "b"], [["1", "2"], ["3"]])
