"""
Reproduces the experiments of Wang et al. 2019 ("Cross-type biomedical named entity recognition
with deep multi-task learning") under one declared training budget, and writes the results
(Tables 2, 3, 4 and Fig. 4) to docs/results_3epoch.md and docs/results_3epoch_fig4.png
(the converged runs are in docs/results.md, written by `python -m research.converged.summarize`).

Runs, each an `allennlp train ... -s RUNDIR` subprocess, one after the other:

- `Lample`, `Ma-Hovy`: the baselines (training_configs/baselines/), one per dataset;
- `STM`: the single-task model, one per dataset;
- `MTM-C`, `MTM-W`, `MTM-CW`: the multi-task models, one run over all datasets;
- with `--dictionary` (paper Table 4): `MTM-CW+dict-feature` (training_configs/dictionary/) and
  `MTM-CW+dict-postprocess`, an evaluation step (no training) that tags the test sentences with
  each MTM-CW archive, labels dictionary matches among the words tagged `O`
  (`biomtl_allennlp.dictionary.postprocess_tags`) and scores exact span matches.
  The paper's CTD dictionaries are not available: the dictionary is built from the entity
  mentions of the training splits of the benchmark datasets (as many training sentences as the
  models see), written to RUNDIR/dictionary/train_mentions.tsv.

Every run gets the same budget through `-o` overrides: epochs, batch size, optimizer (`adam`: the
budget configs, training_configs/budget/ and baselines/budget_*; `sgd`: the paper configs) and
learning rate, patience, seeds (`random_seed`, `numpy_seed`, `pytorch_seed`), torch threads
(`OMP_NUM_THREADS` / `MKL_NUM_THREADS`) and an optional cap on the sentences read per dataset and
split. STM and MTM-CW (and MTM-CW+dict-feature) run with every seed of `--seeds`, the other
models with the first seed (`--all-seeds` runs every model with every seed, `--all-seeds
MTM-C,MTM-W` those models too).

A run whose RUNDIR already has a record (`run.json`, `research.record`) of the same config and
overrides, with the test F1 of each of its datasets, is skipped, so the script can be
interrupted and started again; an incomplete RUNDIR is trained again from scratch.

Usage (from the repository root):

    .venv/bin/python -m research.reproduce [--budget-epochs 5] [--batch-size 32] \\
        [--optimizer adam] [--seeds 1,2] [--threads 2] [--max-sentences-per-dataset N] \\
        [--datasets BC2GM,BC5CDR,NCBI-disease,JNLPBA] [--only STM,MTM-CW] [--dictionary] \\
        [--data-root ../shared/data] [--runs-dir runs/reproduce] [--cuda-device -1] \\
        [--many] [--jobs N] [--time-budget-s S] [--eval-batch-size B] [--notes FILE] \\
        [--dry-run | --tables-only]

`--many` adds `MTM-CW-many`: MTM-CW trained on every dataset under the data root (12 here),
reported on the main datasets beside the 4-dataset MTM-CW.

`--jobs N` trains N runs at a time (each its own process; on a GPU they share the device).
`--time-budget-s S` (with every run in parallel) makes the runs advance epoch by epoch
together (the `epoch_gate` trainer callback, research/callbacks/epoch_gate.py)
and stops all of them after the same number of epochs:
the most that the slowest run can finish, with its test evaluation, inside S seconds. So a
comparison under a wall-clock budget still gives every model the same number of epochs.

The metrics and run records of finished runs are also copied to a folder beside the results
(`docs/results_3epoch_runs/` for `docs/results_3epoch.md`), which is committed: `--tables-only` regenerates
the results on a fresh checkout, and a later run of the script reuses them instead of training
again. `--notes FILE` appends a hand-written markdown file to the results, so notes survive
regeneration.

The code is the package `research` (plan, run, store, report); this module is its command
line.
"""
import argparse
import hashlib
import shlex
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

from research.plan import (
    ALL_MODEL_NAMES,
    DEFAULT_DATASETS,
    DEFAULT_LR,
    DEFAULT_MODELS,
    DICT_FEATURE,
    DICT_POSTPROCESS,
    DICTIONARY_MODELS,
    MANY,
    REPO_ROOT,
    Budget,
    discover_datasets,
    needs_dictionary_env,
    plan_runs,
    repo_relative_python,
    run_environment,
    seeds_by_model,
    shell_line,
    train_command,
)
from research.postprocess import build_dictionary
from research.report import write_results
from research.run import execute
from research.store import metrics_complete, restore_from_store, save_to_store, stored_datasets

