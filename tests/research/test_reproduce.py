"""
The reproduction (`research`, run by `python -m research.reproduce`): command
construction, resumption and the results-writing step (no training).
"""
import json
import subprocess
import sys

import pytest

from research import run as runner
from research.plan import (
    DEFAULT_MODELS,
    DICT_FEATURE,
    DICT_POSTPROCESS,
    DICTIONARY_MODELS,
    GATE_FILE,
    MANY,
    Budget,
    discover_datasets,
    plan_runs,
    run_environment,
    run_overrides,
    seeds_by_model,
    train_command,
)
from research.record import RECORD_FILE
from research.postprocess import metrics_from_counts, span_counts
from research.report import many_dataset_section
from research.reproduce import main, parse_args
from research.run import EpochGateController, execute
from research.store import (
    is_complete,
    restore_from_store,
    run_signature,
    save_to_store,
)
from tests.conftest import PROJECT_ROOT

EPOCH_GATE_MODULE = PROJECT_ROOT / "research" / "callbacks" / "epoch_gate.py"

DATASETS = ["BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"]


def _budget(**kwargs):
    defaults = dict(epochs=3, batch_size=16, optimizer="adam", lr=0.001, seeds=[7, 8], threads=1,
                    max_sentences_per_dataset=40)
    defaults.update(kwargs)
    return Budget(**defaults)


def test_plan_covers_every_model_dataset_and_seed(tmp_path):
    runs = plan_runs(_budget(), DEFAULT_MODELS + DICTIONARY_MODELS,
                               DATASETS, tmp_path)
    keys = {(r.model, tuple(r.datasets), r.seed) for r in runs}
    for dataset in DATASETS:
        for seed in (7, 8):
            assert ("STM", (dataset,), seed) in keys
        for baseline in ("Lample", "Ma-Hovy"):
            assert (baseline, (dataset,), 7) in keys
            assert (baseline, (dataset,), 8) not in keys
    for seed in (7, 8):
        assert ("MTM-CW", tuple(DATASETS), seed) in keys
        assert (DICT_FEATURE, tuple(DATASETS), seed) in keys
        assert (DICT_POSTPROCESS, tuple(DATASETS), seed) in keys
    assert ("MTM-C", tuple(DATASETS), 7) in keys and ("MTM-W", tuple(DATASETS), 7) in keys
    # 4 Lample + 4 Ma-Hovy + 8 STM + MTM-C + MTM-W + 2 MTM-CW + 2 dict feature + 2 post-processing
    assert len(runs) == 24
    assert len({r.run_dir for r in runs}) == len(runs)
    # Every config exists.
    for run in runs:
        if run.is_training:
            assert (PROJECT_ROOT / run.config).is_file(), run.config


def test_all_seeds_and_only(tmp_path):
    runs = plan_runs(_budget(), ["MTM-C"], ["BC2GM"], tmp_path, all_seeds=True)
    assert [(r.model, r.seed) for r in runs] == [("MTM-C", 7), ("MTM-C", 8)]
    # `--all-seeds MTM-C`: MTM-C with every seed too, the other models as by default.
    args = parse_args(["--all-seeds", "MTM-C", "--only", "Lample,STM,MTM-C,MTM-W"])
    assert args.all_seeds == ["MTM-C"] and parse_args(["--all-seeds"]).all_seeds is True
    assert parse_args([]).all_seeds is False
    runs = plan_runs(_budget(), args.models, ["BC2GM"], tmp_path, args.all_seeds)
    assert [(r.model, r.seed) for r in runs] == [
        ("Lample", 7), ("STM", 7), ("STM", 8), ("MTM-C", 7), ("MTM-C", 8), ("MTM-W", 7)
    ]
    # The budget's seeds row says what the plan does.
    seeds_row = dict(_budget().describe(seeds_by_model=seeds_by_model(runs)))["seeds"]
    assert seeds_row == "7, 8 for STM, MTM-C; 7 for Lample, MTM-W"
    # Post-processing brings in the MTM-CW runs it evaluates.
    runs = plan_runs(_budget(), [DICT_POSTPROCESS], ["BC2GM"], tmp_path)
    assert [r.model for r in runs] == ["MTM-CW", "MTM-CW", DICT_POSTPROCESS,
                                       DICT_POSTPROCESS]


