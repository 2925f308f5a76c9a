"""
The research runner, for every plan (a budget reproduction's, a lane's): `allennlp train`
subprocesses, `jobs` at a time (an unfinished run folder started afresh, or resumed where the
plan says so), each finished run recorded (`research.record`) and copied to the store; with a
time budget, the epoch gate controller that lets parallel runs train one more epoch together;
then the evaluation steps (dictionary post-processing).
"""
import datetime
import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from research.callbacks.epoch_gate import PROGRESS_FILE, write_json_atomically
from research.plan import (
    GATE_FILE,
    REPO_ROOT,
    Budget,
    Run,
    needs_dictionary_env,
    run_environment,
    shell_line,
    train_command,
)
from research.postprocess import evaluate_postprocessing
from research.record import (
    machine_description,
    read_json,
    save_test_counts,
    test_scores,
    training_record,
    write_record,
)
from research.store import is_complete, metrics_complete, run_signature, save_to_store


class EpochGateController:
    """
    Lets parallel runs train one more epoch together while the slowest can still finish it,
    with its test evaluation, inside the time budget (the `epoch_gate` trainer callback,
    `research/callbacks/epoch_gate.py`, is the runs' side).
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
        write_json_atomically(str(self.path), {"epochs": self.allowed, "final": self.final})

    def update(self, active: List[Run]) -> None:
        """Called with the runs still training; opens the next epoch or closes the gate."""
        if self.final:
            return
        for run in active:
            progress = read_json(run.run_dir / PROGRESS_FILE) or {}
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
    exists = run.run_dir.exists()
    command = train_command(
        run, include_force=exists and not run.recover, recover=exists and run.recover
    )
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


def record_run(run: Run, budget: Budget, command: Optional[Sequence[str]], started: Optional[str],
               wall: Optional[float], dictionary_sha: Optional[str], store_dir: Optional[Path]) -> None:
    """
    The finished run's record (`research.record`; with its copy and the metrics in the store,
    and its per-sentence test counts where the plan asks for them). `command`, `started` and
    `wall` are `None` for a run that finished outside this runner.
    """
    record: Dict[str, Any] = {
        "run": run.name,
        "model": run.model,
        "datasets": run.datasets,
        "seed": run.seed,
        "signature": run_signature(run, dictionary_sha),
        "command": shlex.join(command) if command is not None else None,
        "started": started,
        "wall_time_s": round(wall, 1) if wall is not None else None,
        "machine": machine_description(budget.cuda_device),
        "threads": budget.threads,
    }
    if run.record_budget:
        record["budget"] = budget.as_dict()
    if run.is_training:
        trained = training_record(run.run_dir, run.count_sentences)
        record.update({k: v for k, v in trained.items() if k not in ("datasets", "seed")})
    else:
        record["test"] = test_scores(read_json(run.metrics_path) or {}, run.datasets)
    write_record(record, run.record_path)
    if run.counts_dir is not None:
        save_test_counts(run.run_dir, run.datasets, run.counts_dir)
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
    A failed run does not stop the others; `SystemExit` with the failed runs after them.
    """
    total = len(runs)
    labels = {run.name: f"[{index}/{total}] {run.name}" for index, run in enumerate(runs, 1)}
    todo = []
    for run in runs:
        if run.recover and not is_complete(run, dictionary_sha) and metrics_complete(
            run.metrics_path, run.datasets
        ):  # finished after its runner was stopped: recorded now
            record_run(run, budget, None, None, None, dictionary_sha, store_dir)
            print(f"{labels[run.name]}: finished earlier, recorded")
        if is_complete(run, dictionary_sha):
            record = read_json(run.record_path) or {}
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
        (run.run_dir / PROGRESS_FILE).unlink(missing_ok=True)
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
            record_run(item.run, budget, item.command, item.started, wall, dictionary_sha,
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
        run.run_dir.mkdir(parents=True, exist_ok=True)
        run.metrics_path.write_text(json.dumps(with_pp, indent=2), encoding="utf-8")
        shown = ["(in process) evaluate_postprocessing", str(run.source.run_dir)]
        wall = time.time() - start
        record_run(run, budget, shown, started, wall, dictionary_sha, store_dir)
        print(f"{label}: done in {wall:.1f} s", flush=True)
    if failed:
        raise SystemExit(f"{len(failed)} run(s) failed: {', '.join(failed)}")