SCRIPT = "research.reproduce"  # run as `python -m research.reproduce`
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
DEFAULT_RUNS_DIR = REPO_ROOT / "runs" / "reproduce"
DEFAULT_RESULTS = REPO_ROOT / "docs" / "results_3epoch.md"
DEFAULT_FIGURE = REPO_ROOT / "docs" / "results_3epoch_fig4.png"


def _csv(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {SCRIPT}",
        description="Train and evaluate every model of Wang et al. 2019 under one budget and "
        "write docs/results_3epoch.md.",
    )
    parser.add_argument("--budget-epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch (32)")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                        help="adam: the budget configs (default); sgd: the paper's configs")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 0.002 for adam, 0.01 for sgd)")
    parser.add_argument("--patience", type=int, default=None,
                        help="early stopping patience in epochs (default: none)")
    parser.add_argument("--seeds", default="1,2",
                        help="comma-separated seeds; STM and MTM-CW run with each (default 1,2)")
    parser.add_argument("--all-seeds", nargs="?", const=True, default=False, metavar="MODELS",
                        help="run every model with every seed, or (comma-separated) these "
                        "models too (default: the first seed for the baselines, MTM-C, "
                        "MTM-W and MTM-CW-many)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run (2)")
    parser.add_argument("--max-sentences-per-dataset", type=int, default=None,
                        help="read at most N sentences of each dataset per split (default all)")
    parser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for CPU")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help=f"comma-separated (default {','.join(DEFAULT_DATASETS)})")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated subset of models: {', '.join(ALL_MODEL_NAMES)}")
    parser.add_argument("--dictionary", action="store_true",
                        help=f"also run {DICT_FEATURE} and {DICT_POSTPROCESS} (Table 4)")
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT),
                        help="folder with the corpora (default ../shared/data from the repo root)")
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR),
                        help="where the runs go (default runs/reproduce)")
    parser.add_argument("--results", default=str(DEFAULT_RESULTS), help="markdown to write")
    parser.add_argument("--figure", default=str(DEFAULT_FIGURE), help="Fig. 4 PNG to write")
    parser.add_argument("--store", default=None,
                        help="folder for copies of the finished runs' metrics and records "
                        "(default: beside --results, e.g. docs/results_3epoch_runs)")
    parser.add_argument("--notes", default=None,
                        help="markdown file appended to the results (notes that survive "
                        "regeneration)")
    parser.add_argument("--many", action="store_true",
                        help=f"also run {MANY}: MTM-CW on every dataset under the data root")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at a time (default 1)")
    parser.add_argument("--time-budget-s", type=float, default=None,
                        help="wall-clock budget of all runs trained at once (needs --jobs >= "
                        "the number of runs): every run stops after the same number of epochs, "
                        "at most --budget-epochs")
    parser.add_argument("--eval-batch-size", type=int, default=None,
                        help="sentences per validation/test batch (default: the training "
                        "batch size; the metrics do not depend on it)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the commands only")
    mode.add_argument("--tables-only", action="store_true",
                      help="train nothing; write the results from the finished runs")
    args = parser.parse_args(argv)

    try:
        args.seed_list = [int(seed) for seed in _csv(args.seeds)]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if not args.seed_list:
        parser.error("--seeds: give at least one seed")
    args.dataset_list = _csv(args.datasets)
    if not args.dataset_list:
        parser.error("--datasets: give at least one dataset")
    if isinstance(args.all_seeds, str):
        args.all_seeds = _csv(args.all_seeds)
        unknown = [m for m in args.all_seeds if m not in ALL_MODEL_NAMES]
        if unknown or not args.all_seeds:
            parser.error(f"--all-seeds: unknown model(s) {unknown}; choose from "
                         f"{ALL_MODEL_NAMES}, or give no value for every model")
    if args.only:
        args.models = _csv(args.only)
        unknown = [m for m in args.models if m not in ALL_MODEL_NAMES]
        if unknown:
            parser.error(f"--only: unknown model(s) {unknown}; choose from {ALL_MODEL_NAMES}")
    else:
        args.models = (
            DEFAULT_MODELS
            + ([MANY] if args.many else [])
            + (DICTIONARY_MODELS if args.dictionary else [])
        )
    if args.budget_epochs < 1 or args.batch_size < 1 or args.threads < 1 or args.jobs < 1:
        parser.error("--budget-epochs, --batch-size, --threads and --jobs must be positive")
    if args.time_budget_s is not None and args.time_budget_s <= 0:
        parser.error("--time-budget-s must be positive")
    if args.eval_batch_size is not None and args.eval_batch_size < 1:
        parser.error("--eval-batch-size must be positive")
    if args.notes is not None and not Path(args.notes).is_file():
        parser.error(f"--notes: {args.notes}: file not found")
    return args


