"""The `epoch_gate` trainer callback (the runs' side of `reproduce.py --time-budget-s`)."""
import json

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks.callback import TrainerCallback
from allennlp.training.metric_tracker import MetricTracker

from research.plan import Budget, plan_runs
from research.callbacks.epoch_gate import (
    PROGRESS_FILE,
    EpochGate,
    read_gate,
    stop_after_this_epoch,
)


class _Trainer:
    """What the callback touches of a `GradientDescentTrainer`."""

    def __init__(self):
        self._metric_tracker = MetricTracker("+f1", None)


def test_the_plans_callback_config_builds_the_gate(tmp_path):
    budget = Budget(epochs=4, seeds=[1], time_budget_s=100.0)
    (run,) = plan_runs(budget, ["STM"], ["BC2GM"], tmp_path)
    (config,) = run.overrides["trainer.callbacks"]
    callback = TrainerCallback.from_params(Params(dict(config)), serialization_dir=str(tmp_path))
    assert isinstance(callback, EpochGate)
    assert callback.gate_file == str(tmp_path / "epoch_gate.json")
    assert callback.num_epochs == 4


def test_the_gate_lets_runs_go_on_and_stops_them(tmp_path):
    gate_file = tmp_path / "gate.json"
    callback = EpochGate(str(tmp_path), str(gate_file), num_epochs=5, poll_seconds=0.01,
                         max_wait_seconds=0.2)
    trainer = _Trainer()
    gate_file.write_text(json.dumps({"epochs": 2, "final": False}))
    callback.on_epoch(trainer, {}, epoch=0)  # 1 done, 2 allowed: goes on at once
    assert not trainer._metric_tracker.should_stop_early()
    progress = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert progress["epochs_done"] == 1
    gate_file.write_text(json.dumps({"epochs": 2, "final": True}))
    callback.on_epoch(trainer, {}, epoch=1)  # 2 done, the gate closed at 2: stop
    assert trainer._metric_tracker.should_stop_early()


def test_the_last_epoch_never_waits_and_a_closed_gate_times_out(tmp_path):
    gate_file = tmp_path / "gate.json"
    gate_file.write_text(json.dumps({"epochs": 1, "final": False}))
    callback = EpochGate(str(tmp_path), str(gate_file), num_epochs=5, poll_seconds=0.01,
                         max_wait_seconds=0.2)
    trainer = _Trainer()
    callback.on_epoch(trainer, {}, epoch=4)
    assert not trainer._metric_tracker.should_stop_early()
    callback.on_epoch(trainer, {}, epoch=0)  # the gate never opens: stops after max_wait
    assert trainer._metric_tracker.should_stop_early()


def test_gate_file_reading_and_a_trainer_it_cannot_stop(tmp_path):
    path = tmp_path / "gate.json"
    assert read_gate(str(path)) is None
    path.write_text('{"epochs": "2"}')
    assert read_gate(str(path)) is None
    path.write_text('{"epochs": 2, "final": true}')
    assert read_gate(str(path)) == {"epochs": 2, "final": True}
    with pytest.raises(ConfigurationError, match="cannot stop a object"):
        stop_after_this_epoch(object())
