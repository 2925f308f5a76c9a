"""`scripts/shipped/model_card.py` on made-up measurements: every figure lands in the card,
and the offset targets compare the corpus's own head."""
import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_model_card_from_measurements(tmp_path):
    run, measured, card = tmp_path / "run", tmp_path / "measured", tmp_path / "MODEL_CARD.md"
    run.mkdir()
    measured.mkdir()
    for epoch, macro in enumerate([0.70, 0.75]):
        (run / f"metrics_epoch_{epoch}.json").write_text(json.dumps({"validation_macro_f1": macro}))
    (run / "metrics.json").write_text("{}")
    files = {
        "source.json": {"run": str(run), "epochs_finished": 2, "epoch": 1, "weights": "w"},
        "export.json": {"parameters": 1000, "bytes": 2**20, "vocabulary": {"tokens": 50, "char_stream": 9}},
        "devel.json": {f"{name}_{measure}": value for name, value in (("BC5CDR", 0.81), ("NCBI-disease", 0.80),
                       ("JNLPBA", 0.77)) for measure in ("precision", "recall", "f1")},
        "test.json": {f"{name}_{measure}": value for name, value in (("BC5CDR", 0.79), ("NCBI-disease", 0.78),
                      ("JNLPBA", 0.73)) for measure in ("precision", "recall", "f1")},
    }
    scores = {"pubtator_cdr_dev": (0.8050, 0.7900), "pubtator_ncbi_dev": (0.7950, 0.7700)}
    for name, (own, merged) in scores.items():
        for suffix, f1 in (("_own_head", own), ("", merged)):
            files[f"{name}{suffix}.json"] = {"overall": {"f1": f1}, "per_type": {"Disease": {"f1": f1}}}
    for name, content in files.items():
        (measured / name).write_text(json.dumps(content))
    (measured / "predict_throughput.md").write_text("| 64 | 1,000 | 1.0 | 1,000 | 5.0 |\n")
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "shipped" / "model_card.py"), str(run), str(measured), str(card)],
        check=True, capture_output=True,
    )  # fmt: skip
    text = card.read_text()
    assert "| CDR_DevelopmentSet.PubTator.txt | BC5CDR only | 80.50 | Disease 80.50 | 81.00 |" in text
    assert "| CDR_DevelopmentSet.PubTator.txt | all, merged | 79.00 | Disease 79.00 | 81.00 |" in text
    assert "| NCBIdevelopset_corpus.txt | NCBI-disease only | 79.50 | Disease 79.50 | 80.00 |" in text
    # Targets: own head; 80.50 vs 81.00 is within a point, 79.50 vs 80.00 too.
    assert "80.50 vs 81.00 | met |" in text and "79.50 vs 80.00 | met |" in text
    assert "| 64 | 1,000 | 1.0 | 1,000 | 5.0 |" in text
