"""
The committed record of one finished converged run (issue 11), so its results outlive the
run folder (run folders live outside the checkout and may not survive the machine):

    .venv/bin/python -m research.converged.record_run RUN_DIR [--counts-dir docs/significance/counts]

Writes `docs/converged_runs/<run>.json`: the run's settings (datasets, seed, sampler, loss
weights, optimiser, patience), training sentences per corpus, per epoch the cumulative
training time, training loss and devel F1 per head and macro, the best epoch, and the test
scores (overall and per type) of `metrics.json`. With `--counts-dir`, also the per-sentence
test span counts of each head (`allennlp significance --save-counts` files), so later
paired bootstrap tests can pool this seed without the model archive.
`run_lane.sh` calls it after each finished run.
"""
import argparse
import collections
import datetime
import json
import platform
import sys
from pathlib import Path

from biomtl_allennlp.common.metric_keys import datasets_in
from research.plan import REPO_ROOT as ROOT
from research.run_folder import epoch_metrics


def seconds(duration: str) -> float:
    """`"1:02:03.5"` or `"2 days, 1:02:03.5"` (allennlp's `training_duration`) in seconds."""
    days = 0
    if "day" in duration:
        day_part, duration = duration.split(",", 1)
        days = int(day_part.split()[0])
    hours, minutes, secs = duration.strip().split(":")
    return datetime.timedelta(days=days, hours=int(hours), minutes=int(minutes), seconds=float(secs)).total_seconds()


def percent(value: float) -> float:
    return round(100 * value, 2)


def epoch_records(run_dir: Path, datasets):
    records = []
    for epoch, metrics in enumerate(epoch_metrics(run_dir)):
        records.append({
            "epoch": epoch,
            "training_duration_s": round(seconds(metrics["training_duration"]), 1),
            "training_loss": round(metrics["training_loss"], 4),
            "validation_f1": {name: percent(metrics[f"validation_{name}_f1"]) for name in datasets},
            "validation_macro_f1": percent(metrics["validation_macro_f1"]),
        })  # fmt: skip
    return records


def test_scores(metrics, datasets):
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


def processor() -> str:
    """The CPU's model name (compare timings only between runs on the same one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def training_sentences(config):
    from allennlp.common import Params
    from allennlp.data import DatasetReader

    import biomtl_allennlp  # noqa: F401  (registers the reader)

    reader = DatasetReader.from_params(Params(config["dataset_reader"]))
    counts = collections.Counter(instance["metadata"]["dataset"] for instance in reader.read(config["train_data_path"]))
    return dict(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out-dir", default=str(ROOT / "docs" / "converged_runs"))
    parser.add_argument("--counts-dir", default=None, help="also save per-sentence test counts here")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.json").is_file():
        sys.exit(f"error: {run_dir}: no metrics.json, the run has not finished")
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    datasets = datasets_in(key for key in metrics if key.startswith("test_"))
    epochs = epoch_records(run_dir, datasets)
    trainer, loader = config["trainer"], config["data_loader"]
    durations = [epoch["training_duration_s"] for epoch in epochs]
    record = {
        "run": run_dir.name,
        "settings": {
            "datasets": config["dataset_reader"]["datasets"],
            "seed": config.get("random_seed"),
            "model": config["model"]["type"],
            "loss_weights": config["model"].get("loss_weights"),
            "batch_sampler": loader.get("batch_sampler"),
            "optimizer": trainer["optimizer"],
            "learning_rate_scheduler": trainer.get("learning_rate_scheduler"),
            "patience": trainer.get("patience"),
            "num_epochs": trainer.get("num_epochs"),
            "validation_metric": trainer.get("validation_metric"),
        },
        "machine": {"processor": processor(), "torch_threads": 1},
        "training_sentences": training_sentences(config),
        "best_epoch": metrics["best_epoch"],
        "epochs_trained": len(epochs),
        "training_duration_s": round(seconds(metrics["training_duration"]), 1),
        # allennlp restarts its clock on --recover: durations then fall back once.
        "resumed": any(later < earlier for earlier, later in zip(durations, durations[1:])),
        "epochs": epochs,
        "test": test_scores(metrics, datasets),
    }
    out = Path(args.out_dir) / f"{run_dir.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    if args.counts_dir:
        from biomtl_allennlp.evaluation.significance import save_counts, scored_sentences

        for name in datasets:
            counts, fingerprint = scored_sentences(str(run_dir / "model.tar.gz"), name, "test")
            target = Path(args.counts_dir) / f"{run_dir.name}.{name}.test.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            save_counts(str(target), counts, fingerprint, name, "test", f"{run_dir.name}/model.tar.gz")
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
