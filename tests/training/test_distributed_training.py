"""`allennlp train` with two gloo workers (`"distributed": {"cuda_devices": [-1, -1]}`):
multi-task batches on both workers, and validation span metrics summed over the workers
equal to `allennlp evaluate` of the archived model in one process."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DEMO_DATA, FIXTURES, PROJECT_ROOT
from tests.run_allennlp import run_allennlp

HEADS = {"demo-gene": "GENE", "demo-chemical": "Chemical", "demo-disease": "Disease"}


@pytest.mark.usefixtures("demo_data_root")
def test_two_cpu_workers_train_and_sum_their_span_metrics(tmp_path, monkeypatch):
    run = tmp_path / "run"
    # One thread per worker: two workers share the cores.
    environment = dict(os.environ, BIOMTL_DATA_ROOT=str(DEMO_DATA), OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, "-m", "allennlp", "train", str(FIXTURES / "configs" / "mtm_cw_distributed.jsonnet"),
         "-s", str(run), "--include-package", "biomtl_allennlp"],
        cwd=PROJECT_ROOT, env=environment, check=True, capture_output=True,
    )
    trained = json.loads((run / "metrics.json").read_text())
    assert {"peak_worker_0_memory_MB", "peak_worker_1_memory_MB"} <= set(trained)

    evaluated = tmp_path / "devel.json"
    run_allennlp(monkeypatch, "evaluate", run / "model.tar.gz", "devel",
                 "--output-file", evaluated, "--include-package", "biomtl_allennlp")
    single_process = json.loads(evaluated.read_text())

    keys = [f"{head}{kind}_{measure}" for head, entity_type in HEADS.items()
            for kind in ("", f"_{entity_type}") for measure in ("precision", "recall", "f1")]
    keys.append("macro_f1")
    assert {key: trained[f"best_validation_{key}"] for key in keys} == pytest.approx(
        {key: single_process[key] for key in keys}, abs=1e-12
    )
    # Non-zero counts on some head, so that the sums over workers were tested.
    assert any(single_process[f"{head}_precision"] > 0 for head in HEADS)
