"""`research.converged.per_corpus_selection` and `checkpoint_average` on the finished
fixture run (`finished_fixture_run`, every epoch's weights kept): what they score with
`allennlp evaluate` (through `evaluate_weights.py`) equals what the trainer measured on the same weights."""
import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT



def run_script(module, *args):
    return subprocess.run([sys.executable, "-m", f"research.converged.{module}", *map(str, args)],
                          check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)  # fmt: skip


@pytest.mark.usefixtures("demo_data_root")
def test_per_corpus_selection(finished_fixture_run):
    run_script("per_corpus_selection", finished_fixture_run)
    rows = json.loads((finished_fixture_run / "per_corpus_selection.json").read_text())
    metrics = json.loads((finished_fixture_run / "metrics.json").read_text())
    history = [json.loads((finished_fixture_run / f"metrics_epoch_{e}.json").read_text()) for e in range(3)]
    assert [row["dataset"] for row in rows] == ["demo-chemical", "demo-disease", "demo-gene"]
    for row in rows:
        dataset = row["dataset"]
        assert row["single_epoch"] == metrics["best_epoch"]
        # the single model's test F1, evaluated again on its head's corpus alone
        assert row["single_test_f1"] == pytest.approx(metrics[f"test_{dataset}_f1"], abs=1e-9)
        devel = [epoch[f"validation_{dataset}_f1"] for epoch in history]
        assert row["own_devel_f1"] == max(devel) and devel[row["own_epoch"]] == max(devel)


@pytest.mark.usefixtures("demo_data_root")
def test_checkpoint_average_of_one_epoch_is_that_epoch(finished_fixture_run):
    """The mean of one epoch's weights (`--last 1`) is that epoch's model: `evaluate` of it,
    and of the epoch's own weights (`--check`), give the trainer's validation scores."""
    run_script("checkpoint_average", finished_fixture_run, "--at", 2, "--last", 1, "--check")
    (row,) = json.loads((finished_fixture_run / "checkpoint_average.json").read_text())
    assert row["epochs"] == [2]
    for dataset, f1 in row["single"].items():
        assert row["averaged"][dataset] == pytest.approx(f1, abs=1e-9)
        assert row["single_evaluated"][dataset] == pytest.approx(f1, abs=1e-9)
