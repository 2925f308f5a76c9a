"""benchmarks/reproduce.py: command construction, resumption and the results-writing step (no training)."""
import importlib.util
import json
import sys

import pytest

from tests.conftest import PROJECT_ROOT

_SPEC = importlib.util.spec_from_file_location(
    "reproduce", PROJECT_ROOT / "benchmarks" / "reproduce.py"
)
reproduce = importlib.util.module_from_spec(_SPEC)
sys.modules["reproduce"] = reproduce
_SPEC.loader.exec_module(reproduce)

DATASETS = ["BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"]


def _budget(**kwargs):
    defaults = dict(epochs=3, batch_size=16, optimizer="adam", lr=0.001, seeds=[7, 8], threads=1,
                    max_sentences_per_dataset=40)
    defaults.update(kwargs)
    return reproduce.Budget(**defaults)


def test_plan_covers_every_model_dataset_and_seed(tmp_path):
    runs = reproduce.plan_runs(_budget(), reproduce.DEFAULT_MODELS + reproduce.DICTIONARY_MODELS,
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
        assert (reproduce.DICT_FEATURE, tuple(DATASETS), seed) in keys
        assert (reproduce.DICT_POSTPROCESS, tuple(DATASETS), seed) in keys
    assert ("MTM-C", tuple(DATASETS), 7) in keys and ("MTM-W", tuple(DATASETS), 7) in keys
    # 4 Lample + 4 Ma-Hovy + 8 STM + MTM-C + MTM-W + 2 MTM-CW + 2 dict feature + 2 post-processing
    assert len(runs) == 24
    assert len({r.run_dir for r in runs}) == len(runs)
    # Every config exists.
    for run in runs:
        if run.is_training:
            assert (PROJECT_ROOT / run.config).is_file(), run.config


def test_all_seeds_and_only(tmp_path):
    runs = reproduce.plan_runs(_budget(), ["MTM-C"], ["BC2GM"], tmp_path, all_seeds=True)
    assert [(r.model, r.seed) for r in runs] == [("MTM-C", 7), ("MTM-C", 8)]
    # Post-processing brings in the MTM-CW runs it evaluates.
    runs = reproduce.plan_runs(_budget(), [reproduce.DICT_POSTPROCESS], ["BC2GM"], tmp_path)
    assert [r.model for r in runs] == ["MTM-CW", "MTM-CW", reproduce.DICT_POSTPROCESS,
                                       reproduce.DICT_POSTPROCESS]


def test_overrides_and_command_carry_the_budget(tmp_path):
    budget = _budget(optimizer="sgd", lr=0.02, patience=4, cuda_device=0)
    runs = reproduce.plan_runs(budget, ["STM", "MTM-CW", "Lample"], DATASETS, tmp_path)
    for run in runs:
        command = reproduce.train_command(run)
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
    assert "-f" in reproduce.train_command(runs[0], include_force=True)
    env = reproduce.run_environment(budget, tmp_path, None)
    assert env["OMP_NUM_THREADS"] == "1" and env["BIOMTL_DATA_ROOT"] == str(tmp_path)
    no_cap = reproduce.run_overrides(_budget(max_sentences_per_dataset=None), ["BC2GM"], 1)
    assert "dataset_reader.max_instances_per_dataset" not in no_cap


def test_dry_run_prints_every_run(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    code = reproduce.main([
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


def test_bad_arguments():
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--only", "STM,NOPE"])
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--seeds", "a,b"])


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
    metrics = {"best_epoch": 0, "validation_macro_f1": 0.1}
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
        reproduce.record_path(run).write_text(json.dumps({
            "wall_time_s": 12.5,
            "signature": reproduce.run_signature(run, dictionary_sha),
        }))


def test_completeness_and_resumption(tmp_path, monkeypatch):
    datasets = ["NCBI-disease", "BC5CDR"]
    budget = _budget(seeds=[1, 2])
    runs = reproduce.plan_runs(budget, ["STM", "MTM-CW"], datasets, tmp_path)
    assert not any(reproduce.is_complete(r, None) for r in runs)
    _write_fake_runs(runs)
    assert all(reproduce.is_complete(r, None) for r in runs)

    def no_training(*args, **kwargs):
        raise AssertionError("a complete run was trained again")

    monkeypatch.setattr(reproduce.subprocess, "call", no_training)
    reproduce.execute(runs, budget, tmp_path, tmp_path, None, None)

    # Another budget (different epochs) does not reuse the runs.
    other = reproduce.plan_runs(_budget(seeds=[1, 2], epochs=9), ["STM"], datasets, tmp_path)
    assert not reproduce.is_complete(other[0], None)
    # A metrics.json without the test F1 of one of the run's datasets is incomplete.
    mtm = [r for r in runs if r.model == "MTM-CW"][0]
    metrics = json.loads(mtm.metrics_path.read_text())
    del metrics["test_BC5CDR_f1"]
    mtm.metrics_path.write_text(json.dumps(metrics))
    assert not reproduce.is_complete(mtm, None)


def test_write_results_from_fake_metrics(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    datasets = ["NCBI-disease", "BC5CDR"]
    budget = _budget(seeds=[1, 2], epochs=4, batch_size=16)
    runs = reproduce.plan_runs(budget, ["Lample", "STM", "MTM-CW"], datasets, runs_dir)
    _write_fake_runs(runs)
    # A post-processing result for MTM-CW seed 1 (Table 4).
    post = reproduce.plan_runs(budget, [reproduce.DICT_POSTPROCESS], datasets, runs_dir)
    for run in post:
        if run.model == reproduce.DICT_POSTPROCESS:
            run.metrics_path.write_text(json.dumps(_fake_metrics({"NCBI-disease": 0.9, "BC5CDR": 0.9})))

    results = tmp_path / "docs" / "results.md"
    figure = tmp_path / "docs" / "fig4.png"
    code = reproduce.main([
        "--tables-only", "--seeds", "1,2", "--budget-epochs", "4", "--batch-size", "16",
        "--optimizer", "adam", "--lr", "0.001", "--threads", "1", "--max-sentences-per-dataset",
        "40", "--datasets", ",".join(datasets), "--only",
        f"Lample,STM,MTM-CW,{reproduce.DICT_POSTPROCESS}", "--runs-dir", str(runs_dir),
        "--results", str(results), "--figure", str(figure),
    ])
    assert code == 0
    text = results.read_text()
    assert figure.is_file() and figure.stat().st_size > 0
    for needle in (
        "| epochs | 4 |", "| batch size (sentences) | 16 |", "Adam, lr 0.001",
        "benchmarks/reproduce.py --tables-only", "Git commit:", "Machine:",
        "## Table 2", "## Table 3", "## Fig. 4", "## Table 4",
        "| stm_ncbi-disease_seed1 | STM | NCBI-disease | 1 | 12.5 |",
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
        for label, values in reproduce.span_counts(g, p).items():
            totals = counts["X"].setdefault(label, [0, 0, 0])
            for i in range(3):
                totals[i] += values[i]
    ours = reproduce.metrics_from_counts(counts)

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
