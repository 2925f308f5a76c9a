#!/usr/bin/env python
"""
Reproduces the experiments of Wang et al. 2019 ("Cross-type biomedical named entity recognition
with deep multi-task learning") under one declared training budget, and writes the results
(Tables 2, 3, 4 and Fig. 4) to docs/results.md and docs/results_fig4.png.

Runs, each an `allennlp train ... -s RUNDIR` subprocess, one after the other:

- `Lample`, `Ma-Hovy`: the baselines (training_configs/baselines/), one per dataset;
- `STM`: the single-task model, one per dataset;
- `MTM-C`, `MTM-W`, `MTM-CW`: the multi-task models, one run over all datasets;
- with `--dictionary` (paper Table 4): `MTM-CW+dict-feature` (training_configs/dictionary/) and
  `MTM-CW+dict-postprocess`, an evaluation step (no training) that tags the test sentences with
  each MTM-CW archive, labels dictionary matches among the words tagged `O`
  (`biomtl_allennlp.dictionary.postprocess_tags`) and scores exact span matches.
  The paper's CTD dictionaries are not available: the dictionary is built from the entity
  mentions of the training splits of the benchmark datasets (as many training sentences as the
  models see), written to RUNDIR/dictionary/train_mentions.tsv.

Every run gets the same budget through `-o` overrides: epochs, batch size, optimizer (`adam`: the
budget configs, training_configs/budget/ and baselines/budget_*; `sgd`: the paper configs) and
learning rate, patience, seeds (`random_seed`, `numpy_seed`, `pytorch_seed`), torch threads
(`OMP_NUM_THREADS` / `MKL_NUM_THREADS`) and an optional cap on the sentences read per dataset and
split. STM and MTM-CW (and MTM-CW+dict-feature) run with every seed of `--seeds`, the other
models with the first seed (`--all-seeds` runs every model with every seed, `--all-seeds
MTM-C,MTM-W` those models too).

A run whose RUNDIR already has a metrics.json with the test F1 of each of its datasets and a
reproduce_run.json recording the same config and overrides is skipped, so the script can be
interrupted and started again; an incomplete RUNDIR is trained again from scratch.

Usage (from the repository root):

    .venv/bin/python benchmarks/reproduce.py [--budget-epochs 5] [--batch-size 32] \\
        [--optimizer adam] [--seeds 1,2] [--threads 2] [--max-sentences-per-dataset N] \\
        [--datasets BC2GM,BC5CDR,NCBI-disease,JNLPBA] [--only STM,MTM-CW] [--dictionary] \\
        [--data-root ../shared/data] [--runs-dir runs/reproduce] [--cuda-device -1] \\
        [--many] [--jobs N] [--time-budget-s S] [--eval-batch-size B] [--notes FILE] \\
        [--dry-run | --tables-only]

`--many` adds `MTM-CW-many`: MTM-CW trained on every dataset under the data root (12 here),
reported on the main datasets beside the 4-dataset MTM-CW.

`--jobs N` trains N runs at a time (each its own process; on a GPU they share the device).
`--time-budget-s S` (with every run in parallel) makes the runs advance epoch by epoch
together (`benchmarks/epoch_gate.py`) and stops all of them after the same number of epochs:
the most that the slowest run can finish, with its test evaluation, inside S seconds. So a
comparison under a wall-clock budget still gives every model the same number of epochs.

The metrics and run records of finished runs are also copied to a folder beside the results
(`docs/results_runs/` for `docs/results.md`), which is committed: `--tables-only` regenerates
the results on a fresh checkout, and a later run of the script reuses them instead of training
again. `--notes FILE` appends a hand-written markdown file to the results, so notes survive
regeneration.
"""
import argparse
import datetime
import functools
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
DEFAULT_RUNS_DIR = REPO_ROOT / "runs" / "reproduce"
DEFAULT_RESULTS = REPO_ROOT / "docs" / "results.md"
DEFAULT_FIGURE = REPO_ROOT / "docs" / "results_fig4.png"
GATE_MODULE_DIR = REPO_ROOT / "benchmarks"

# BC4CHEMD, the paper's fifth corpus, is not in the shared data (see its README).
DEFAULT_DATASETS = ["BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"]

RUN_RECORD = "reproduce_run.json"
POSTPROCESS_METRICS = "metrics_dict_postprocess.json"

DICT_FEATURE = "MTM-CW+dict-feature"
DICT_POSTPROCESS = "MTM-CW+dict-postprocess"
MANY = "MTM-CW-many"
GATE_FILE = "epoch_gate.json"
GATE_PROGRESS = "epoch_gate_progress.json"  # epoch_gate.PROGRESS_FILE, in each run dir


@dataclass(frozen=True)
class ModelSpec:
    name: str
    # Config for each optimizer: "adam" (the CPU budget configs) and "sgd" (the paper's).
    configs: Dict[str, str]
    # One run per dataset (STM, baselines) or one run over all datasets (MTM).
    per_dataset: bool
    description: str
    dictionary: bool = False
    # Trained on every dataset under the data root (`--many`), not the benchmark datasets.
    many: bool = False


MODELS: "OrderedDict[str, ModelSpec]" = OrderedDict(
    (spec.name, spec)
    for spec in [
        ModelSpec(
            "Lample",
            {"adam": "training_configs/baselines/budget_lample.jsonnet",
             "sgd": "training_configs/baselines/lample.jsonnet"},
            True,
            "baseline: per-word char BiLSTM + word BiLSTM + CRF (Lample et al. / Habibi et al.)",
        ),
        ModelSpec(
            "Ma-Hovy",
            {"adam": "training_configs/baselines/budget_ma_hovy.jsonnet",
             "sgd": "training_configs/baselines/ma_hovy.jsonnet"},
            True,
            "baseline: per-word char CNN + word BiLSTM + CRF (Ma & Hovy)",
        ),
        ModelSpec(
            "STM",
            {"adam": "training_configs/budget/stm.jsonnet", "sgd": "training_configs/stm.jsonnet"},
            True,
            "single-task model (char-stream BiLSTM + word BiLSTM + CRF), one per dataset",
        ),
        ModelSpec(
            "MTM-C",
            {"adam": "training_configs/budget/mtm_c.jsonnet", "sgd": "training_configs/mtm_c.jsonnet"},
            False,
            "multi-task, shared char layer, private word BiLSTMs",
        ),
        ModelSpec(
            "MTM-W",
            {"adam": "training_configs/budget/mtm_w.jsonnet", "sgd": "training_configs/mtm_w.jsonnet"},
            False,
            "multi-task, private char layers, shared word BiLSTM",
        ),
        ModelSpec(
            "MTM-CW",
            {"adam": "training_configs/budget/mtm_cw.jsonnet",
             "sgd": "training_configs/mtm_cw.jsonnet"},
            False,
            "multi-task, char layer and word BiLSTM shared",
        ),
        ModelSpec(
            MANY,
            {"adam": "training_configs/budget/mtm_cw.jsonnet",
             "sgd": "training_configs/mtm_cw.jsonnet"},
            False,
            "MTM-CW trained on every dataset under the data root (the many-dataset setting)",
            many=True,
        ),
        ModelSpec(
            DICT_FEATURE,
            {"adam": "training_configs/dictionary/budget_mtm_cw_dict_feature.jsonnet",
             "sgd": "training_configs/dictionary/mtm_cw_dict_feature.jsonnet"},
            False,
            "MTM-CW + dictionary feature (Table 4)",
            dictionary=True,
        ),
    ]
)
# Not trained: evaluated from the MTM-CW archives.
EVALUATION_MODELS = {DICT_POSTPROCESS: "MTM-CW + dictionary post-processing (Table 4)"}
ALL_MODEL_NAMES = list(MODELS) + list(EVALUATION_MODELS)
DICTIONARY_MODELS = [DICT_FEATURE, DICT_POSTPROCESS]
DEFAULT_MODELS = ["Lample", "Ma-Hovy", "STM", "MTM-C", "MTM-W", "MTM-CW"]
MULTI_SEED_MODELS = {"STM", "MTM-CW", DICT_FEATURE, DICT_POSTPROCESS}
# Table 2 / Fig. 4 columns, in this order; Table 3 is MTM-C/W/CW; Table 4 the MTM-CW variants.
TABLE2_MODELS = ["Lample", "Ma-Hovy", "STM", "MTM-C", "MTM-W", "MTM-CW"]
TABLE4_MODELS = OrderedDict(
    [
        ("MTM-CW", "MTM-CW"),
        (DICT_FEATURE, "MTM-CW + dict feature"),
        (DICT_POSTPROCESS, "MTM-CW + dict post-processing"),
    ]
)

