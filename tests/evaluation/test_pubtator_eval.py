import json

import pytest
from allennlp.predictors import Predictor

from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.documents.pubtator import write_pubtator
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.evaluation.pubtator_eval import (
    evaluate,
    gold_mentions,
    predicted_mentions,
    score_mentions,
)
from biomtl_allennlp.predictors.entity_merging import TypeMapper
from tests.predictors.tiny_model import tiny_archive_path
from tests.run_allennlp import run_allennlp


def document(pmid, title, abstract, *mentions):
    text = Document.from_parts(title, abstract).text
    annotations = []
    for mention, entity_type in mentions:
        start = text.index(mention)
        annotations.append(Entity(start, start + len(mention), mention, entity_type))
    return Document.from_parts(title, abstract, {"pmid": pmid}, entities=annotations)


GOLD = [
    document(
        "1", "Cisplatin nephrotoxicity.", "Anemia after cisplatin.",
        ("Cisplatin", "Chemical"), ("nephrotoxicity", "SpecificDisease"),
        ("Anemia", "DiseaseClass"), ("cisplatin", "Chemical"),
    ),
    document("2", "No entities here", ""),
    document("3", "Hydrogen peroxide", "and IL-2.", ("Hydrogen peroxide", "Chemical")),
]  # fmt: skip


class FakePredictor:
    """Returns fixed entities per PMID (as the real predictor's output)."""

    def __init__(self, entities):
        self.entities = entities
        self.tokens_processed = 0
        self.calls = []

    def predict_batch_json(self, inputs):
        self.calls.append(len(inputs))
        outputs = []
        for item in inputs:
            text = f"{item['title']} {item['abstract']}" if item["abstract"] else item["title"]
            self.tokens_processed += len(text.split())
            entities = [
                {"start": s, "end": e, "type": t, "text": text[s:e]}
                for s, e, t in self.entities.get(item["pmid"], [])
            ]
            outputs.append({"pmid": item["pmid"], "text": text, "entities": entities})
        return outputs