def test_overrides_and_command_carry_the_budget(tmp_path):
    budget = _budget(optimizer="sgd", lr=0.02, patience=4, cuda_device=0)
    runs = plan_runs(budget, ["STM", "MTM-CW", "Lample"], DATASETS, tmp_path)
    for run in runs:
        command = train_command(run)
        assert command[2:5] == ["allennlp", "train", run.config]
        assert command[command.index("-s") + 1] == str(run.run_dir)
        overrides = json.loads(command[command.index("-o") + 1])
        assert overrides == run.overrides
        assert overrides["trainer.num_epochs"] == 3
        assert overrides["data_loader.batch_sampler.batch_size"] == 16
        assert overrides["trainer.optimizer.lr"] == 0.02
        assert overrides["trainer.patience"] == 4
        assert overrides["trainer.cuda_device"] == 0
        assert overrides["dataset_reader.max_instances_per_dataset"] == {"train": 40}
        assert overrides["evaluate_on_test"] is True
        assert overrides["random_seed"] == overrides["numpy_seed"] == overrides["pytorch_seed"] == run.seed
        assert overrides["dataset_reader.datasets"] == run.datasets
        # sgd: the paper's configs, not the budget ones.
        assert "budget" not in run.config
    assert "-f" in train_command(runs[0], include_force=True)
    env = run_environment(budget, tmp_path, None)
    assert env["OMP_NUM_THREADS"] == "1" and env["BIOMTL_DATA_ROOT"] == str(tmp_path)
    no_cap = run_overrides(_budget(max_sentences_per_dataset=None), ["BC2GM"], 1)
    assert "dataset_reader.max_instances_per_dataset" not in no_cap


