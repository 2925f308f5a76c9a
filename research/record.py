"""
The run record: one JSON file, `run.json`, in a run's folder (beside allennlp's `metrics.json`
while the run folder exists) and in its committed copy under `docs/<page>_runs/<run>/`, for
every run of the research code (budget reproductions and converged lanes alike):

- `run`, `model`, `datasets`, `seed`: the run's name, its model (a plan model such as
  `MTM-CW`, or a lane run's name without `_s<seed>`), the datasets it trains (or evaluates)
  on, its seed;
- `signature` (optional): what must match for a finished run to be reused (config,
  overrides, dictionary; see `research.store.run_signature`);
- `command`, `started`, `wall_time_s`, `machine`, `threads` (optional where not known):
  how and where it ran;
- `budget` (budget reproductions): the budget every run of the page shares;
- `settings` (training runs): what the run's `config.json` says of the model, sampler,
  optimiser and trainer;
- `training_sentences` (optional): training sentences per dataset;
- `epochs_trained`, `best_epoch`, `training_duration_s`, `resumed`, `epochs` (training runs):
  per epoch the cumulative training time, training loss and devel F1 per dataset and macro;
- `validation_f1`, `validation_macro_f1`: devel F1 (%) at the best epoch;
- `test`: `{dataset: {precision, recall, f1, types_f1}}`, percentages with 2 decimals (runs
  recorded before the full records hold `f1` alone);
- `note` (optional): where a record's numbers come from when not from its run folder.

`python -m research.record RUN_DIR --store DIR [--counts-dir DIR]` records a finished run
folder by hand (the runner records each run it finishes).
"""
import argparse
import collections
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from biomtl_allennlp.common.metric_keys import TEST_PREFIX, datasets_in
from research.run_folder import epoch_metrics

RECORD_FILE = "run.json"
METRICS_FILE = "metrics.json"  # written by `allennlp train`


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON object file's content; `None` when missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_record(record: Dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


@functools.lru_cache(maxsize=None)
def machine_description(cuda_device: int) -> str:
    """The record's `machine`: host, platform, CPU model and count (and the GPU it used)."""
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


def seconds(duration: str) -> float:
    """`"1:02:03.5"` or `"2 days, 1:02:03.5"` (allennlp's `training_duration`) in seconds."""
    days = 0
    if "day" in duration:
        day_part, duration = duration.split(",", 1)
        days = int(day_part.split()[0])
    hours, minutes, secs = duration.strip().split(":")
    return datetime.timedelta(
        days=days, hours=int(hours), minutes=int(minutes), seconds=float(secs)
    ).total_seconds()


def percent(value: float) -> float:
    return round(100 * value, 2)


def epoch_records(run_dir: Path, datasets: Sequence[str]) -> List[Dict[str, Any]]:
    """Per epoch: cumulative training time, training loss, devel F1 per dataset and macro (where
    the run has a devel split)."""
    records = []
    for epoch, metrics in enumerate(epoch_metrics(run_dir)):
        record = {
            "epoch": epoch,
            "training_duration_s": round(seconds(metrics["training_duration"]), 1),
            "training_loss": round(metrics["training_loss"], 4),
        }
        if "validation_macro_f1" in metrics:  # a run without a devel split has none
            record["validation_f1"] = {name: percent(metrics[f"validation_{name}_f1"]) for name in datasets}
            record["validation_macro_f1"] = percent(metrics["validation_macro_f1"])
        records.append(record)
    return records