# Default learning rate per optimizer (those of biomtl.libsonnet's budget and paper trainers).
DEFAULT_LR = {"adam": 0.002, "sgd": 0.01}


# --------------------------------------------------------------------------- budget and runs


@dataclass
class Budget:
    """Everything every run shares; printed at the start and written in the results."""

    epochs: int = 5
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 0.002
    patience: Optional[int] = None
    seeds: List[int] = field(default_factory=lambda: [1, 2])
    threads: int = 2
    max_sentences_per_dataset: Optional[int] = None
    cuda_device: int = -1
    # Sentences per batch in validation and test (None: the training batch size). The
    # metrics do not depend on it: padding never reaches a real position.
    eval_batch_size: Optional[int] = None
    # Wall-clock budget of a parallel set of runs (see epoch_gate.py); None: no gate.
    time_budget_s: Optional[float] = None

    def describe(
        self,
        epochs_trained: Sequence[int] = (),
        threads_used: Sequence[int] = (),
        seeds_by_model: Optional[Mapping[str, Sequence[int]]] = None,
    ) -> List[Tuple[str, str]]:
        """
        The budget as (setting, value) rows; `seeds_by_model` (model -> its runs' seeds, in
        plan order) words the seeds row after the runs (otherwise: `--seeds`).
        """
        optimizer = {
            "adam": f"Adam, lr {self.lr} (training_configs/budget/ configs)",
            "sgd": f"SGD, lr {self.lr}, momentum 0.9 (the paper's configs)",
        }[self.optimizer]
        epochs = str(self.epochs)
        if self.time_budget_s is not None:
            epochs = (
                f"at most {self.epochs}; runs in parallel advance epoch by epoch together and "
                f"all stop after the same number of epochs, the most that fits a wall-clock "
                f"budget of {self.time_budget_s:.0f} s"
            )
            trained = sorted(set(epochs_trained))
            if trained:
                epochs += f" (trained: {', '.join(map(str, trained))})"
        return [
            ("epochs", epochs),
            ("early stopping patience", "none" if self.patience is None else str(self.patience)),
            ("batch size (sentences)", str(self.batch_size)),
            ("optimizer", optimizer),
            ("learning rate schedule", "lr / (1 + 0.05 * epoch), gradient norm clipped at 5"),
            ("model selection", "best epoch by validation macro F1 (devel split)"),
            (
                "seeds",
                describe_seeds(seeds_by_model) if seeds_by_model
                else ", ".join(map(str, self.seeds)),
            ),
            (
                "torch threads",
                f"{self.threads} (OMP_NUM_THREADS, MKL_NUM_THREADS)"
                if set(threads_used) <= {self.threads}
                else f"{' or '.join(map(str, sorted(set(threads_used))))} per run, as each "
                "run's record says (OMP_NUM_THREADS, MKL_NUM_THREADS; results do not depend "
                "on it beyond floating-point rounding)",
            ),
            (
                "max sentences per dataset",
                "all"
                if self.max_sentences_per_dataset is None
                else f"{self.max_sentences_per_dataset} training sentences (devel and test in full)",
            ),
            ("device", "CPU" if self.cuda_device < 0 else f"cuda:{self.cuda_device}"),
            (
                "validation/test batch size",
                "as training" if self.eval_batch_size is None else str(self.eval_batch_size),
            ),
        ]

    def as_dict(self) -> Dict[str, Any]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "patience": self.patience,
            "seeds": list(self.seeds),
            "threads": self.threads,
            "max_sentences_per_dataset": self.max_sentences_per_dataset,
            "cuda_device": self.cuda_device,
            "eval_batch_size": self.eval_batch_size,
            "time_budget_s": self.time_budget_s,
        }


def seeds_by_model(runs: Sequence["Run"]) -> Dict[str, List[int]]:
    """Each planned model's seeds, in plan order."""
    seeds: Dict[str, List[int]] = {}
    for run in runs:
        seeds.setdefault(run.model, [])
        if run.seed not in seeds[run.model]:
            seeds[run.model].append(run.seed)
    return seeds


def describe_seeds(seeds_by_model: Mapping[str, Sequence[int]]) -> str:
    """
    E.g. `1, 2 for STM, MTM-CW; 1 for Lample` (models in the order given; each model's seeds
    without repeats, as `seeds_by_model` gives them).
    """
    groups: Dict[Tuple[int, ...], List[str]] = {}
    for model, seeds in seeds_by_model.items():
        groups.setdefault(tuple(seeds), []).append(model)
    ordered = sorted(groups.items(), key=lambda item: -len(item[0]))
    return "; ".join(
        f"{', '.join(map(str, seeds))} for {', '.join(models)}" for seeds, models in ordered
    )


@dataclass
class Run:
    model: str
    datasets: List[str]
    seed: int
    config: Optional[str]  # None for evaluation steps
    run_dir: Path
    overrides: Dict[str, Any] = field(default_factory=dict)
    # For evaluation steps: the training run whose archive is evaluated.
    source: Optional["Run"] = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def is_training(self) -> bool:
        return self.config is not None

    @property
    def metrics_path(self) -> Path:
        if self.is_training:
            return self.run_dir / "metrics.json"
        assert self.source is not None
        return self.source.run_dir / POSTPROCESS_METRICS


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text).lower()