def test_dry_run_prints_every_run(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    code = main([
        "--dry-run", "--dictionary", "--seeds", "3,4", "--budget-epochs", "2", "--batch-size", "8",
        "--max-sentences-per-dataset", "30", "--threads", "1", "--runs-dir", str(runs_dir),
        "--data-root", str(tmp_path / "data"),
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert not runs_dir.exists()  # a dry run writes nothing
    assert "epochs: 2" in out and "batch size (sentences): 8" in out
    assert "Runs: 24 (22 training, 2 evaluation)" in out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 24
    for dataset in DATASETS:
        slug = dataset.lower()
        for seed in (3, 4):
            assert any(f"stm_{slug}_seed{seed}:" in line for line in lines)
        assert any(f"lample_{slug}_seed3:" in line for line in lines)
        assert any(f"ma-hovy_{slug}_seed3:" in line for line in lines)
    for line in lines:
        if "allennlp train" in line:
            assert '"trainer.num_epochs": 2' in line
            assert '"data_loader.batch_sampler.batch_size": 8' in line
            assert '"dataset_reader.max_instances_per_dataset": {"train": 30}' in line
            assert "OMP_NUM_THREADS=1" in line
            assert ("BIOMTL_DICTIONARY=" in line) == ("dict-feature" in line)


def test_the_command_line_runs_as_a_module(tmp_path):
    # `python -m research.reproduce` from the checkout's root: a dry run prints the plan and
    # writes nothing.
    result = subprocess.run(
        [sys.executable, "-m", "research.reproduce", "--dry-run", "--only", "STM",
         "--datasets", "BC2GM", "--seeds", "3", "--runs-dir", str(tmp_path / "runs")],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Runs: 1 (1 training, 0 evaluation)" in result.stdout
    assert "[1/1] stm_bc2gm_seed3: " in result.stdout and " allennlp train " in result.stdout
    assert not (tmp_path / "runs").exists()


def test_bad_arguments():
    with pytest.raises(SystemExit):
        parse_args(["--only", "STM,NOPE"])
    with pytest.raises(SystemExit):
        parse_args(["--seeds", "a,b"])
    with pytest.raises(SystemExit):
        parse_args(["--all-seeds", "MTM-C,NOPE"])


# ------------------------------------------------------------------ fake finished runs

F1 = {  # (model, seed) -> {dataset: f1}
    ("STM", 1): {"NCBI-disease": 0.80, "BC5CDR": 0.85},
    ("STM", 2): {"NCBI-disease": 0.82, "BC5CDR": 0.84},
    ("MTM-CW", 1): {"NCBI-disease": 0.84, "BC5CDR": 0.86},
    ("MTM-CW", 2): {"NCBI-disease": 0.85, "BC5CDR": 0.88},
    ("Lample", 1): {"NCBI-disease": 0.78, "BC5CDR": 0.80},
}
TYPES = {"NCBI-disease": ["Disease"], "BC5CDR": ["Chemical", "Disease"]}


def _fake_metrics(f1_by_dataset):
    metrics = {"best_epoch": 0, "epoch": 0, "validation_macro_f1": 0.1}
    for dataset, f1 in f1_by_dataset.items():
        for metric in ("precision", "recall", "f1"):
            metrics[f"test_{dataset}_{metric}"] = f1
            for entity_type in TYPES[dataset]:
                metrics[f"test_{dataset}_{entity_type}_{metric}"] = f1
    return metrics


def _write_fake_runs(runs, dictionary_sha=None):
    for run in runs:
        key = (run.model, run.seed)
        if key not in F1:
            continue
        run.run_dir.mkdir(parents=True, exist_ok=True)
        f1 = {d: F1[key][d] for d in run.datasets}
        run.metrics_path.write_text(json.dumps(_fake_metrics(f1)))
        run.record_path.write_text(json.dumps({
            "run": run.name,
            "started": f"2026-01-0{run.seed}T00:00:00",
            "wall_time_s": 12.5,
            "signature": run_signature(run, dictionary_sha),
            "epochs_trained": 1,
            "test": {d: {"f1": round(100 * value, 2)} for d, value in f1.items()},
        }))


def test_completeness_and_resumption(tmp_path, monkeypatch):
    datasets = ["NCBI-disease", "BC5CDR"]
    budget = _budget(seeds=[1, 2])
    runs = plan_runs(budget, ["STM", "MTM-CW"], datasets, tmp_path)
    assert not any(is_complete(r, None) for r in runs)
    _write_fake_runs(runs)
    assert all(is_complete(r, None) for r in runs)

    def no_training(*args, **kwargs):
        raise AssertionError("a complete run was trained again")

    monkeypatch.setattr(runner.subprocess, "Popen", no_training)
    execute(runs, budget, tmp_path, tmp_path, None, None)

    # Another budget (different epochs) does not reuse the runs.
    other = plan_runs(_budget(seeds=[1, 2], epochs=9), ["STM"], datasets, tmp_path)
    assert not is_complete(other[0], None)
    # A record without the test F1 of one of the run's datasets is incomplete.
    mtm = [r for r in runs if r.model == "MTM-CW"][0]
    record = json.loads(mtm.record_path.read_text())
    del record["test"]["BC5CDR"]
    mtm.record_path.write_text(json.dumps(record))
    assert not is_complete(mtm, None)


def test_write_results_from_fake_metrics(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    datasets = ["NCBI-disease", "BC5CDR"]
    budget = _budget(seeds=[1, 2], epochs=4, batch_size=16)
    runs = plan_runs(budget, ["Lample", "STM", "MTM-CW"], datasets, runs_dir)
    _write_fake_runs(runs)
    # A post-processing result for MTM-CW seed 1 (Table 4).
    post = plan_runs(budget, [DICT_POSTPROCESS], datasets, runs_dir)
    for run in post:
        if run.model == DICT_POSTPROCESS:
            run.run_dir.mkdir(parents=True)
            run.metrics_path.write_text(json.dumps(_fake_metrics({"NCBI-disease": 0.9, "BC5CDR": 0.9})))

    results = tmp_path / "docs" / "results.md"
    figure = tmp_path / "docs" / "fig4.png"
    code = main([
        "--tables-only", "--seeds", "1,2", "--budget-epochs", "4", "--batch-size", "16",
        "--optimizer", "adam", "--lr", "0.001", "--threads", "1", "--max-sentences-per-dataset",
        "40", "--datasets", ",".join(datasets), "--only",
        f"Lample,STM,MTM-CW,{DICT_POSTPROCESS}", "--runs-dir", str(runs_dir),
        "--results", str(results), "--figure", str(figure),
    ])
    assert code == 0
    text = results.read_text()
    assert figure.is_file() and figure.stat().st_size > 0
    for needle in (
        "| epochs | 4 |", "| batch size (sentences) | 16 |", "Adam, lr 0.001",
        "-m research.reproduce --tables-only", "Machine:",
        "- Runs started: 2026-01-01T00:00:00 to 2026-01-02T00:00:00",
        "## Table 2", "## Table 3", "## Fig. 4", "## Table 4",
        "| stm_ncbi-disease_seed1 | STM | NCBI-disease | 1 | 1 | 12.5 |",
        "MTM-CW + dict post-processing",
    ):
        assert needle in text, needle
    # Table 2: STM over two seeds (80 and 82).
    assert "| NCBI-disease | F1 | 78.00 | 81.00 ± 1.41 | 84.50 ± 0.71 |" in text
    # MTM-CW - STM on NCBI-disease: 84.5 - 81 = +3.50; same-seed differences +4.00, +3.00.
    assert "| NCBI-disease | 81.00 ± 1.41 (n=2) | 84.50 ± 0.71 (n=2) | +3.50 | +4.00, +3.00 |" in text
    out = capsys.readouterr().out
    assert "NCBI-disease: STM 81.00 ± 1.41 (n=2), MTM-CW 84.50 ± 0.71 (n=2), MTM-CW - STM +3.50" in out
    assert "BC5CDR:" in out


def test_span_scoring_matches_span_based_f1():
    from allennlp.data import Vocabulary
    from allennlp.training.metrics import SpanBasedF1Measure
    import torch

    gold = [["B-Disease", "L-Disease", "O", "U-Chemical", "O"], ["U-Disease", "O", "O", "O", "O"]]
    pred = [["B-Disease", "L-Disease", "O", "O", "U-Chemical"], ["O", "O", "O", "O", "U-Disease"]]
    counts = {"X": {}}
    for g, p in zip(gold, pred):
        for label, values in span_counts(g, p).items():
            totals = counts["X"].setdefault(label, [0, 0, 0])
            for i in range(3):
                totals[i] += values[i]
    ours = metrics_from_counts(counts)

    vocab = Vocabulary()
    labels = sorted({t for row in gold + pred for t in row})
    for label in labels:
        vocab.add_token_to_namespace(label, "labels")
    metric = SpanBasedF1Measure(vocab, "labels", label_encoding="BIOUL")
    ids = lambda rows: torch.tensor([[vocab.get_token_index(t, "labels") for t in r] for r in rows])
    predictions = torch.nn.functional.one_hot(ids(pred), len(labels)).float()
    metric(predictions, ids(gold), torch.ones(2, 5, dtype=torch.bool))
    theirs = metric.get_metric()
    assert ours["test_X_f1"] == pytest.approx(theirs["f1-measure-overall"])
    assert ours["test_X_precision"] == pytest.approx(theirs["precision-overall"])
    assert ours["test_X_Chemical_recall"] == pytest.approx(theirs["recall-Chemical"])
    assert ours["test_X_Disease_f1"] == pytest.approx(theirs["f1-measure-Disease"])


# ------------------------------------------------------------------ stored runs, many datasets


def test_finished_runs_are_stored_and_restored(tmp_path):
    """A fresh runs dir (a new checkout) gets finished runs back from the committed store."""
    datasets = ["NCBI-disease", "BC5CDR"]
    budget = _budget(seeds=[1, 2])
    runs = plan_runs(budget, ["STM", "MTM-CW"], datasets, tmp_path / "runs")
    _write_fake_runs(runs)
    store = tmp_path / "docs" / "results_runs"
    for run in runs:
        save_to_store(run, store)
    assert (store / "stm_bc5cdr_seed2" / "metrics.json").is_file()
    assert (store / "mtm-cw_all_seed1" / RECORD_FILE).is_file()

    fresh = plan_runs(budget, ["STM", "MTM-CW"], datasets, tmp_path / "fresh")
    assert not any(is_complete(r, None) for r in fresh)
    assert restore_from_store(fresh, store) == len(fresh)
    assert all(is_complete(r, None) for r in fresh)
    assert restore_from_store(fresh, store) == 0  # nothing left to restore
    # A stored run of another budget is restored but not taken as complete.
    other = plan_runs(_budget(seeds=[1], epochs=7), ["STM"], datasets, tmp_path / "o")
    restore_from_store(other, store)
    assert not is_complete(other[0], None)


def test_tables_only_on_a_fresh_checkout_reads_the_store(tmp_path):
    datasets = ["NCBI-disease", "BC5CDR"]
    args = ["--seeds", "1,2", "--budget-epochs", "3", "--batch-size", "16", "--optimizer", "adam",
            "--lr", "0.001", "--threads", "1", "--max-sentences-per-dataset", "40",
            "--datasets", ",".join(datasets), "--only", "STM,MTM-CW"]
    runs = plan_runs(_budget(seeds=[1, 2]), ["STM", "MTM-CW"], datasets,
                               tmp_path / "runs")
    _write_fake_runs(runs)
    results = tmp_path / "docs" / "results.md"
    # First checkout: the runs dir has the runs; writing the results stores them.
    assert main(args + ["--tables-only", "--runs-dir", str(tmp_path / "runs"),
                                  "--results", str(results),
                                  "--figure", str(tmp_path / "docs" / "f.png")]) == 0
    first = results.read_text()
    # Fresh checkout: empty runs dir, the same tables from the store.
    notes = tmp_path / "notes.md"
    notes.write_text("## Notes\n\nHand-written.\n")
    assert main(args + ["--tables-only", "--runs-dir", str(tmp_path / "fresh"),
                                  "--results", str(results), "--notes", str(notes),
                                  "--figure", str(tmp_path / "docs" / "f.png")]) == 0
    second = results.read_text()
    table = first[first.index("## MTM-CW vs STM"):first.index("## Paper tables")]
    assert "| NCBI-disease | 81.00 ± 1.41 (n=2) | 84.50 ± 0.71 (n=2) | +3.50 |" in table
    assert table in second
    assert "| missing |" not in second
    assert second.rstrip().endswith("Hand-written.")
    # No dictionary variant ran: no Table 4 (MTM-CW alone is not one).
    assert "## Table 4" not in second


def test_discover_datasets_and_many_dataset_plan(tmp_path):
    root = tmp_path / "data"
    for folder, splits in [("BC2GM-IOBES", 3), ("JNLPBA", 3), ("AnatEM-IOBES", 3),
                           ("Broken-IOBES", 2), ("NCBI-disease-IOBES", 3)]:
        (root / folder).mkdir(parents=True)
        for split in ["train", "devel", "test"][:splits]:
            (root / folder / f"{split}.tsv").write_text("a\tO\n")
    (root / "README.md").write_text("not a dataset")
    found = discover_datasets(root)
    # Built-in names, the benchmark datasets first in their order; incomplete folders skipped.
    assert found == ["BC2GM", "NCBI-disease", "JNLPBA", "AnatEM-IOBES"]

    runs = plan_runs(_budget(seeds=[1, 2]), ["MTM-CW", MANY], DATASETS,
                               tmp_path / "runs", many_datasets=found)
    many = [r for r in runs if r.model == MANY]
    assert [(r.seed, r.datasets) for r in many] == [(1, found)]
    assert many[0].run_dir.name == "mtm-cw-many_all_seed1"
    assert many[0].overrides["dataset_reader.datasets"] == found
    with pytest.raises(ValueError):
        plan_runs(_budget(), [MANY], DATASETS, tmp_path / "runs")
    with pytest.raises(SystemExit):
        discover_datasets(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        discover_datasets(tmp_path / "empty")


def test_many_dataset_section(tmp_path):
    many_datasets = ["NCBI-disease", "BC5CDR", "AnatEM-IOBES"]
    budget = _budget(seeds=[1])
    runs = plan_runs(budget, ["MTM-CW", MANY], ["NCBI-disease", "BC5CDR"],
                               tmp_path, many_datasets=many_datasets)
    values = {"MTM-CW": {"NCBI-disease": 0.80, "BC5CDR": 0.70},
              MANY: {"NCBI-disease": 0.83, "BC5CDR": 0.69, "AnatEM-IOBES": 0.75}}
    for run in runs:
        run.run_dir.mkdir(parents=True)
        run.metrics_path.write_text(json.dumps(
            {f"test_{d}_f1": f for d, f in values[run.model].items()}))
    lines = many_dataset_section(
        runs, [r for r in runs if r.model == MANY], ["NCBI-disease", "BC5CDR"])
    text = "\n".join(lines)
    assert "| **NCBI-disease** | 80.00 (n=1) | 83.00 (n=1) | +3.00 |" in text
    assert "| **BC5CDR** | 70.00 (n=1) | 69.00 (n=1) | -1.00 |" in text
    assert "| AnatEM-IOBES | - | 75.00 (n=1) | - |" in text


# ------------------------------------------------------------------ parallel runs, epoch gate


def test_time_budget_overrides_and_command(tmp_path):
    budget = _budget(time_budget_s=300.0, eval_batch_size=64, cuda_device=0)
    run = plan_runs(budget, ["STM"], ["BC2GM"], tmp_path)[0]
    assert run.overrides["trainer.callbacks"] == [
        {"type": "epoch_gate", "gate_file": str(tmp_path / GATE_FILE), "num_epochs": 3}
    ]
    assert run.overrides["validation_data_loader"]["batch_sampler"]["batch_size"] == 64
    # The gate is registered by `research.callbacks` (run from the checkout's root, which
    # allennlp puts on sys.path): no PYTHONPATH. A run without the gate does not import it.
    command = train_command(run)
    packages = [command[i + 1] for i, arg in enumerate(command) if arg == "--include-package"]
    assert packages == ["biomtl_allennlp", "research.callbacks"]
    plain_command = train_command(plan_runs(_budget(), ["STM"], ["BC2GM"], tmp_path)[0])
    assert plain_command.count("--include-package") == 1
    assert "PYTHONPATH" not in run_environment(budget, tmp_path, None)
    # Neither the gate nor the evaluation batch size changes what a run computes.
    plain = plan_runs(_budget(cuda_device=-1), ["STM"], ["BC2GM"], tmp_path)[0]
    assert run_signature(run, None) == run_signature(plain, None)
    rows = dict(budget.describe([2, 2]))
    assert "300 s" in rows["epochs"] and "(trained: 2)" in rows["epochs"]
    assert rows["validation/test batch size"] == "64"
    assert rows["torch threads"].startswith("1 (")  # every run as budgeted
    assert dict(budget.describe([], [1, 2]))["torch threads"].startswith("1 or 2 per run")


# What a finished `allennlp train` leaves that the record reads: config, per-epoch metrics
# and the final metrics (every epoch 1 s, every score 0.5).
FINISH = """
import json, os
def finish(run_dir, datasets, last_epoch):
    config = {"dataset_reader": {"datasets": datasets}, "random_seed": 1,
              "model": {"type": "multitask_crf_tagger"}, "data_loader": {},
              "trainer": {"optimizer": {"type": "adam"}}}
    json.dump(config, open(os.path.join(run_dir, "config.json"), "w"))
    for epoch in range(last_epoch + 1):
        metrics = {"training_duration": f"0:00:{epoch + 1:02d}.0", "training_loss": 1.0,
                   "validation_macro_f1": 0.5}
        metrics.update({f"validation_{d}_f1": 0.5 for d in datasets})
        json.dump(metrics, open(os.path.join(run_dir, f"metrics_epoch_{epoch}.json"), "w"))
    metrics = {"best_epoch": last_epoch, "epoch": last_epoch,
               "training_duration": f"0:00:{last_epoch + 1:02d}.0"}
    metrics.update({f"test_{d}_{m}": 0.5 for d in datasets for m in ("precision", "recall", "f1")})
    json.dump(metrics, open(os.path.join(run_dir, "metrics.json"), "w"))
"""


def _fake_trainer(monkeypatch, script):
    """`allennlp train` replaced by a Python snippet run with the run's serialization dir."""

    def command(run, include_force=False, recover=False):
        return [sys.executable, "-c", FINISH + script, str(run.run_dir), json.dumps(run.datasets)]

    monkeypatch.setattr(runner, "train_command", command)


WRITE_METRICS = """
import json, os, sys
run_dir, datasets = sys.argv[1], json.loads(sys.argv[2])
os.makedirs(run_dir, exist_ok=True)
finish(run_dir, datasets, 2)
"""


def test_parallel_execution_records_and_stores_runs(tmp_path, monkeypatch):
    _fake_trainer(monkeypatch, WRITE_METRICS)
    budget = _budget(seeds=[1, 2])
    runs = plan_runs(budget, ["STM", "MTM-CW"], ["NCBI-disease", "BC5CDR"],
                               tmp_path / "runs")
    store = tmp_path / "store"
    execute(runs, budget, tmp_path, tmp_path / "runs", None, None, jobs=3,
                      store_dir=store)
    for run in runs:
        assert is_complete(run, None)
        record = json.loads(run.record_path.read_text())
        assert record["epochs_trained"] == 3 and record["machine"]
        assert record["run"] == run.name and record["seed"] == run.seed
        assert record["test"] == {d: {"precision": 50.0, "recall": 50.0, "f1": 50.0, "types_f1": {}}
                                  for d in run.datasets}
        assert (store / run.name / "metrics.json").is_file()


def test_a_failed_run_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    _fake_trainer(monkeypatch, WRITE_METRICS.replace(
        "os.makedirs", "sys.exit(3) if 'BC5CDR' in datasets and len(datasets) == 1 else None\n"
        "os.makedirs"))
    budget = _budget(seeds=[1])
    runs = plan_runs(budget, ["STM"], ["NCBI-disease", "BC5CDR", "BC2GM"], tmp_path)
    with pytest.raises(SystemExit, match="1 run\\(s\\) failed: stm_bc5cdr_seed1"):
        execute(runs, budget, tmp_path, tmp_path, None, None, jobs=2)
    assert [is_complete(r, None) for r in runs] == [True, False, True]
    assert "exit code 3" in capsys.readouterr().out


def test_time_budget_needs_every_run_at_once(tmp_path):
    budget = _budget(seeds=[1], time_budget_s=60.0)
    runs = plan_runs(budget, ["STM"], ["NCBI-disease", "BC5CDR"], tmp_path)
    with pytest.raises(SystemExit, match="--jobs 1"):
        execute(runs, budget, tmp_path, tmp_path, None, None, jobs=1)


# A trainer that goes through the gate the way allennlp's does, epoch by epoch (the callback's
# module loaded from its file with allennlp's pieces stubbed, so that the processes start fast).
GATED = """
import importlib.util, json, os, sys, time, types
for name in ["allennlp", "allennlp.common", "allennlp.training", "allennlp.training.callbacks"]:
    sys.modules[name] = types.ModuleType(name)
checks = types.ModuleType("allennlp.common.checks")
checks.ConfigurationError = Exception
sys.modules["allennlp.common.checks"] = checks
callback = types.ModuleType("allennlp.training.callbacks.callback")
class TrainerCallback:
    def __init__(self, serialization_dir):
        self.serialization_dir = serialization_dir
    @classmethod
    def register(cls, name):
        return lambda subclass: subclass
callback.TrainerCallback = TrainerCallback
sys.modules["allennlp.training.callbacks.callback"] = callback
spec = importlib.util.spec_from_file_location("epoch_gate", {module!r})
epoch_gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(epoch_gate)
run_dir, datasets = sys.argv[1], json.loads(sys.argv[2])
os.makedirs(run_dir, exist_ok=True)
class Tracker:
    _patience = None
    def should_stop_early(self):
        return self._patience is not None and self._patience <= 0
class Trainer:
    _metric_tracker = Tracker()
num_epochs = 50
gate = epoch_gate.EpochGate(run_dir, {gate!r}, num_epochs=num_epochs, poll_seconds=0.05,
                            max_wait_seconds=60)
trainer = Trainer()
epoch = 0
while True:
    time.sleep({epoch_s} * (2 if len(datasets) > 1 else 1))
    gate.on_epoch(trainer, {{}}, epoch)
    if trainer._metric_tracker.should_stop_early() or epoch == num_epochs - 1:
        break
    epoch += 1
finish(run_dir, datasets, epoch)
"""


def test_time_budget_stops_every_run_after_the_same_epochs(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    # Epochs of 0.2 s (STM) and 0.4 s (MTM-CW) in a 5-s budget, with no margin for the test
    # evaluation: a few epochs fit, the same for every run.
    monkeypatch.setattr(EpochGateController, "FINISH_FRACTION", 0.0)
    monkeypatch.setattr(EpochGateController, "FINISH_SECONDS", 0.0)
    _fake_trainer(monkeypatch, GATED.format(
        module=str(EPOCH_GATE_MODULE), gate=str(runs_dir / GATE_FILE),
        epoch_s=0.2))
    budget = _budget(seeds=[1], epochs=50, time_budget_s=5.0)
    runs = plan_runs(budget, ["STM", "MTM-CW"], ["NCBI-disease", "BC5CDR"], runs_dir)
    execute(runs, budget, tmp_path, runs_dir, None, None, jobs=3)
    trained = {json.loads(r.record_path.read_text())["epochs_trained"] for r in runs}
    assert len(trained) == 1
    (epochs,) = trained
    assert 1 < epochs < 50
    gate = json.loads((runs_dir / GATE_FILE).read_text())
    assert gate == {"epochs": epochs, "final": True}
