"""`research.record`: the committed record of a finished run holds its
metrics.json test scores and per-epoch devel F1, and its counts files reproduce test F1."""
import json
import re
import subprocess
import sys

import pytest

from biomtl_allennlp.evaluation.significance import load_counts, f1_of_sums
from tests.conftest import PROJECT_ROOT


@pytest.mark.usefixtures("demo_data_root")
def test_record_of_a_finished_run(tmp_path, finished_fixture_run):
    run = finished_fixture_run
    subprocess.run(
        [sys.executable, "-m", "research.record", str(run),
         "--store", str(tmp_path / "records"), "--counts-dir", str(tmp_path / "counts")],
        check=True, capture_output=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    record = json.loads((tmp_path / "records" / "fixture_run" / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert record["run"] == "fixture_run" and record["model"] == "fixture_run"
    assert record["seed"] == 7 and record["epochs_trained"] == 3
    assert record["best_epoch"] == metrics["best_epoch"]
    assert record["validation_macro_f1"] == record["epochs"][record["best_epoch"]]["validation_macro_f1"]
    assert record["training_sentences"] == {"demo-gene": 8, "demo-chemical": 8, "demo-disease": 8}
    for epoch in record["epochs"]:
        epoch_metrics = json.loads((run / f"metrics_epoch_{epoch['epoch']}.json").read_text())
        assert epoch["validation_macro_f1"] == round(100 * epoch_metrics["validation_macro_f1"], 2)
    for dataset, scores in record["test"].items():
        assert scores["f1"] == round(100 * metrics[f"test_{dataset}_f1"], 2)
        counts, _ = load_counts(str(tmp_path / "counts" / f"fixture_run.{dataset}.test.json"), dataset, "test")
        assert float(f1_of_sums(counts)) == pytest.approx(metrics[f"test_{dataset}_f1"], abs=1e-9)


def test_summary_of_the_committed_records(tmp_path):
    """`research.converged.summarize` over `docs/converged_runs/`: every seed's STM and MTM-CW test F1 is in
    its table, and the learning curves are drawn."""
    curves, figure4, page = tmp_path / "curves.png", tmp_path / "fig4.png", tmp_path / "page.md"
    result = subprocess.run(
        [sys.executable, "-m", "research.converged.summarize", "--curves", str(curves),
         "--figure4", str(figure4), "--markdown", str(page)],
        check=True, capture_output=True, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    records = PROJECT_ROOT / "docs" / "converged_runs"
    earlier = [json.loads(path.read_text()) for path in records.glob("*/run.json")]
    earlier = [run for run in earlier if "epochs" not in run]  # recorded from tables: test F1 alone
    assert len(earlier) == 11
    for run in earlier:
        if run["run"].startswith(("stm_", "mtm_cw_mixed_")):
            for scores in run["test"].values():
                assert f"{scores['f1']:.2f}" in result.stdout
    # The first two tables, STM vs MTM-CW on the four corpora and on BC5CDR + NCBI-disease
    # alone (`docs/significance/pair/`): one row per dataset.
    four, pair = result.stdout.split("\n## ")[:2]
    rows = {
        table: {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
        for table, text in (("four", four), ("pair", pair))
    }  # fmt: skip
    assert "only (`mtm_cw_pair`)" in pair.splitlines()[0] and set(rows["pair"]) == {"dataset", "BC5CDR", "NCBI-disease"}
    for path in (PROJECT_ROOT / "docs" / "significance").glob("**/*.json"):
        if path.stem in ("BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"):  # MTM-CW vs STM: in its dataset's row
            result_of_path = json.loads(path.read_text())
            seeds = "+".join(re.search(r"_s(\d+)", a).group(1) for a in result_of_path["a"])
            table = "pair" if "pair" in path.relative_to(PROJECT_ROOT / "docs" / "significance").parts else "four"
            assert f"{seeds}: {result_of_path['difference']:+.2f}, p " in rows[table][result_of_path["dataset"]]
    # Table 2 holds each full record's test P / R / F1 (seed 3 of STM BC5CDR here).
    stm = json.loads((records / "stm_BC5CDR_s3" / "run.json").read_text())["test"]["BC5CDR"]
    table2 = result.stdout.split("## Table 2")[1].split("## Table 3")[0]
    for measure, label in (("precision", "P"), ("recall", "R"), ("f1", "F1")):
        assert f"| BC5CDR | {label} | {stm[measure]:.2f} |" in table2
    # The time line of the two-corpus MTM-CW against its seed's two STMs, from the records.
    def to_best(run):
        record = json.loads((records / run / "run.json").read_text())
        return record["epochs"][record["best_epoch"]]["training_duration_s"]

    stms = to_best("stm_BC5CDR_s3") + to_best("stm_NCBI-disease_s3")
    assert (
        f"Seed 3: MTM-CW on BC5CDR + NCBI-disease to its best epoch {to_best('mtm_cw_pair_s3') / 60:.1f} min vs the "
        f"same seed's 2 STMs to theirs {stms / 60:.1f} min ({to_best('mtm_cw_pair_s3') / stms - 1:+.1%})"
    ) in result.stdout
    assert page.read_text().endswith(result.stdout)
    for png in (curves, figure4):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