def run_overrides(
    budget: Budget, datasets: Sequence[str], seed: int, gate_file: Optional[Path] = None
) -> Dict[str, Any]:
    """The `-o` overrides of one training run: the budget, its datasets and its seed."""
    overrides: Dict[str, Any] = {
        "dataset_reader.datasets": list(datasets),
        "trainer.num_epochs": budget.epochs,
        "trainer.patience": budget.patience,
        "trainer.optimizer.lr": budget.lr,
        "trainer.cuda_device": budget.cuda_device,
        "data_loader.batch_sampler.batch_size": budget.batch_size,
        "evaluate_on_test": True,
        "random_seed": seed,
        "numpy_seed": seed,
        "pytorch_seed": seed,
    }
    if budget.max_sentences_per_dataset is not None:
        overrides["dataset_reader.max_instances_per_dataset"] = {
            "train": budget.max_sentences_per_dataset
        }
    if budget.eval_batch_size is not None:
        overrides["validation_data_loader"] = {
            "batch_sampler": {
                "type": "bucket", "batch_size": budget.eval_batch_size, "sorting_keys": ["tokens"]
            }
        }
    if budget.time_budget_s is not None:
        assert gate_file is not None
        overrides["trainer.callbacks"] = [{"type": "epoch_gate", "gate_file": str(gate_file)}]
    return overrides


# Overrides that do not change what a run computes (reused runs may differ in them).
NEUTRAL_OVERRIDES = ("trainer.cuda_device", "trainer.callbacks", "validation_data_loader")


def plan_runs(
    budget: Budget,
    models: Sequence[str],
    datasets: Sequence[str],
    runs_dir: Path,
    all_seeds: Union[bool, Collection[str]] = False,
    many_datasets: Sequence[str] = (),
) -> List[Run]:
    """
    Every run, in order: baselines, STM, MTM-C, MTM-W, MTM-CW, MTM-CW-many (on
    `many_datasets`), dictionary variants. `all_seeds`: `True` runs every model with every
    seed; a collection of model names runs those with every seed too (beside
    `MULTI_SEED_MODELS`); otherwise the other models run with the first seed.
    """
    wanted = list(models)
    if DICT_POSTPROCESS in wanted and "MTM-CW" not in wanted:
        wanted.append("MTM-CW")  # its archives are post-processed
    # The models that run with every seed.
    multi_seed = MULTI_SEED_MODELS | (set(MODELS) if all_seeds is True else set(all_seeds or ()))
    runs: List[Run] = []
    mtm_cw_runs: List[Run] = []
    for name in MODELS:
        if name not in wanted:
            continue
        spec = MODELS[name]
        seeds = budget.seeds if name in multi_seed else budget.seeds[:1]
        if spec.many:
            if not many_datasets:
                raise ValueError(f"{name} needs the list of datasets under the data root")
            groups = [list(many_datasets)]
        else:
            groups = [[d] for d in datasets] if spec.per_dataset else [list(datasets)]
        for group in groups:
            for seed in seeds:
                label = group[0] if spec.per_dataset else "all"
                run = Run(
                    model=name,
                    datasets=list(group),
                    seed=seed,
                    config=spec.configs[budget.optimizer],
                    run_dir=runs_dir / f"{_slug(name)}_{_slug(label)}_seed{seed}",
                    overrides=run_overrides(budget, group, seed, runs_dir / GATE_FILE),
                )
                runs.append(run)
                if name == "MTM-CW":
                    mtm_cw_runs.append(run)
    if DICT_POSTPROCESS in wanted:
        for source in mtm_cw_runs:
            runs.append(
                Run(
                    model=DICT_POSTPROCESS,
                    datasets=list(source.datasets),
                    seed=source.seed,
                    config=None,
                    run_dir=runs_dir / f"{_slug(DICT_POSTPROCESS)}_all_seed{source.seed}",
                    source=source,
                )
            )
    return runs


def train_command(run: Run, include_force: bool = False) -> List[str]:
    command = [
        sys.executable,
        "-m",
        "allennlp",
        "train",
        run.config,
        "-s",
        str(run.run_dir),
        "--include-package",
        "biomtl_allennlp",
        "-o",
        json.dumps(run.overrides, sort_keys=True),
    ]
    if "trainer.callbacks" in run.overrides:
        command += ["--include-package", "epoch_gate"]
    if include_force:
        command.append("-f")
    return command


def run_environment(budget: Budget, data_root: Path, dictionary: Optional[Path]) -> Dict[str, str]:
    """Variables set for every training subprocess."""
    env = {
        "BIOMTL_DATA_ROOT": str(data_root),
        "OMP_NUM_THREADS": str(budget.threads),
        "MKL_NUM_THREADS": str(budget.threads),
    }
    if dictionary is not None:
        env["BIOMTL_DICTIONARY"] = str(dictionary)
    if budget.time_budget_s is not None:
        # epoch_gate.py lives in benchmarks/, which is not a package.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(GATE_MODULE_DIR), os.environ.get("PYTHONPATH", "")] if p
        )
    return env


def needs_dictionary_env(run: Run) -> bool:
    return run.is_training and MODELS[run.model].dictionary


def shell_line(env: Dict[str, str], command: Sequence[str]) -> str:
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    return f"{prefix} {shlex.join(command)}"


# --------------------------------------------------------------------------- completeness


def _read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def metrics_complete(path: Path, datasets: Sequence[str]) -> bool:
    """metrics.json exists and has the test F1 of every dataset."""
    metrics = _read_json(path)
    if metrics is None:
        return False
    return all(
        isinstance(metrics.get(f"test_{dataset}_f1"), (int, float)) for dataset in datasets
    )


def run_signature(run: Run, dictionary_sha: Optional[str]) -> Dict[str, Any]:
    """What must match for a finished run to be reused (the device does not matter)."""
    overrides = {k: v for k, v in run.overrides.items() if k not in NEUTRAL_OVERRIDES}
    signature: Dict[str, Any] = {"config": run.config, "overrides": overrides}
    if not run.is_training or MODELS[run.model].dictionary:
        signature["dictionary_sha1"] = dictionary_sha
    if not run.is_training:
        assert run.source is not None
        signature["source"] = run.source.run_dir.name
    return signature


def is_complete(run: Run, dictionary_sha: Optional[str]) -> bool:
    if not metrics_complete(run.metrics_path, run.datasets):
        return False
    record = _read_json(record_path(run))
    return record is not None and record.get("signature") == run_signature(run, dictionary_sha)


def record_path(run: Run) -> Path:
    if run.is_training:
        return run.run_dir / RUN_RECORD
    assert run.source is not None
    return run.source.run_dir / f"{Path(POSTPROCESS_METRICS).stem}.{RUN_RECORD}"


# --------------------------------------------------------------------------- dictionary


def dataset_train_file(data_root: Path, dataset: str) -> Path:
    from_folder = {
        "BC2GM": "BC2GM-IOBES",
        "BC4CHEMD": "BC4CHEMD-IOBES",
        "BC5CDR": "BC5CDR-IOBES",
        "NCBI-disease": "NCBI-disease-IOBES",
        "JNLPBA": "JNLPBA",
    }
    return data_root / from_folder.get(dataset, dataset) / "train.tsv"


