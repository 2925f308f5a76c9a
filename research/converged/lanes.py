"""
The converged runs (issue 11): each lane plan (`research/converged/lane_*.plan`) is a list of
runs trained one after the other by the research runner (`research.run.execute`), with early
stopping on devel and every epoch's weights kept (per-corpus selection, checkpoint averaging):

    BIOMTL_DATA_ROOT=../shared/data .venv/bin/python -m research.converged.lanes \\
        research/converged/lane_a.plan ~/.cache/biomtl_allennlp/runs/converged [--threads 1] [--dry-run]

A plan line is `NAME CONFIG PATIENCE MAX_EPOCHS SEED EXTRA`, EXTRA the body of a JSON object
of further `-o` overrides (empty lines and lines starting with `#` are comments). Resumable:
a run with a committed record (`docs/converged_runs/<run>/run.json`, `research.record`) of
the same config and overrides is skipped (run folders live outside the checkout and do not
move between machines); an unfinished one is resumed with `allennlp train --recover`; one
that finished without a record is recorded. Each finished run's record (per-epoch devel F1,
test scores, training sentences) goes to `docs/converged_runs/` and its per-sentence test
counts to `docs/significance/counts/`: commit them. The dictionary variants
(`training_configs/dictionary/`) read the training mentions of the four corpora, built once
into `RUNS_DIR/dictionary/train_mentions.tsv` (as `python -m research.reproduce` builds it).
"""
import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS, resolve_data_root
from research.plan import REPO_ROOT, Budget, Run

STORE = REPO_ROOT / "docs" / "converged_runs"
COUNTS = REPO_ROOT / "docs" / "significance" / "counts"
PLANS = sorted((REPO_ROOT / "research" / "converged").glob("lane_*.plan"))


def lane_overrides(patience: int, epochs: int, seed: int, extra: str) -> Dict[str, Any]:
    """
    The `-o` overrides of a lane run. Every lane run builds its vocabulary from all splits,
    allennlp's default, which the runs before 2026-12-04 used (the project's configs now count
    the training split only): the lanes stay comparable with their earlier runs.
    """
    overrides = {
        "datasets_for_vocab_creation": None,
        "trainer.num_epochs": epochs,
        "trainer.patience": patience,
        "trainer.checkpointer": {"keep_most_recent_by_count": None},
        "evaluate_on_test": True,
        "random_seed": seed,
        "numpy_seed": seed,
        "pytorch_seed": seed,
    }
    overrides.update(json.loads("{" + extra + "}"))
    return overrides


def read_plan(plan: Path, runs_dir: Path, counts_dir: Optional[Path] = COUNTS) -> List[Run]:
    """The runs of a lane plan, in its order (errors name the plan's line)."""
    runs = []
    for number, line in enumerate(plan.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            name, config, patience, epochs, seed, *extra = line.split(None, 5)
            overrides = lane_overrides(int(patience), int(epochs), int(seed), extra[0] if extra else "")
            datasets = list(overrides["dataset_reader.datasets"])
        except (KeyError, ValueError) as error:
            raise ValueError(
                f"{plan}:{number}: expected NAME CONFIG PATIENCE MAX_EPOCHS SEED "
                f"EXTRA_OVERRIDES_JSON_OBJECT_BODY ({error})"
            ) from error
        runs.append(
            Run(
                model=name.rsplit("_s", 1)[0],
                datasets=datasets,
                seed=int(seed),
                config=config,
                run_dir=runs_dir / name,
                overrides=overrides,
                recover=True,
                record_budget=False,
                count_sentences=True,
                counts_dir=counts_dir,
            )
        )
    return runs


def main(argv: Optional[Sequence[str]] = None) -> int:
    from research.plan import run_environment, shell_line, train_command
    from research.postprocess import build_dictionary
    from research.record import read_json
    from research.run import execute
    from research.store import restore_from_store, run_signature

    parser = argparse.ArgumentParser(
        prog="python -m research.converged.lanes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("plan")
    parser.add_argument("runs_dir")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; 2 for a lane alone on 2 cores)")
    parser.add_argument("--data-root", default=None,
                        help="default: $BIOMTL_DATA_ROOT, else ../shared/data")
    parser.add_argument("--dry-run", action="store_true",
                        help="print each run's state or command, train nothing")
    args = parser.parse_args(argv)
    data_root = Path(resolve_data_root(args.data_root) or REPO_ROOT.parent / "shared" / "data").resolve()
    runs_dir = Path(args.runs_dir).expanduser().resolve()
    runs = read_plan(Path(args.plan), runs_dir)
    budget = Budget(threads=args.threads)
    dictionary, dictionary_sha = None, None
    if any(run.uses_dictionary for run in runs):
        dictionary = runs_dir / "dictionary" / "train_mentions.tsv"
        if dictionary.is_file():
            dictionary_sha = hashlib.sha1(dictionary.read_bytes()).hexdigest()
        elif not args.dry_run:
            dictionary_sha = build_dictionary(data_root, BENCHMARK_DATASETS, dictionary, None)
    print(f"{args.plan}: {len(runs)} run(s); runs dir {runs_dir}; data root "
          f"{shlex.quote(str(data_root))}, {args.threads} thread(s)", flush=True)
    if args.dry_run:
        for run in runs:
            record = read_json(run.record_path) or read_json(STORE / run.name / run.record_path.name)
            if (record or {}).get("signature") == run_signature(run, dictionary_sha):
                print(f"{run.name}: recorded")
                continue
            env = run_environment(budget, data_root, dictionary if run.uses_dictionary else None)
            print(f"{run.name}: {shell_line(env, train_command(run, recover=run.run_dir.exists()))}")
        return 0
    restore_from_store(runs, STORE)
    execute(runs, budget, data_root, runs_dir, dictionary, dictionary_sha, jobs=1, store_dir=STORE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
