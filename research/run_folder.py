"""
What the research tools read from an `allennlp train` serialization directory whose every
epoch's weights were kept (the lane runs keep them): an epoch's weights file and the
per-epoch metrics.
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Union

from biomtl_allennlp.common.errors import InputFormatError

PathLike = Union[str, os.PathLike]


def epoch_weights(run_dir: PathLike, epoch: int) -> Path:
    """
    The weights file of a serialization directory holding the model after epoch `epoch`
    (counting from 0, as `metrics_epoch_<epoch>.json`): allennlp's checkpointer names its
    files by the epochs completed, so that is `model_state_e<epoch + 1>_b0.th`. Raises
    `InputFormatError` when it is missing (were every epoch's weights kept?).
    """
    path = Path(run_dir) / f"model_state_e{epoch + 1}_b0.th"
    if not path.is_file():
        raise InputFormatError(
            f"{path}: not found (the weights after epoch {epoch}; keep every epoch's weights "
            "with trainer.checkpointer.keep_most_recent_by_count = null)"
        )
    return path


def epoch_metrics(run_dir: PathLike) -> List[Dict[str, Any]]:
    """
    The per-epoch metrics allennlp's trainer writes to a serialization directory
    (`metrics_epoch_<epoch>.json`), in epoch order: item `e` holds epoch `e`'s. Raises
    `InputFormatError` when there are none or an epoch between is missing (so that a list
    index is always the epoch that `epoch_weights` takes).
    """
    by_epoch = {}
    for path in Path(run_dir).glob("metrics_epoch_*.json"):
        suffix = path.stem[len("metrics_epoch_"):]
        if suffix.isdigit():
            by_epoch[int(suffix)] = json.loads(path.read_text())
    missing = sorted(set(range(max(by_epoch, default=-1) + 1)) - set(by_epoch))
    if not by_epoch or missing:
        raise InputFormatError(
            f"{run_dir}: "
            + (f"metrics_epoch_{missing[0]}.json missing" if missing else "no metrics_epoch_*.json")
            + " (is this an allennlp serialization directory?)"
        )
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]