def build_dictionary(
    data_root: Path, datasets: Sequence[str], out: Path, max_sentences: Optional[int]
) -> str:
    """
    Builds the `term<TAB>type` dictionary from the training mentions of `datasets` (the first
    `max_sentences` sentences of each, as the models see them) and returns its SHA-1.
    """
    import itertools
    import tempfile

    from biomtl_allennlp.dataset_readers.multitask_ner import read_sentences
    from biomtl_allennlp.dictionary import build_dictionary_from_corpus

    out.parent.mkdir(parents=True, exist_ok=True)
    # The corpora mix IOBES and BIO: go through the reader (BIOUL out) into one IOBES file.
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as tmp:
        for dataset in datasets:
            sentences = read_sentences(str(dataset_train_file(data_root, dataset)))
            if max_sentences is not None:
                sentences = itertools.islice(sentences, max_sentences)
            for words, tags in sentences:
                for word, tag in zip(words, tags):
                    tag = {"L": "E", "U": "S"}.get(tag[0], tag[0]) + tag[1:]
                    tmp.write(f"{word}\t{tag}\n")
                tmp.write("\n")
    try:
        dictionary = build_dictionary_from_corpus([tmp.name], label_encoding="IOBES")
    finally:
        os.remove(tmp.name)
    dictionary.save(str(out))
    return hashlib.sha1(out.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- post-processing


def span_counts(
    gold: Sequence[str], predicted: Sequence[str]
) -> Dict[str, List[int]]:
    """`{type: [true positives, false positives, false negatives]}` of exact span matches."""
    from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans

    gold_spans = set(bioul_tags_to_spans(list(gold)))
    predicted_spans = set(bioul_tags_to_spans(list(predicted)))
    counts: Dict[str, List[int]] = {}
    for label, span in predicted_spans:
        counts.setdefault(label, [0, 0, 0])[0 if (label, span) in gold_spans else 1] += 1
    for label, span in gold_spans - predicted_spans:
        counts.setdefault(label, [0, 0, 0])[2] += 1
    return counts


def prf(tp: int, fp: int, fn: int) -> Tuple[float, float, float]:
    """Precision, recall, F1 as allennlp's SpanBasedF1Measure computes them."""
    precision = tp / (tp + fp + 1e-13)
    recall = tp / (tp + fn + 1e-13)
    f1 = 2.0 * precision * recall / (precision + recall + 1e-13)
    return precision, recall, f1


def metrics_from_counts(
    counts: Dict[str, Dict[str, List[int]]], prefix: str = "test_"
) -> Dict[str, float]:
    """`{dataset: {type: [tp, fp, fn]}}` -> `test_<dataset>_<metric>` and per-type keys."""
    metrics: Dict[str, float] = {}
    for dataset, per_type in counts.items():
        total = [sum(c[i] for c in per_type.values()) for i in range(3)]
        for name, values in [(None, total)] + sorted(per_type.items()):
            p, r, f = prf(*values)
            key = f"{prefix}{dataset}_" if name is None else f"{prefix}{dataset}_{name}_"
            metrics[key + "precision"], metrics[key + "recall"], metrics[key + "f1"] = p, r, f
    return metrics


def evaluate_postprocessing(
    archive_path: Path,
    dictionary_path: Path,
    cuda_device: int = -1,
    batch_size: int = 64,
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """
    Tags every test sentence of the archive's datasets with the model (each sentence by its own
    dataset's head), applies dictionary post-processing restricted to the dataset's entity types,
    and scores exact span matches.

    # Returns

    `(metrics with post-processing, metrics without)`, keys `test_<dataset>_<metric>`.
    """
    import biomtl_allennlp  # noqa: F401  (registers the components)
    from allennlp.models.archival import load_archive

    from biomtl_allennlp.common.datasets import label_namespace
    from biomtl_allennlp.dictionary import EntityDictionary, postprocess_tags

    import logging

    # forward_on_instances warns that the batch loss cannot be split per instance.
    logging.getLogger("allennlp.models.model").setLevel(logging.ERROR)
    archive = load_archive(str(archive_path), cuda_device=cuda_device)
    model = archive.model
    model.eval()
    reader = archive.validation_dataset_reader
    dictionary = EntityDictionary.from_file(str(dictionary_path))
    instances = list(reader.read("test"))
    # Entity types of each dataset: those of its label namespace.
    types: Dict[str, List[str]] = {}
    for dataset in model.datasets:
        labels = model.vocab.get_token_to_index_vocabulary(label_namespace(dataset))
        types[dataset] = sorted({label.split("-", 1)[1] for label in labels if label != "O"})
    with_pp: Dict[str, Dict[str, List[int]]] = {}
    without_pp: Dict[str, Dict[str, List[int]]] = {}
    for start in range(0, len(instances), batch_size):
        batch = instances[start : start + batch_size]
        outputs = model.forward_on_instances(batch)
        for instance, output in zip(batch, outputs):
            dataset = instance["metadata"]["dataset"]
            words = instance["metadata"]["words"]
            gold = list(instance["tags"].labels)
            predicted = output["tags"][dataset]
            processed = postprocess_tags(words, predicted, dictionary, types[dataset])
            for counts, tags in ((without_pp, predicted), (with_pp, processed)):
                per_type = counts.setdefault(dataset, {t: [0, 0, 0] for t in types[dataset]})
                for label, values in span_counts(gold, tags).items():
                    totals = per_type.setdefault(label, [0, 0, 0])
                    for i in range(3):
                        totals[i] += values[i]
    return metrics_from_counts(with_pp), metrics_from_counts(without_pp)


def discover_datasets(data_root: Path) -> List[str]:
    """
    Every dataset under the data root (a folder with train.tsv, devel.tsv and test.tsv), by
    its built-in name where it has one (`BC2GM-IOBES` -> `BC2GM`), the benchmark datasets first.
    """
    from biomtl_allennlp.common.datasets import BUILTIN_DATASETS, SPLITS

    if not Path(data_root).is_dir():
        raise SystemExit(f"{data_root}: data root not found")
    by_folder = {folder: name for name, folder in BUILTIN_DATASETS.items()}
    found = [
        by_folder.get(entry.name, entry.name)
        for entry in sorted(Path(data_root).iterdir())
        if entry.is_dir() and all((entry / f"{split}.tsv").is_file() for split in SPLITS)
    ]
    if not found:
        raise SystemExit(f"{data_root}: no dataset folder (train.tsv, devel.tsv, test.tsv) found")
    return [d for d in DEFAULT_DATASETS if d in found] + [
        d for d in found if d not in DEFAULT_DATASETS
    ]


# --------------------------------------------------------------------------- stored results


def stored_files(run: Run, store_dir: Path) -> List[Tuple[Path, Path]]:
    """`(file in the runs dir, its copy in the store)` of what a finished run leaves."""
    files = [run.metrics_path, record_path(run)]
    return [(path, store_dir / path.parent.name / path.name) for path in files]


def restore_from_store(runs: List[Run], store_dir: Path) -> int:
    """Copies stored metrics and records of runs missing from the runs dir into it."""
    restored = 0
    for run in runs:
        pairs = stored_files(run, store_dir)
        if all(stored.is_file() for _, stored in pairs) and not all(
            path.is_file() for path, _ in pairs
        ):
            for path, stored in pairs:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stored, path)
            restored += 1
    return restored


def save_to_store(run: Run, store_dir: Path) -> None:
    for path, stored in stored_files(run, store_dir):
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, stored)


