"""
Precision, recall and F1 from counts: the one formula of the project (span metrics of the
reproduction report, character-offset PubTator evaluation, BioCreative II GM evaluation).
"""
from typing import Dict


def precision_recall_f1(tp: int, fp: int, fn: int) -> Dict[str, float]:
    """
    `{"precision", "recall", "f1", "tp", "fp", "fn"}` with precision/recall/F1 as fractions.

    An undefined ratio (no predictions: precision; no gold: recall; both zero: F1) is 0.0,
    as allennlp's `SpanBasedF1Measure` reports it (it adds 1e-13 to each denominator, which
    changes no printed digit; here the ratios are exact).
    """
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
