"""
A trainer callback that makes parallel runs advance epoch by epoch together, so that a time
budget stops every run after the same number of epochs (`reproduce.py --time-budget-s`).

At the end of each epoch the callback writes `epoch_gate_progress.json` in the run's
serialization directory (epochs done, time) and waits for the gate file, written by the
controller (`reproduce.py`), to allow another epoch: `{"epochs": N, "final": bool}` lets a run
train until it has done `N` epochs; with `"final": true` a run that has done `N` stops (allennlp
then restores the best epoch and evaluates on the test split, as after early stopping).

Not part of the plugin: `reproduce.py` loads it with `--include-package epoch_gate` and this
folder on `PYTHONPATH`.
"""
import json
import os
import time
from typing import Any, Dict, Optional

from allennlp.training.callbacks.callback import TrainerCallback

PROGRESS_FILE = "epoch_gate_progress.json"


def read_gate(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            gate = json.load(handle)
    except (OSError, ValueError):  # not written yet, or being replaced
        return None
    return gate if isinstance(gate, dict) and isinstance(gate.get("epochs"), int) else None


def write_json_atomically(path: str, data: Dict[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


@TrainerCallback.register("epoch_gate")
class EpochGate(TrainerCallback):
    """
    Registered as a `TrainerCallback` with name "epoch_gate".

    # Parameters

    serialization_dir : `str`
    gate_file : `str`
        The controller's file, `{"epochs": N, "final": bool}`.
    poll_seconds : `float`, optional (default = `1.0`)
    max_wait_seconds : `float`, optional (default = `3600`)
        A run left waiting this long (its controller gone) stops.
    """

    def __init__(
        self,
        serialization_dir: str,
        gate_file: str,
        poll_seconds: float = 1.0,
        max_wait_seconds: float = 3600.0,
    ) -> None:
        super().__init__(serialization_dir)
        self.gate_file = gate_file
        self.poll_seconds = poll_seconds
        self.max_wait_seconds = max_wait_seconds

    def on_epoch(
        self, trainer, metrics: Dict[str, Any], epoch: int, is_primary: bool = True, **kwargs
    ) -> None:
        done = epoch + 1
        write_json_atomically(
            os.path.join(self.serialization_dir, PROGRESS_FILE),
            {"epochs_done": done, "time": time.time(), "pid": os.getpid()},
        )
        if done >= trainer._num_epochs:
            return  # the last epoch: training ends anyway
        waited_since = time.time()
        while True:
            gate = read_gate(self.gate_file)
            if gate is not None:
                if done < gate["epochs"]:
                    return
                if gate.get("final"):
                    break
            if time.time() - waited_since > self.max_wait_seconds:
                break
            time.sleep(self.poll_seconds)
        # Stop after this epoch, the way early stopping does (checked right after callbacks).
        trainer._metric_tracker._patience = 0
