"""`research.converged.lanes`: lane plan lines become the research runner's runs, which resume
an interrupted run folder, record a finished one and skip a committed one."""
import json
import sys

import pytest

from research import run as runner
from research.converged.lanes import PLANS, lane_overrides, read_plan
from research.plan import Budget
from research.run import execute
from research.store import is_complete, restore_from_store
from tests.research.test_reproduce import FINISH

PLAN = """# a comment
stm_BC5CDR_s3 training_configs/budget/stm.jsonnet 5 50 3 "dataset_reader.datasets": ["BC5CDR"]

mtm_cw_pair_s2 training_configs/budget/mtm_cw.jsonnet 5 50 2 "dataset_reader.datasets": ["BC5CDR", "NCBI-disease"], "model.loss_normalization": "sum"
"""


def test_plan_lines_become_runs(tmp_path):
    plan = tmp_path / "lane_x.plan"
    plan.write_text(PLAN)
    stm, mtm = read_plan(plan, tmp_path / "runs", counts_dir=tmp_path / "counts")
    assert (stm.name, stm.model, stm.datasets, stm.seed) == ("stm_BC5CDR_s3", "stm_BC5CDR", ["BC5CDR"], 3)
    assert stm.run_dir == tmp_path / "runs" / "stm_BC5CDR_s3" and stm.config == "training_configs/budget/stm.jsonnet"
    assert stm.overrides == {
        "datasets_for_vocab_creation": None, "trainer.num_epochs": 50, "trainer.patience": 5,
        "trainer.checkpointer": {"keep_most_recent_by_count": None}, "evaluate_on_test": True,
        "random_seed": 3, "numpy_seed": 3, "pytorch_seed": 3, "dataset_reader.datasets": ["BC5CDR"],
    }  # fmt: skip
    assert mtm.overrides["model.loss_normalization"] == "sum" and mtm.datasets == ["BC5CDR", "NCBI-disease"]
    assert stm.recover and stm.count_sentences and not stm.record_budget and stm.counts_dir == tmp_path / "counts"
    assert lane_overrides(10, 100, 1, "")["trainer.patience"] == 10


def test_a_bad_line_names_the_plan_and_line(tmp_path):
    plan = tmp_path / "lane_x.plan"
    plan.write_text(PLAN.replace("5 50 2", "five 50 2"))
    with pytest.raises(ValueError, match=r"lane_x\.plan:4: expected NAME CONFIG PATIENCE"):
        read_plan(plan, tmp_path)
    plan.write_text(PLAN.replace('["BC5CDR"]\n', '["BC5CDR"\n'))
    with pytest.raises(ValueError, match=r"lane_x\.plan:2: "):
        read_plan(plan, tmp_path)


def test_the_committed_plans_read():
    assert PLANS and all(read_plan(plan, PLANS[0].parent) for plan in PLANS)


def test_lanes_resume_record_and_skip(tmp_path, monkeypatch, capsys):
    plan = tmp_path / "lane_x.plan"
    plan.write_text(PLAN + PLAN.replace("_s3", "_s4").replace(" 3 ", " 4 ").replace("_s2", "_s5").replace(" 2 ", " 5 "))
    runs_dir, store = tmp_path / "runs", tmp_path / "store"
    runs = read_plan(plan, runs_dir, counts_dir=None)
    for run in runs:
        run.count_sentences = False  # the fake runs' configs name no reader
    resumed, finished, committed, fresh = runs
    trained = []

    def command(run, include_force=False, recover=False):
        trained.append((run.name, include_force, recover))
        script = FINISH + "import sys\nos.makedirs(sys.argv[1], exist_ok=True)\nfinish(sys.argv[1], json.loads(sys.argv[2]), 1)\n"
        return [sys.executable, "-c", script, str(run.run_dir), json.dumps(run.datasets)]

    monkeypatch.setattr(runner, "train_command", command)
    resumed.run_dir.mkdir(parents=True)  # interrupted: resumed, not started afresh
    finished.run_dir.mkdir(parents=True)  # finished, never recorded
    exec(FINISH + "finish(run_dir, datasets, 3)", {"run_dir": str(finished.run_dir), "datasets": finished.datasets})
    (store / committed.name).mkdir(parents=True)  # finished on another machine
    (store / committed.name / "run.json").write_text(json.dumps({
        "run": committed.name, "signature": {"config": committed.config, "overrides": committed.overrides},
        "test": {d: {"f1": 80.0} for d in committed.datasets},
    }))
    assert restore_from_store(runs, store) == 1
    execute(runs, Budget(threads=1), tmp_path, runs_dir, None, None, jobs=1, store_dir=store)
    assert trained == [(resumed.name, False, True), (fresh.name, False, False)]
    assert "finished earlier, recorded" in capsys.readouterr().out
    assert all(is_complete(run, None) for run in runs)
    record = json.loads((store / finished.name / "run.json").read_text())
    assert record["epochs_trained"] == 4 and record["command"] is None and "budget" not in record
    assert json.loads((store / resumed.name / "run.json").read_text())["epochs_trained"] == 2


def test_the_train_devel_runs_are_recorded():
    """`research.train_devel`'s two runs: the committed records are those of its plan (a rerun
    trains nothing), with the metrics' test F1."""
    from research.train_devel import STORE, plan

    runs = plan(STORE.parent / "no_runs_here")
    assert [run.overrides["train_data_path"] for run in runs] == ["train", "train+devel"]
    for run in runs:
        record = json.loads((STORE / run.name / "run.json").read_text())
        assert record["signature"] == {"config": run.config, "overrides": run.overrides}
        metrics = json.loads((STORE / run.name / "metrics.json").read_text())
        assert record["test"]["BC5CDR"]["f1"] == round(100 * metrics["test_BC5CDR_f1"], 2)


def test_dry_run_prints_the_runs_to_train(tmp_path, capsys):
    from research.converged.lanes import main

    plan = tmp_path / "lane_x.plan"
    plan.write_text(PLAN.replace("mtm_cw_pair_s2", "mtm_cw_pair_s9").replace(" 5 50 2 ", " 5 50 9 "))
    (tmp_path / "runs" / "mtm_cw_pair_s9").mkdir(parents=True)  # interrupted: resumed
    assert main([str(plan), str(tmp_path / "runs"), "--threads", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "stm_BC5CDR_s3: recorded"  # committed in docs/converged_runs/
    assert out[2].startswith("mtm_cw_pair_s9: ") and "OMP_NUM_THREADS=2" in out[2]
    assert " allennlp train training_configs/budget/mtm_cw.jsonnet " in out[2] and out[2].endswith(" --recover")
    assert '"random_seed": 9' in out[2] and '"model.loss_normalization": "sum"' in out[2]
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["mtm_cw_pair_s9"]
