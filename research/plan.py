"""
What the reproduction trains: the models of Wang et al. 2019 (which config makes STM, MTM-C,
...), the budget every run shares, and the plan, the list of runs (each an `allennlp train`
with `-o` overrides, or an evaluation step).
"""
import json
import shlex
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS, BUILTIN_DATASETS, SPLITS
from research.record import METRICS_FILE, RECORD_FILE

# The experiments run from a checkout: configs are paths relative to its root.
REPO_ROOT = Path(__file__).resolve().parents[1]

# File layout of a run directory (`research.record`) and of the runs directory.
GATE_FILE = "epoch_gate.json"  # in the runs dir, written by the epoch gate controller

DICT_FEATURE = "MTM-CW+dict-feature"
DICT_POSTPROCESS = "MTM-CW+dict-postprocess"
MANY = "MTM-CW-many"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    # Config for each optimizer: "adam" (the CPU budget configs) and "sgd" (the paper's).
    configs: Dict[str, str]
    # One run per dataset (STM, baselines) or one run over all datasets (MTM).
    per_dataset: bool
    description: str
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
        ),
    ]
)
# Not trained: evaluated from the MTM-CW archives.
EVALUATION_MODELS = {DICT_POSTPROCESS: "MTM-CW + dictionary post-processing (Table 4)"}
ALL_MODEL_NAMES = list(MODELS) + list(EVALUATION_MODELS)
DICTIONARY_MODELS = [DICT_FEATURE, DICT_POSTPROCESS]
DEFAULT_MODELS = ["Lample", "Ma-Hovy", "STM", "MTM-C", "MTM-W", "MTM-CW"]
MULTI_SEED_MODELS = {"STM", "MTM-CW", DICT_FEATURE, DICT_POSTPROCESS}
DEFAULT_DATASETS = list(BENCHMARK_DATASETS)
# The configs that read the dictionary (`$BIOMTL_DICTIONARY`).
DICTIONARY_CONFIGS = "training_configs/dictionary/"

# Default learning rate per optimizer (those of biomtl.libsonnet's budget and paper trainers).
DEFAULT_LR = {"adam": 0.002, "sgd": 0.01}

# Overrides that do not change what a run computes (reused runs may differ in them).
NEUTRAL_OVERRIDES = ("trainer.cuda_device", "trainer.callbacks", "validation_data_loader")


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
    # Wall-clock budget of a parallel set of runs (see the epoch gate); None: no gate.
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
    # An unfinished run folder is resumed (`allennlp train --recover`), not started afresh.
    recover: bool = False
    # The record holds the budget (a budget reproduction's runs share one).
    record_budget: bool = True
    # The record counts the training sentences per dataset (reads the training data again).
    count_sentences: bool = False
    # Where the per-sentence test span counts go (`allennlp significance` files), if anywhere.
    counts_dir: Optional[Path] = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def is_training(self) -> bool:
        return self.config is not None

    @property
    def uses_dictionary(self) -> bool:
        """Its result depends on the dictionary (dictionary features or post-processing)."""
        return not self.is_training or self.config.startswith(DICTIONARY_CONFIGS)

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / METRICS_FILE

    @property
    def record_path(self) -> Path:
        """The run's record (`research.record`): how it ran, what must match to reuse it."""
        return self.run_dir / RECORD_FILE


def seeds_by_model(runs: Sequence[Run]) -> Dict[str, List[int]]:
    """Each planned model's seeds, in plan order."""
    seeds: Dict[str, List[int]] = {}
    for run in runs:
        seeds.setdefault(run.model, [])
        if run.seed not in seeds[run.model]:
            seeds[run.model].append(run.seed)
    return seeds


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
        overrides["trainer.callbacks"] = [
            {"type": "epoch_gate", "gate_file": str(gate_file), "num_epochs": budget.epochs}
        ]
    return overrides


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


def discover_datasets(data_root: Path) -> List[str]:
    """
    Every dataset under the data root (a folder with train.tsv, devel.tsv and test.tsv), by
    its built-in name where it has one (`BC2GM-IOBES` -> `BC2GM`), the benchmark datasets first.
    """
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


# --------------------------------------------------------------------------- commands


def train_command(run: Run, include_force: bool = False, recover: bool = False) -> List[str]:
    """
    `allennlp train` of a training run (`-f` to start an incomplete run dir afresh, `--recover`
    to resume it; with `--include-package research.callbacks` when it trains under the epoch gate).
    """
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
    ]
    if "trainer.callbacks" in run.overrides:  # the epoch gate is registered by `research`
        command += ["--include-package", "research.callbacks"]
    command += ["-o", json.dumps(run.overrides, sort_keys=True)]
    if include_force:
        command.append("-f")
    if recover:
        command.append("--recover")
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
    return env


def needs_dictionary_env(run: Run) -> bool:
    return run.is_training and run.uses_dictionary


def shell_line(env: Mapping[str, str], command: Sequence[str]) -> str:
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    return f"{prefix} {shlex.join(command)}"


def shown_path(path: Path) -> str:
    """A path relative to the repository when it is inside it (for results and messages)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def repo_relative_python() -> str:
    """The running interpreter, relative to the repository when it is inside it."""
    python = Path(sys.executable)
    if REPO_ROOT in python.parents:
        python = python.relative_to(REPO_ROOT)
    return str(python)
