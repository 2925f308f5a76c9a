"""
Finished runs on disk: when a run is complete (and may be reused), what it recorded, and the
committed store beside the results (`docs/results_3epoch_runs/` for `docs/results_3epoch.md`) that a fresh
checkout restores its runs from.
"""
import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.metric_keys import TEST_PREFIX, metric_key
from research.plan import NEUTRAL_OVERRIDES, Run


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    """A JSON object file's content; `None` when missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def f1_on_test(path: Path, dataset: str) -> Optional[float]:
    """A metrics file's test F1 of `dataset` (`test_<dataset>_f1`, else `<dataset>_f1`)."""
    metrics = read_json(path) or {}
    key = metric_key(dataset, "f1")
    value = metrics.get(TEST_PREFIX + key, metrics.get(key))
    return float(value) if isinstance(value, (int, float)) else None



def metrics_complete(path: Path, datasets: Sequence[str]) -> bool:
    """The metrics file exists and has the test F1 of every dataset."""
    metrics = read_json(path)
    if metrics is None:
        return False
    return all(
        isinstance(metrics.get(TEST_PREFIX + metric_key(dataset, "f1")), (int, float))
        for dataset in datasets
    )


def run_signature(run: Run, dictionary_sha: Optional[str]) -> Dict[str, Any]:
    """What must match for a finished run to be reused (the device does not matter)."""
    overrides = {k: v for k, v in run.overrides.items() if k not in NEUTRAL_OVERRIDES}
    signature: Dict[str, Any] = {"config": run.config, "overrides": overrides}
    if run.uses_dictionary:
        signature["dictionary_sha1"] = dictionary_sha
    if not run.is_training:
        assert run.source is not None
        signature["source"] = run.source.run_dir.name
    return signature


def is_complete(run: Run, dictionary_sha: Optional[str]) -> bool:
    """Complete metrics and a record of the same config, overrides (and dictionary)."""
    if not metrics_complete(run.metrics_path, run.datasets):
        return False
    record = read_json(run.record_path)
    return record is not None and record.get("signature") == run_signature(run, dictionary_sha)


def epochs_trained(run: Run) -> Optional[int]:
    """Epochs a finished training run trained (allennlp's last `epoch` + 1), else None."""
    last_epoch = (read_json(run.metrics_path) or {}).get("epoch")
    return last_epoch + 1 if run.is_training and isinstance(last_epoch, int) else None


def stored_files(run: Run, store_dir: Path) -> List[Tuple[Path, Path]]:
    """`(file in the runs dir, its copy in the store)` of what a finished run leaves."""
    files = [run.metrics_path, run.record_path]
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


def metrics_file(run: Run, store_dir: Optional[Path]) -> Path:
    """The committed copy of a run's metrics where there is one, else the run's own file."""
    if store_dir is not None:
        stored = stored_files(run, store_dir)[0][1]
        if stored.is_file():
            return stored.resolve()
    return run.metrics_path