def main(argv: Optional[Sequence[str]] = None, shown_command: Optional[str] = None) -> int:
    """
    Plans, trains what is missing (unless `--dry-run` or `--tables-only`) and writes the
    results; `shown_command` is the command the results name (default: this invocation's).
    """
    args = parse_args(argv)
    budget = Budget(
        epochs=args.budget_epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else DEFAULT_LR[args.optimizer],
        patience=args.patience,
        seeds=args.seed_list,
        threads=args.threads,
        max_sentences_per_dataset=args.max_sentences_per_dataset,
        cuda_device=args.cuda_device,
        eval_batch_size=args.eval_batch_size,
        time_budget_s=args.time_budget_s,
    )
    data_root = Path(args.data_root).resolve()
    runs_dir = Path(args.runs_dir).resolve()
    results_path = Path(args.results)
    store_dir = (
        Path(args.store) if args.store
        else results_path.with_name(results_path.stem + "_runs")
    )
    many_datasets = []
    if MANY in args.models:
        # Tables from the committed records need no data: the records name their datasets.
        if args.tables_only and not data_root.is_dir():
            many_datasets = stored_datasets(store_dir, MANY)
        many_datasets = many_datasets or discover_datasets(data_root)
    runs = plan_runs(
        budget, args.models, args.dataset_list, runs_dir, args.all_seeds, many_datasets
    )
    needs_dictionary = any(r.model in DICTIONARY_MODELS for r in runs)
    dictionary = runs_dir / "dictionary" / "train_mentions.tsv" if needs_dictionary else None
    command = shown_command or shlex.join(
        [repo_relative_python(), "-m", SCRIPT, *(argv if argv is not None else sys.argv[1:])]
    )

    print("Budget (every run):")
    for key, value in budget.describe(seeds_by_model=seeds_by_model(runs)):
        print(f"  {key}: {value}")
    print(f"Datasets: {', '.join(args.dataset_list)}; data root: {data_root}")
    print(f"Models: {', '.join(dict.fromkeys(r.model for r in runs))}")
    trained = sum(r.is_training for r in runs)
    print(f"Runs: {len(runs)} ({trained} training, {len(runs) - trained} evaluation); "
          f"runs dir: {runs_dir}")

    if args.dry_run:
        if dictionary is not None:
            print(f"# build the dictionary from the training mentions -> {dictionary}")
        for index, run in enumerate(runs, start=1):
            if run.is_training:
                env = run_environment(
                    budget, data_root, dictionary if needs_dictionary_env(run) else None
                )
                print(f"[{index}/{len(runs)}] {run.name}: {shell_line(env, train_command(run))}")
            else:
                print(f"[{index}/{len(runs)}] {run.name}: dictionary post-processing of "
                      f"{run.source.run_dir}/model.tar.gz with {dictionary}")
        return 0

    dictionary_sha = None
    if dictionary is not None and not args.tables_only:
        dictionary_sha = build_dictionary(
            data_root, args.dataset_list, dictionary, budget.max_sentences_per_dataset
        )
        print(f"Dictionary: {dictionary} (sha1 {dictionary_sha[:10]})")
    elif dictionary is not None and dictionary.exists():
        dictionary_sha = hashlib.sha1(dictionary.read_bytes()).hexdigest()

    restored = restore_from_store(runs, store_dir)
    if restored:
        print(f"Restored {restored} finished run(s) from {store_dir}")
    if not args.tables_only:
        start = time.time()
        execute(runs, budget, data_root, runs_dir, dictionary, dictionary_sha, args.jobs,
                store_dir)
        print(f"All runs finished in {time.time() - start:.1f} s")

    for run in runs:  # runs finished by an earlier invocation with another --results
        if metrics_complete(run.metrics_path, run.datasets) and run.record_path.is_file():
            # `--tables-only` (as `research.pages` runs it) adds records, never replaces one:
            # a local run of the same name may have other settings.
            if not (args.tables_only and (store_dir / run.name / run.record_path.name).is_file()):
                save_to_store(run, store_dir)
    summary = write_results(
        runs, budget, args.dataset_list, command, results_path, Path(args.figure),
        data_root, dictionary, Path(args.notes) if args.notes else None, store_dir,
    )
    print(f"Wrote {args.results} and {args.figure}")
    print("MTM-CW vs STM, test F1 (%):")
    for line in summary or ["  (no dataset has both STM and MTM-CW runs)"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