# --------------------------------------------------------------------------- running


class EpochGateController:
    """
    Lets parallel runs train one more epoch together while the slowest can still finish it,
    with its test evaluation, inside the time budget (`epoch_gate.py` is the runs' side).
    """

    # The next epoch is estimated as long as the last one (gate to gate) times this ...
    EPOCH_SAFETY = 1.15
    # ... and finishing (test evaluation, archive) as this fraction of an epoch plus seconds.
    FINISH_FRACTION = 0.5
    FINISH_SECONDS = 20.0

    def __init__(self, path: Path, max_epochs: int, budget_s: float) -> None:
        self.path = path
        self.max_epochs = max_epochs
        self.budget_s = budget_s
        self.started = self.released = time.time()
        self.allowed = 1
        self.final = False
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"epochs": self.allowed, "final": self.final}), encoding="utf-8")
        os.replace(tmp, self.path)

    def update(self, active: List[Run]) -> None:
        """Called with the runs still training; opens the next epoch or closes the gate."""
        if self.final:
            return
        for run in active:
            progress = _read_json(run.run_dir / GATE_PROGRESS) or {}
            if progress.get("epochs_done", 0) < self.allowed:
                return  # still training this epoch
        now = time.time()
        epoch_s = now - self.released
        remaining = self.budget_s - (now - self.started)
        needed = epoch_s * (self.EPOCH_SAFETY + self.FINISH_FRACTION) + self.FINISH_SECONDS
        if active and self.allowed < self.max_epochs and remaining > needed:
            self.allowed += 1
            self.released = now
            print(f"epoch gate: epoch {self.allowed - 1} took {epoch_s:.0f} s, {remaining:.0f} s "
                  f"left: every run trains epoch {self.allowed}", flush=True)
        else:
            self.final = True
            print(f"epoch gate: epoch {self.allowed} took {epoch_s:.0f} s, {remaining:.0f} s left: "
                  f"every run stops after {self.allowed} epoch(s)", flush=True)
        self._write()


@dataclass
class _Active:
    run: Run
    process: subprocess.Popen
    log: Any
    log_path: Path
    started: str
    start: float
    command: List[str]


