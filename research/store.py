"""
Finished runs on disk: when a run is complete (and may be reused), what it recorded, and the
committed store beside the results (`docs/results_3epoch_runs/` for `docs/results_3epoch.md`,
`docs/converged_runs/` for the lanes) that a fresh checkout restores its runs from: a folder
per run with its record (`run.json`, `research.record`) and, where kept, allennlp's
`metrics.json`.
"""
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.metric_keys import TEST_PREFIX, metric_key
from research.plan import NEUTRAL_OVERRIDES, Run
from research.record import read_json


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
    """A record of the same config, overrides (and dictionary), with every dataset's test F1."""
    record = read_json(run.record_path)
    return (
        record is not None
        and record.get("signature") == run_signature(run, dictionary_sha)
        and all(isinstance(record.get("test", {}).get(d, {}).get("f1"), (int, float))
                for d in run.datasets)
    )


def stored_files(run: Run, store_dir: Path) -> List[Tuple[Path, Path]]:
    """`(file in the runs dir, its copy in the store)` of what a finished run leaves."""
    return [(path, store_dir / run.name / path.name) for path in (run.metrics_path, run.record_path)]


def restore_from_store(runs: List[Run], store_dir: Path) -> int:
    """Copies the stored records (and metrics) of runs missing from the runs dir into it."""
    restored = 0
    for run in runs:
        pairs = [(path, stored) for path, stored in stored_files(run, store_dir) if stored.is_file()]
        if (store_dir / run.name / run.record_path.name).is_file() and not run.record_path.is_file():
            for path, stored in pairs:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stored, path)
            restored += 1
    return restored


def save_to_store(run: Run, store_dir: Path) -> None:
    for path, stored in stored_files(run, store_dir):
        if path.is_file():
            stored.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stored)


def metrics_file(run: Run, store_dir: Optional[Path]) -> Path:
    """The committed copy of a run's metrics where there is one, else the run's own file."""
    if store_dir is not None:
        stored = stored_files(run, store_dir)[0][1]
        if stored.is_file():
            return stored.resolve()
    return run.metrics_path


def stored_datasets(store_dir: Path, model: str) -> List[str]:
    """The datasets of the first committed record of a `model` run in `store_dir` (`[]` when
    there is none): what `--tables-only` plans the many-dataset runs with on a checkout
    without the data root."""
    for path in sorted(Path(store_dir).glob("*/run.json")):
        record = read_json(path)
        if record and record.get("model") == model and isinstance(record.get("datasets"), list):
            return list(record["datasets"])
    return []
