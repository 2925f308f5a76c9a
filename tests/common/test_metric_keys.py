"""Metric key names, written and read without a list of datasets."""
import pytest

from biomtl_allennlp.common.metric_keys import (
    MACRO_F1,
    MetricKey,
    datasets_in,
    metric_key,
    parse_metric_keys,
)


def _overall(dataset, prefix=""):
    return [prefix + metric_key(dataset, m) for m in ("precision", "recall", "f1")]


def test_metric_key():
    assert metric_key("BC2GM", "f1") == "BC2GM_f1"
    assert metric_key("JNLPBA", "recall", "cell_line") == "JNLPBA_cell_line_recall"
    with pytest.raises(ValueError, match="unknown measure 'f2'"):
        metric_key("BC2GM", "f2")


def test_types_with_underscores_and_datasets_with_hyphens():
    keys = (
        _overall("JNLPBA") + ["JNLPBA_cell_line_f1", "JNLPBA_protein_precision"]
        + _overall("AnatEM-IOBES") + ["AnatEM-IOBES_Cell_f1", MACRO_F1, "loss"]
    )
    assert datasets_in(keys) == ["JNLPBA", "AnatEM-IOBES"]
    parsed = parse_metric_keys(keys)
    assert parsed["JNLPBA_cell_line_f1"] == MetricKey("JNLPBA", "cell_line", "f1")
    assert parsed["JNLPBA_protein_precision"] == MetricKey("JNLPBA", "protein", "precision")
    assert parsed["JNLPBA_f1"] == MetricKey("JNLPBA", None, "f1")
    assert parsed["AnatEM-IOBES_recall"] == MetricKey("AnatEM-IOBES", None, "recall")
    assert parsed["AnatEM-IOBES_Cell_f1"] == MetricKey("AnatEM-IOBES", "Cell", "f1")
    assert MACRO_F1 not in parsed and "loss" not in parsed
    assert len(parsed) == 9


def test_prefixes_of_allennlp_train():
    keys = (
        _overall("NCBI-disease", "test_") + ["test_NCBI-disease_Disease_f1"]
        + _overall("BC2GM", "best_validation_") + _overall("BC2GM", "validation_")
        + _overall("BC2GM", "training_") + ["best_epoch", "test_macro_f1"]
    )
    # Only test_ (and unprefixed) keys are results: BC2GM appears in validation keys only.
    assert datasets_in(keys) == ["NCBI-disease"]
    parsed = parse_metric_keys(keys)
    assert parsed == {
        "test_NCBI-disease_precision": MetricKey("NCBI-disease", None, "precision"),
        "test_NCBI-disease_recall": MetricKey("NCBI-disease", None, "recall"),
        "test_NCBI-disease_f1": MetricKey("NCBI-disease", None, "f1"),
        "test_NCBI-disease_Disease_f1": MetricKey("NCBI-disease", "Disease", "f1"),
    }


def test_a_dataset_needs_its_three_overall_keys():
    # No BC5CDR_precision/recall: BC5CDR is not a dataset of these keys, and neither is
    # "macro" (macro_f1 alone).
    assert datasets_in(["BC5CDR_f1", "BC5CDR_Chemical_f1", "macro_f1"]) == []
    assert parse_metric_keys(["BC5CDR_f1", "macro_f1"]) == {}
    # A per-type prefix is not a dataset even with three keys, when its dataset is one.
    keys = _overall("BC5CDR") + [
        metric_key("BC5CDR", m, "Chemical") for m in ("precision", "recall", "f1")
    ]
    assert datasets_in(keys) == ["BC5CDR"]
    assert parse_metric_keys(keys)["BC5CDR_Chemical_recall"] == MetricKey(
        "BC5CDR", "Chemical", "recall"
    )