def test_counting_with_a_fake_predictor():
    predictor = FakePredictor(
        {
            # doc 1: Cisplatin exact (TP), nephrotoxicity one char short (FP + FN),
            # Anemia exact as Disease (TP), second cisplatin missed (FN), a gene (ignored).
            "1": [(0, 9, "Chemical"), (10, 23, "Disease"), (26, 32, "Disease"), (0, 9, "Gene/Protein")],
            # doc 2: a false positive chemical.
            "2": [(3, 11, "Chemical")],
            # doc 3: right span, wrong type (FP Disease, FN Chemical); the same span twice.
            "3": [(0, 17, "Disease"), (0, 17, "Disease"), (22, 26, "Gene/Protein")],
        }
    )
    metrics = evaluate(predictor, GOLD, batch_size=2)
    assert predictor.calls == [2, 1]
    chemical, disease = metrics["per_type"]["Chemical"], metrics["per_type"]["Disease"]
    assert (chemical["tp"], chemical["fp"], chemical["fn"]) == (1, 1, 2)
    assert (disease["tp"], disease["fp"], disease["fn"]) == (1, 2, 1)
    assert chemical["precision"] == pytest.approx(1 / 2)
    assert chemical["recall"] == pytest.approx(1 / 3)
    assert chemical["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    overall = metrics["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"]) == (2, 3, 3)
    assert overall["precision"] == pytest.approx(2 / 5) and overall["recall"] == pytest.approx(2 / 5)
    assert metrics["ignored_predicted_types"] == {"Gene/Protein": 2}
    assert set(metrics["per_type"]) == {"Chemical", "Disease"}
    throughput = metrics["throughput"]
    assert throughput["documents"] == 3 and throughput["tokens"] == 12
    assert throughput["tokens_per_second"] > 0


def test_score_mentions_edge_cases():
    mapper = TypeMapper({"Modifier": "Modifier"})
    gold = gold_mentions(GOLD, mapper)
    assert ("1", 10, 24, "Disease") in gold
    assert predicted_mentions({"1": [{"start": 0, "end": 9, "type": "chemical"}]}, mapper) == {
        ("1", 0, 9, "Chemical")
    }
    entity = Entity(0, 9, "Cisplatin", "chemical", "BC5CDR", 0.5)
    assert predicted_mentions({"1": [entity]}, mapper) == {("1", 0, 9, "Chemical")}
    # Explicit types: a type without gold mentions has only false positives.
    metrics = score_mentions(gold, {("2", 0, 2, "Gene/Protein")}, types=["Gene/Protein"])
    assert metrics["per_type"]["Gene/Protein"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 1, "fn": 0,
    }  # fmt: skip
    assert metrics["ignored_predicted_types"] == {}
    perfect = score_mentions(gold, set(gold))
    assert perfect["overall"]["f1"] == 1.0 and perfect["overall"]["tp"] == len(gold) == 5
    empty = score_mentions(set(), set())
    assert empty["per_type"] == {} and empty["overall"]["f1"] == 0.0


def test_predictor_errors_are_reported():
    class Failing(FakePredictor):
        def predict_batch_json(self, inputs):
            return [{"error": "boom"} for _ in inputs]

    with pytest.raises(ValueError, match="PMID 1: the predictor failed: boom"):
        evaluate(Failing({}), GOLD)


def test_end_to_end_with_the_tiny_archive(tmp_path, capsys, monkeypatch):
    archive = tiny_archive_path()
    gold_path = tmp_path / "gold.PubTator"
    write_pubtator(GOLD, gold_path)
    output_file = tmp_path / "metrics.json"
    run_allennlp(monkeypatch, "pubtator-eval", archive, gold_path, "--output-file", output_file,
                 "--batch-size", 2, "--type-map", '{"DiseaseClass": "Disease"}',
                 "--predictor-args", '{"overlap_policy": "keep_all"}',
                 "--include-package", "biomtl_allennlp")  # fmt: skip
    metrics = json.loads(output_file.read_text())
    printed = capsys.readouterr().out
    # (Training the tiny archive may have printed before.)
    assert json.loads(printed[printed.rindex('{\n  "per_type"') :]) == metrics
    assert set(metrics["per_type"]) == {"Chemical", "Disease"}
    for values in list(metrics["per_type"].values()) + [metrics["overall"]]:
        assert 0.0 <= values["precision"] <= 1.0 and 0.0 <= values["f1"] <= 1.0
    assert metrics["per_type"]["Chemical"]["tp"] + metrics["per_type"]["Chemical"]["fn"] == 3
    assert metrics["per_type"]["Disease"]["tp"] + metrics["per_type"]["Disease"]["fn"] == 2
    assert metrics["throughput"]["documents"] == 3
    assert metrics["throughput"]["tokens"] == 7 + 3 + 7
    assert metrics["throughput"]["tokens_per_second"] > 0

    # The same counts as scoring the predictor's own output.
    predictor = Predictor.from_path(archive, "biomedical_entities", overlap_policy="keep_all")
    outputs = predictor.predict_batch_json(
        [{"pmid": d.pmid, "title": d.title, "abstract": d.abstract} for d in GOLD]
    )
    mapper = TypeMapper()
    predicted = predicted_mentions({o["pmid"]: o["entities"] for o in outputs}, mapper)
    expected = score_mentions(gold_mentions(GOLD, mapper), predicted)
    assert expected["overall"] == metrics["overall"]


def test_cli_errors_and_help(tmp_path, capsys, monkeypatch):
    gold_path = tmp_path / "gold.PubTator"
    gold_path.write_text("1|t|Title\n1|a|\n1\t0\t3\tTix\tChemical\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "pubtator-eval", "model.tar.gz", gold_path)
    assert exit_info.value.code == 1
    assert f"error: {gold_path}:3: mention 'Tix' does not match" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_allennlp(monkeypatch, "pubtator-eval", "model.tar.gz", gold_path, "--type-map", "[1]")
    assert "error: --type-map: expected a JSON object" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "pubtator-eval", "--help")
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "exact start, end and" in help_text and "--predictor-args" in help_text