def test_scores(metrics: Dict[str, Any], datasets: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """`{dataset: {precision, recall, f1, types_f1}}` (%) of a metrics file's test scores."""
    scores = {}
    for name in datasets:
        types = sorted(
            key[len(f"test_{name}_"):-len("_f1")] for key in metrics
            if key.startswith(f"test_{name}_") and key.endswith("_f1") and key != f"test_{name}_f1"
        )  # fmt: skip
        scores[name] = {
            **{measure: percent(metrics[f"test_{name}_{measure}"]) for measure in ("precision", "recall", "f1")},
            "types_f1": {entity_type: percent(metrics[f"test_{name}_{entity_type}_f1"]) for entity_type in types},
        }
    return scores


def training_sentences(config: Dict[str, Any]) -> Dict[str, int]:
    """Training sentences per dataset, as the run's reader reads them."""
    from allennlp.common import Params
    from allennlp.data import DatasetReader

    import biomtl_allennlp  # noqa: F401  (registers the reader)

    reader = DatasetReader.from_params(Params(config["dataset_reader"]))
    counts = collections.Counter(
        instance["metadata"]["dataset"] for instance in reader.read(config["train_data_path"])
    )
    return dict(counts)


def settings(config: Dict[str, Any]) -> Dict[str, Any]:
    """What a run's `config.json` says of its model, sampler, optimiser and trainer."""
    trainer, loader = config["trainer"], config["data_loader"]
    return {
        "model": config["model"]["type"],
        "loss_weights": config["model"].get("loss_weights"),
        "batch_sampler": loader.get("batch_sampler"),
        "optimizer": trainer["optimizer"],
        "learning_rate_scheduler": trainer.get("learning_rate_scheduler"),
        "patience": trainer.get("patience"),
        "num_epochs": trainer.get("num_epochs"),
        "validation_metric": trainer.get("validation_metric"),
    }


def training_record(run_dir: Path, count_sentences: bool = False) -> Dict[str, Any]:
    """
    What a finished `allennlp train` folder says of its run: datasets, seed, settings, epochs,
    best epoch and test scores (the fields of the record that come from the run folder).
    """
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    datasets = datasets_in(key for key in metrics if key.startswith(TEST_PREFIX))
    epochs = epoch_records(run_dir, datasets)
    durations = [epoch["training_duration_s"] for epoch in epochs]
    best = epochs[metrics["best_epoch"]] if epochs else {}
    record: Dict[str, Any] = {
        "datasets": config["dataset_reader"]["datasets"],
        "seed": config.get("random_seed"),
        "settings": settings(config),
    }
    if count_sentences:
        record["training_sentences"] = training_sentences(config)
    record.update({
        "best_epoch": metrics["best_epoch"],
        "epochs_trained": len(epochs),
        "training_duration_s": round(seconds(metrics["training_duration"]), 1),
        # allennlp restarts its clock on --recover: durations then fall back once.
        "resumed": any(later < earlier for earlier, later in zip(durations, durations[1:])),
        "validation_f1": best.get("validation_f1"),
        "validation_macro_f1": best.get("validation_macro_f1"),
        "epochs": epochs,
        "test": test_scores(metrics, datasets),
    })  # fmt: skip
    return record


def save_test_counts(run_dir: Path, datasets: Sequence[str], counts_dir: Path) -> List[Path]:
    """Per-sentence test span counts of each head (`allennlp significance --save-counts` files),
    so later paired bootstrap tests can pool this seed without the model archive."""
    from biomtl_allennlp.evaluation.significance import save_counts, scored_sentences

    written = []
    for name in datasets:
        counts, fingerprint = scored_sentences(str(run_dir / "model.tar.gz"), name, "test")
        target = counts_dir / f"{run_dir.name}.{name}.test.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        save_counts(str(target), counts, fingerprint, name, "test", f"{run_dir.name}/model.tar.gz")
        written.append(target)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m research.record", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run_dir")
    parser.add_argument("--store", required=True, help="writes STORE/<run>/run.json")
    parser.add_argument("--model", default=None, help="default: the run's name without _s<seed>")
    parser.add_argument("--threads", type=int, default=None, help="torch threads it trained with")
    parser.add_argument("--counts-dir", default=None, help="also save per-sentence test counts here")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    if not (run_dir / METRICS_FILE).is_file():
        sys.exit(f"error: {run_dir}: no metrics.json, the run has not finished")
    name = run_dir.name
    record = {"run": name, "model": args.model or name.rsplit("_s", 1)[0]}
    trained = training_record(run_dir, count_sentences=True)
    record.update({"datasets": trained.pop("datasets"), "seed": trained.pop("seed")})
    record.update({"machine": machine_description(-1), "threads": args.threads, **trained})
    out = Path(args.store) / name / RECORD_FILE
    write_record(record, out)
    print(f"wrote {out}")
    if args.counts_dir:
        for path in save_test_counts(run_dir, list(record["test"]), Path(args.counts_dir)):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
