"""
The epoch gate: parallel training runs advance epoch by epoch together, so that a wall-clock
budget stops every run after the same number of epochs (`python -m research.reproduce
--time-budget-s`; the controller is `research.run.EpochGateController`).

The protocol is two small JSON files. After each epoch a run writes `PROGRESS_FILE` in its
serialization directory (`{"epochs_done": N, "time": ..., "pid": ...}`) and waits for the
controller's gate file, `{"epochs": N, "final": bool}`, to let it train another epoch: a run
goes on while it has done fewer than `N` epochs; with `"final": true` a run that has done
`N` stops, and allennlp then restores the best epoch and evaluates on the test split, as
after early stopping.
"""
import json
import os
import time
from typing import Any, Dict, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks.callback import TrainerCallback

PROGRESS_FILE = "epoch_gate_progress.json"


def read_gate(path: str) -> Optional[Dict[str, Any]]:
    """The gate file's content, or `None` while it is missing, being replaced or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            gate = json.load(handle)
    except (OSError, ValueError):
        return None
    return gate if isinstance(gate, dict) and isinstance(gate.get("epochs"), int) else None


def write_json_atomically(path: str, data: Dict[str, Any]) -> None:
    """Writes `data` so that a reader never sees a half-written file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def stop_after_this_epoch(trainer) -> None:
    """
    Makes `trainer` stop once the current epoch's callbacks have run, exactly as early stopping
    does: it restores the best epoch, and `allennlp train` evaluates on the test split.

    allennlp 2.10's `GradientDescentTrainer` has no public way for a callback to end training:
    the epoch loop's only early exit is its metric tracker's `should_stop_early()`, checked
    right after the `on_epoch` callbacks. This function is the one place that reaches into it
    (patience 0: out of patience); it fails with a clear error if the trainer has changed.
    """
    tracker = getattr(trainer, "_metric_tracker", None)
    if tracker is None or not hasattr(tracker, "_patience"):
        raise ConfigurationError(
            f"epoch_gate: cannot stop a {type(trainer).__name__}; it needs allennlp 2.10's "
            "GradientDescentTrainer (a metric tracker with early stopping)"
        )
    tracker._patience = 0


@TrainerCallback.register("epoch_gate")
class EpochGate(TrainerCallback):
    """
    Holds a training run at the end of each epoch until a controller's gate file lets it train
    another epoch or tells it to stop (see the module's docstring for the protocol).

    Registered as a `TrainerCallback` with name "epoch_gate".

    # Parameters

    serialization_dir : `str`
        The run's directory, where the progress file goes (given by the trainer).
    gate_file : `str`
        The controller's file, `{"epochs": N, "final": bool}`.
    num_epochs : `int`, optional (default = `None`)
        The trainer's `num_epochs`: after that epoch training ends anyway, so the run does not
        wait. `None`: wait after every epoch.
    poll_seconds : `float`, optional (default = `1.0`)
        How often the gate file is read while waiting.
    max_wait_seconds : `float`, optional (default = `3600`)
        A run left waiting this long (its controller gone) stops.
    """

    def __init__(
        self,
        serialization_dir: str,
        gate_file: str,
        num_epochs: Optional[int] = None,
        poll_seconds: float = 1.0,
        max_wait_seconds: float = 3600.0,
    ) -> None:
        super().__init__(serialization_dir)
        self.gate_file = gate_file
        self.num_epochs = num_epochs
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
        if self.num_epochs is not None and done >= self.num_epochs:
            return  # the last epoch: training ends anyway
        if not self._wait_for_next_epoch(done):
            stop_after_this_epoch(trainer)

    def _wait_for_next_epoch(self, done: int) -> bool:
        """`True` once the gate allows more than `done` epochs; `False`: stop."""
        waited_since = time.time()
        while True:
            gate = read_gate(self.gate_file)
            if gate is not None:
                if done < gate["epochs"]:
                    return True
                if gate.get("final"):
                    return False
            if time.time() - waited_since > self.max_wait_seconds:
                return False
            time.sleep(self.poll_seconds)