def _launch(run: Run, budget: Budget, data_root: Path, runs_dir: Path,
            dictionary: Optional[Path], label: str) -> _Active:
    command = train_command(run, include_force=run.run_dir.exists())
    run_env = run_environment(budget, data_root, dictionary if needs_dictionary_env(run) else None)
    env = dict(os.environ)
    env.update(run_env)
    log_path = runs_dir / "logs" / f"{run.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"{label}: {shell_line(run_env, command)}")
    print(f"{label}: log in {log_path}", flush=True)
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(
        command, cwd=str(REPO_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return _Active(run, process, log, log_path,
                   datetime.datetime.now().isoformat(timespec="seconds"), time.time(), command)


def epochs_trained(run: Run) -> Optional[int]:
    """Epochs a finished training run trained (allennlp's last `epoch` + 1), else None."""
    last_epoch = (_read_json(run.metrics_path) or {}).get("epoch")
    return last_epoch + 1 if run.is_training and isinstance(last_epoch, int) else None


def _write_record(run: Run, budget: Budget, command: Sequence[str], started: str, wall: float,
                  dictionary_sha: Optional[str], store_dir: Optional[Path]) -> None:
    record = {
        "model": run.model,
        "datasets": run.datasets,
        "seed": run.seed,
        "command": shlex.join(command),
        "started": started,
        "wall_time_s": round(wall, 1),
        "budget": budget.as_dict(),
        "signature": run_signature(run, dictionary_sha),
        "machine": machine_description(budget.cuda_device),
    }
    epochs = epochs_trained(run)
    if epochs is not None:
        record["epochs_trained"] = epochs
    record_path(run).write_text(json.dumps(record, indent=2), encoding="utf-8")
    if store_dir is not None:
        save_to_store(run, store_dir)


def execute(
    runs: List[Run],
    budget: Budget,
    data_root: Path,
    runs_dir: Path,
    dictionary: Optional[Path],
    dictionary_sha: Optional[str],
    jobs: int = 1,
    store_dir: Optional[Path] = None,
) -> None:
    """
    Trains the runs that are not complete, `jobs` at a time, then runs the evaluation steps.
    A failed run does not stop the others; the script exits with an error after them.
    """
    total = len(runs)
    labels = {run.name: f"[{index}/{total}] {run.name}" for index, run in enumerate(runs, 1)}
    todo = []
    for run in runs:
        if is_complete(run, dictionary_sha):
            record = _read_json(record_path(run)) or {}
            print(f"{labels[run.name]}: complete, skipped "
                  f"(trained in {record.get('wall_time_s', '?')} s)")
        else:
            todo.append(run)
    training = [run for run in todo if run.is_training]
    if budget.time_budget_s is not None and len(training) > jobs:
        raise SystemExit(
            f"--time-budget-s: {len(training)} runs to train but --jobs {jobs}; every run of a "
            "time budget trains at once"
        )
    runs_dir.mkdir(parents=True, exist_ok=True)
    for run in training:  # a progress file left by an earlier attempt would open the gate
        (run.run_dir / GATE_PROGRESS).unlink(missing_ok=True)
    gate = (
        EpochGateController(runs_dir / GATE_FILE, budget.epochs, budget.time_budget_s)
        if budget.time_budget_s is not None and training
        else None
    )
    failed: List[str] = []
    queue = list(training)
    active: List[_Active] = []
    while queue or active:
        while queue and len(active) < jobs:
            run = queue.pop(0)
            active.append(_launch(run, budget, data_root, runs_dir, dictionary, labels[run.name]))
        time.sleep(1.0)
        for item in list(active):
            code = item.process.poll()
            if code is None:
                continue
            active.remove(item)
            item.log.close()
            label = labels[item.run.name]
            wall = time.time() - item.start
            if code != 0 or not metrics_complete(item.run.metrics_path, item.run.datasets):
                tail = item.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                print(f"{label}: allennlp train failed (exit code {code}); see {item.log_path}:\n"
                      + "\n".join(tail[-20:]), flush=True)
                failed.append(item.run.name)
                continue
            _write_record(item.run, budget, item.command, item.started, wall, dictionary_sha,
                          store_dir)
            print(f"{label}: done in {wall:.1f} s", flush=True)
        if gate is not None:
            gate.update([item.run for item in active])

    for run in todo:
        if run.is_training:
            continue
        label = labels[run.name]
        assert run.source is not None and dictionary is not None
        if not is_complete(run.source, dictionary_sha):
            print(f"{label}: {run.source.name} has not finished", flush=True)
            failed.append(run.name)
            continue
        start = time.time()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        print(f"{label}: dictionary post-processing of {run.source.run_dir}/model.tar.gz",
              flush=True)
        os.environ.update(run_environment(budget, data_root, dictionary))
        with_pp, without_pp = evaluate_postprocessing(
            run.source.run_dir / "model.tar.gz", dictionary, budget.cuda_device
        )
        with_pp["without_postprocessing"] = without_pp  # type: ignore
        with_pp["dictionary"] = str(dictionary)  # type: ignore
        run.metrics_path.write_text(json.dumps(with_pp, indent=2), encoding="utf-8")
        shown = ["(in process) evaluate_postprocessing", str(run.source.run_dir)]
        wall = time.time() - start
        _write_record(run, budget, shown, started, wall, dictionary_sha, store_dir)
        print(f"{label}: done in {wall:.1f} s", flush=True)
    if failed:
        raise SystemExit(f"{len(failed)} run(s) failed: {', '.join(failed)}")


# --------------------------------------------------------------------------- results


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=str(REPO_ROOT), capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@functools.lru_cache(maxsize=None)
def machine_description(cuda_device: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{platform.node()}, {platform.platform()}, {cpu}, {os.cpu_count()} CPU(s)"
    if cuda_device >= 0:
        try:
            gpu = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", f"-i={cuda_device}"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            gpu = "unknown GPU"
        text += f", GPU {cuda_device}: {gpu}"
    return text


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it (for the results file)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)



def _relative_files(results: Any) -> Any:
    """Lists a `tables.Results`' metrics files relative to the repository."""
    results.files = {m: [_shown(Path(f)) for f in files] for m, files in results.files.items()}
    return results


def _f1_values(path: Path, dataset: str) -> Optional[float]:
    metrics = _read_json(path) or {}
    value = metrics.get(f"test_{dataset}_f1", metrics.get(f"{dataset}_f1"))
    return float(value) if isinstance(value, (int, float)) else None


def compare_mtm_cw_stm(runs: List[Run], datasets: Sequence[str]) -> List[Dict[str, Any]]:
    """
    Per dataset: STM and MTM-CW test F1 (%) per seed, the difference of the means and the
    differences of runs with the same seed (mean, std, min, max).
    """
    rows = []
    for dataset in datasets:
        stm = {r.seed: _f1_values(r.metrics_path, dataset)
               for r in runs if r.model == "STM" and r.datasets == [dataset]}
        mtm = {r.seed: _f1_values(r.metrics_path, dataset)
               for r in runs if r.model == "MTM-CW" and dataset in r.datasets}
        stm = {s: 100 * v for s, v in stm.items() if v is not None}
        mtm = {s: 100 * v for s, v in mtm.items() if v is not None}
        if not stm or not mtm:
            continue
        paired = [mtm[s] - stm[s] for s in sorted(set(stm) & set(mtm))]
        rows.append(
            {
                "dataset": dataset,
                "stm": list(stm.values()),
                "mtm_cw": list(mtm.values()),
                "diff_of_means": statistics.fmean(mtm.values()) - statistics.fmean(stm.values()),
                "paired": paired,
            }
        )
    return rows


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.2f} (n=1)"
    return f"{mean:.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def comparison_lines(rows: List[Dict[str, Any]]) -> List[str]:
    lines = []
    for row in rows:
        paired = row["paired"]
        spread = ""
        if paired:
            spread = (
                f"; same-seed differences {', '.join(_signed(d) for d in paired)}"
                f" (mean {_signed(statistics.fmean(paired))}"
                + (f", std {statistics.stdev(paired):.2f}" if len(paired) > 1 else "")
                + f", range {_signed(min(paired))} to {_signed(max(paired))})"
            )
        lines.append(
            f"{row['dataset']}: STM {_mean_std(row['stm'])}, MTM-CW {_mean_std(row['mtm_cw'])}, "
            f"MTM-CW - STM {_signed(row['diff_of_means'])}{spread}"
        )
    return lines


def comparison_table(rows: List[Dict[str, Any]]) -> str:
    header = "| Dataset | STM F1 | MTM-CW F1 | MTM-CW − STM (means) | same-seed differences | mean ± std of same-seed differences |"
    lines = [header, "|---|---|---|---|---|---|"]
    for row in rows:
        paired = row["paired"]
        if paired:
            spread = _signed(statistics.fmean(paired)) + (
                f" ± {statistics.stdev(paired):.2f}" if len(paired) > 1 else ""
            )
        else:
            spread = "-"
        lines.append(
            f"| {row['dataset']} | {_mean_std(row['stm'])} | {_mean_std(row['mtm_cw'])} | "
            f"{_signed(row['diff_of_means'])} | {', '.join(_signed(d) for d in paired) or '-'} | "
            f"{spread} |"
        )
    return "\n".join(lines)


def write_results(
    runs: List[Run],
    budget: Budget,
    datasets: Sequence[str],
    command: str,
    results_path: Path,
    figure_path: Path,
    data_root: Path,
    dictionary: Optional[Path] = None,
    notes: Optional[Path] = None,
    store_dir: Optional[Path] = None,
) -> List[str]:
    """
    Writes the results markdown (and the Fig. 4 PNG) from the runs that have complete metrics;
    returns the MTM-CW vs STM summary lines.
    """
    from biomtl_allennlp.evaluation import tables

    done = [r for r in runs if metrics_complete(r.metrics_path, r.datasets)]
    def metrics_file(run: Run) -> str:
        """The committed copy of a run's metrics where there is one."""
        if store_dir is not None:
            stored = stored_files(run, store_dir)[0][1]
            if stored.is_file():
                return str(stored.resolve())
        return str(run.metrics_path)

    specs = [(r.model, metrics_file(r)) for m in TABLE2_MODELS for r in done if r.model == m]
    # Table 4 only where a dictionary variant finished (MTM-CW alone is not Table 4).
    table4_specs = [
        (TABLE4_MODELS[r.model], metrics_file(r))
        for m in TABLE4_MODELS for r in done if r.model == m
    ] if any(r.model in DICTIONARY_MODELS for r in done) else []
    comparison = compare_mtm_cw_stm(done, datasets)
    summary = comparison_lines(comparison)
    records = {run.name: _read_json(record_path(run)) or {} for run in runs}
    for run in done:  # records written before epochs were recorded
        if "epochs_trained" not in records[run.name]:
            epochs = epochs_trained(run)
            if epochs is not None:
                records[run.name]["epochs_trained"] = epochs
    epochs_per_run = [
        r["epochs_trained"] for r in records.values() if isinstance(r.get("epochs_trained"), int)
    ]
    threads_used = [
        r["budget"]["threads"] for r in records.values()
        if isinstance(r.get("budget", {}).get("threads"), int)
    ]

    parts = [
        "# Reproduction results: Wang et al. 2019, cross-type biomedical NER with multi-task learning",
        "",
        "Generated by `benchmarks/reproduce.py` (do not edit by hand: running the script again "
        "overwrites this file).",
        "",
        f"- Command: `{command}`",
        f"- Git commit: `{_git('rev-parse', 'HEAD')}`"
        + (" (working tree with uncommitted changes)" if _git("status", "--porcelain") else ""),
        f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        "- Machine: "
        + (
            "; ".join(sorted({r["machine"] for r in records.values() if r.get("machine")}))
            or machine_description(budget.cuda_device)
        ),
        f"- Data: {data_root} (datasets: {', '.join(datasets)})"
        + ("" if "BC4CHEMD" in datasets else "; BC4CHEMD is not available here, its rows stay empty"),
        "",
        "## Budget (the same for every run)",
        "",
        "| Setting | Value |",
        "|---|---|",
        *[
            f"| {key} | {value} |"
            for key, value in budget.describe(epochs_per_run, threads_used, seeds_by_model(runs))
        ],
        "",
        "The paper trains with SGD (lr 0.01, momentum 0.9) for up to 100+ epochs with early "
        "stopping and 200-d word2vec vectors pre-trained on PubMed/PMC; the runs here use the "
        "budget above and randomly initialised word embeddings, so absolute scores are lower "
        "than the paper's; the comparison between models under the same budget is the point.",
        "",
        "## Runs",
        "",
        "| Run | Model | Datasets | Seed | Epochs | Wall time (s) | Metrics |",
        "|---|---|---|---|---|---|---|",
    ]
    total_wall = 0.0
    for run in runs:
        record = records[run.name]
        wall = record.get("wall_time_s")
        if isinstance(wall, (int, float)):
            total_wall += wall
        status = f"`{_shown(Path(metrics_file(run)))}`" if run in done else "missing"
        datasets_text = (
            f"{len(run.datasets)} datasets" if run.model == MANY
            else ", ".join(run.datasets)
        )
        parts.append(
            f"| {run.name} | {run.model} | {datasets_text} | {run.seed} | "
            f"{record.get('epochs_trained', '-') if run.is_training else '-'} | "
            f"{wall if wall is not None else '-'} | {status} |"
        )
    parts += ["", f"Total wall time of the runs: {total_wall / 3600:.2f} h ({total_wall:.0f} s)"
              + (" (runs in parallel: the sum of their wall times)"
                 if budget.time_budget_s is not None else "") + ".", ""]
    parts += [
        "## MTM-CW vs STM (test F1, %)",
        "",
        comparison_table(comparison) if comparison else "No dataset has both STM and MTM-CW runs.",
        "",
    ]
    if specs:
        results = _relative_files(tables.Results(specs))
        body = tables.render_markdown(results, paper=True).splitlines()
        # Drop the module's own title; keep its sections.
        body = [line for line in body if line != "# Results"]
        parts += ["## Paper tables", ""] + body
        figure_path.parent.mkdir(parents=True, exist_ok=True)
        tables.plot_figure4(results, str(figure_path))
        parts += ["", f"![Fig. 4: F1 per entity type]({os.path.relpath(figure_path, results_path.parent)})", ""]
    else:
        parts += ["No finished runs yet.", ""]
    if table4_specs:
        results4 = _relative_files(tables.Results(table4_specs))
        parts += [
            "## Table 4: dictionary feature and dictionary post-processing",
            "",
            "The paper's CTD dictionaries are not available: the dictionary "
            + (f"(`{_shown(dictionary)}`) " if dictionary else "")
            + "holds the entity mentions of the training splits of the benchmark datasets "
            "(the sentences the models were trained on), so every training entity is a "
            "dictionary term. Post-processing labels dictionary matches (longest match, "
            "the dataset's entity types only) among the words the model tagged `O`, and is "
            "scored by exact span match like allennlp's SpanBasedF1Measure.",
            "",
            tables.table2(results4),
            "",
        ]
    many = [r for r in done if r.model == MANY]
    if many:
        parts += many_dataset_section(done, many, datasets)
    if notes is not None:
        parts += ["", notes.read_text(encoding="utf-8").rstrip(), ""]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return summary


def many_dataset_section(done: List[Run], many: List[Run], datasets: Sequence[str]) -> List[str]:
    """MTM-CW on every dataset under the data root, beside MTM-CW on the benchmark datasets."""
    mtm_cw = [r for r in done if r.model == "MTM-CW"]
    all_datasets = list(dict.fromkeys(d for r in many for d in r.datasets))
    lines = [
        "## Many-dataset setting: MTM-CW on every dataset under the data root",
        "",
        f"`{MANY}` is MTM-CW trained on all {len(all_datasets)} datasets of the data root "
        f"(seeds {', '.join(str(r.seed) for r in many)}), one CRF head each, under the same "
        "budget; `MTM-CW` is the benchmark-datasets model above. Test F1 (%).",
        "",
        f"| Dataset | MTM-CW ({len(datasets)} datasets) | {MANY} ({len(all_datasets)} datasets) "
        "| difference of the means |",
        "|---|---|---|---|",
    ]
    for dataset in all_datasets:
        few = [100 * v for r in mtm_cw if dataset in r.datasets
               for v in [_f1_values(r.metrics_path, dataset)] if v is not None]
        lots = [100 * v for r in many
                for v in [_f1_values(r.metrics_path, dataset)] if v is not None]
        diff = (_signed(statistics.fmean(lots) - statistics.fmean(few))
                if few and lots else "-")
        name = f"**{dataset}**" if dataset in datasets else dataset
        lines.append(f"| {name} | {_mean_std(few)} | {_mean_std(lots)} | {diff} |")
    return lines + [""]


# --------------------------------------------------------------------------- command line


def _csv(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train and evaluate every model of Wang et al. 2019 under one budget and "
        "write docs/results.md.",
    )
    parser.add_argument("--budget-epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch (32)")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                        help="adam: the budget configs (default); sgd: the paper's configs")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 0.002 for adam, 0.01 for sgd)")
    parser.add_argument("--patience", type=int, default=None,
                        help="early stopping patience in epochs (default: none)")
    parser.add_argument("--seeds", default="1,2",
                        help="comma-separated seeds; STM and MTM-CW run with each (default 1,2)")
    parser.add_argument("--all-seeds", nargs="?", const=True, default=False, metavar="MODELS",
                        help="run every model with every seed, or (comma-separated) these "
                        "models too (default: the first seed for the baselines, MTM-C, "
                        "MTM-W and MTM-CW-many)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run (2)")
    parser.add_argument("--max-sentences-per-dataset", type=int, default=None,
                        help="read at most N sentences of each dataset per split (default all)")
    parser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for CPU")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help=f"comma-separated (default {','.join(DEFAULT_DATASETS)})")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated subset of models: {', '.join(ALL_MODEL_NAMES)}")
    parser.add_argument("--dictionary", action="store_true",
                        help=f"also run {DICT_FEATURE} and {DICT_POSTPROCESS} (Table 4)")
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT),
                        help="folder with the corpora (default ../shared/data from the repo root)")
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR),
                        help="where the runs go (default runs/reproduce)")
    parser.add_argument("--results", default=str(DEFAULT_RESULTS), help="markdown to write")
    parser.add_argument("--figure", default=str(DEFAULT_FIGURE), help="Fig. 4 PNG to write")
    parser.add_argument("--store", default=None,
                        help="folder for copies of the finished runs' metrics and records "
                        "(default: beside --results, e.g. docs/results_runs)")
    parser.add_argument("--notes", default=None,
                        help="markdown file appended to the results (notes that survive "
                        "regeneration)")
    parser.add_argument("--many", action="store_true",
                        help=f"also run {MANY}: MTM-CW on every dataset under the data root")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at a time (default 1)")
    parser.add_argument("--time-budget-s", type=float, default=None,
                        help="wall-clock budget of all runs trained at once (needs --jobs >= "
                        "the number of runs): every run stops after the same number of epochs, "
                        "at most --budget-epochs")
    parser.add_argument("--eval-batch-size", type=int, default=None,
                        help="sentences per validation/test batch (default: the training "
                        "batch size; the metrics do not depend on it)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the commands only")
    mode.add_argument("--tables-only", action="store_true",
                      help="train nothing; write the results from the finished runs")
    args = parser.parse_args(argv)

    try:
        args.seed_list = [int(seed) for seed in _csv(args.seeds)]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if not args.seed_list:
        parser.error("--seeds: give at least one seed")
    args.dataset_list = _csv(args.datasets)
    if not args.dataset_list:
        parser.error("--datasets: give at least one dataset")
    if isinstance(args.all_seeds, str):
        args.all_seeds = _csv(args.all_seeds)
        unknown = [m for m in args.all_seeds if m not in ALL_MODEL_NAMES]
        if unknown or not args.all_seeds:
            parser.error(f"--all-seeds: unknown model(s) {unknown}; choose from "
                         f"{ALL_MODEL_NAMES}, or give no value for every model")
    if args.only:
        args.models = _csv(args.only)
        unknown = [m for m in args.models if m not in ALL_MODEL_NAMES]
        if unknown:
            parser.error(f"--only: unknown model(s) {unknown}; choose from {ALL_MODEL_NAMES}")
    else:
        args.models = (
            DEFAULT_MODELS
            + ([MANY] if args.many else [])
            + (DICTIONARY_MODELS if args.dictionary else [])
        )
    if args.budget_epochs < 1 or args.batch_size < 1 or args.threads < 1 or args.jobs < 1:
        parser.error("--budget-epochs, --batch-size, --threads and --jobs must be positive")
    if args.time_budget_s is not None and args.time_budget_s <= 0:
        parser.error("--time-budget-s must be positive")
    if args.eval_batch_size is not None and args.eval_batch_size < 1:
        parser.error("--eval-batch-size must be positive")
    if args.notes is not None and not Path(args.notes).is_file():
        parser.error(f"--notes: {args.notes}: file not found")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    budget = Budget(
        epochs=args.budget_epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else DEFAULT_LR[args.optimizer],
        patience=args.patience,
        seeds=args.seed_list,
        threads=args.threads,
        max_sentences_per_dataset=args.max_sentences_per_dataset,
        cuda_device=args.cuda_device,
        eval_batch_size=args.eval_batch_size,
        time_budget_s=args.time_budget_s,
    )
    data_root = Path(args.data_root).resolve()
    runs_dir = Path(args.runs_dir).resolve()
    results_path = Path(args.results)
    store_dir = (
        Path(args.store) if args.store
        else results_path.with_name(results_path.stem + "_runs")
    )
    many_datasets = discover_datasets(data_root) if MANY in args.models else []
    runs = plan_runs(
        budget, args.models, args.dataset_list, runs_dir, args.all_seeds, many_datasets
    )
    needs_dictionary = any(r.model in DICTIONARY_MODELS for r in runs)
    dictionary = runs_dir / "dictionary" / "train_mentions.tsv" if needs_dictionary else None
    python = Path(sys.executable)
    if REPO_ROOT in python.parents:
        python = python.relative_to(REPO_ROOT)
    command = shlex.join(
        [str(python), "benchmarks/reproduce.py", *(argv if argv is not None else sys.argv[1:])]
    )

    print("Budget (every run):")
    for key, value in budget.describe(seeds_by_model=seeds_by_model(runs)):
        print(f"  {key}: {value}")
    print(f"Datasets: {', '.join(args.dataset_list)}; data root: {data_root}")
    print(f"Models: {', '.join(dict.fromkeys(r.model for r in runs))}")
    trained = sum(r.is_training for r in runs)
    print(f"Runs: {len(runs)} ({trained} training, {len(runs) - trained} evaluation); "
          f"runs dir: {runs_dir}")

    if args.dry_run:
        if dictionary is not None:
            print(f"# build the dictionary from the training mentions -> {dictionary}")
        for index, run in enumerate(runs, start=1):
            if run.is_training:
                env = run_environment(
                    budget, data_root, dictionary if needs_dictionary_env(run) else None
                )
                print(f"[{index}/{len(runs)}] {run.name}: {shell_line(env, train_command(run))}")
            else:
                print(f"[{index}/{len(runs)}] {run.name}: dictionary post-processing of "
                      f"{run.source.run_dir}/model.tar.gz with {dictionary}")
        return 0

    dictionary_sha = None
    if dictionary is not None and not args.tables_only:
        dictionary_sha = build_dictionary(
            data_root, args.dataset_list, dictionary, budget.max_sentences_per_dataset
        )
        print(f"Dictionary: {dictionary} (sha1 {dictionary_sha[:10]})")
    elif dictionary is not None and dictionary.exists():
        dictionary_sha = hashlib.sha1(dictionary.read_bytes()).hexdigest()

    restored = restore_from_store(runs, store_dir)
    if restored:
        print(f"Restored {restored} finished run(s) from {store_dir}")
    if not args.tables_only:
        start = time.time()
        execute(runs, budget, data_root, runs_dir, dictionary, dictionary_sha, args.jobs,
                store_dir)
        print(f"All runs finished in {time.time() - start:.1f} s")

    for run in runs:  # runs finished by an earlier invocation with another --results
        if metrics_complete(run.metrics_path, run.datasets) and record_path(run).is_file():
            save_to_store(run, store_dir)
    summary = write_results(
        runs, budget, args.dataset_list, command, results_path, Path(args.figure),
        data_root, dictionary, Path(args.notes) if args.notes else None, store_dir,
    )
    print(f"Wrote {args.results} and {args.figure}")
    print("MTM-CW vs STM, test F1 (%):")
    for line in summary or ["  (no dataset has both STM and MTM-CW runs)"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
