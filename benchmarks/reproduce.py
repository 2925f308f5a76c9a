#!/usr/bin/env python
"""
Reproduces the experiments of Wang et al. 2019 ("Cross-type biomedical named entity recognition
with deep multi-task learning") under one declared training budget, and writes the results
(Tables 2, 3, 4 and Fig. 4) to docs/results_3epoch.md and docs/results_3epoch_fig4.png
(the converged runs are in docs/results.md, written by scripts/converged/summarize.py).

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

A run whose RUNDIR already has a metrics.json with the test F1 of each of its datasets and a
reproduce_run.json recording the same config and overrides is skipped, so the script can be
interrupted and started again; an incomplete RUNDIR is trained again from scratch.

Usage (from the repository root):

    .venv/bin/python benchmarks/reproduce.py [--budget-epochs 5] [--batch-size 32] \\
        [--optimizer adam] [--seeds 1,2] [--threads 2] [--max-sentences-per-dataset N] \\
        [--datasets BC2GM,BC5CDR,NCBI-disease,JNLPBA] [--only STM,MTM-CW] [--dictionary] \\
        [--data-root ../shared/data] [--runs-dir runs/reproduce] [--cuda-device -1] \\
        [--many] [--jobs N] [--time-budget-s S] [--eval-batch-size B] [--notes FILE] \\
        [--dry-run | --tables-only]

`--many` adds `MTM-CW-many`: MTM-CW trained on every dataset under the data root (12 here),
reported on the main datasets beside the 4-dataset MTM-CW.

`--jobs N` trains N runs at a time (each its own process; on a GPU they share the device).
`--time-budget-s S` (with every run in parallel) makes the runs advance epoch by epoch
together (the `epoch_gate` trainer callback, biomtl_allennlp/training/callbacks/epoch_gate.py)
and stops all of them after the same number of epochs:
the most that the slowest run can finish, with its test evaluation, inside S seconds. So a
comparison under a wall-clock budget still gives every model the same number of epochs.

The metrics and run records of finished runs are also copied to a folder beside the results
(`docs/results_3epoch_runs/` for `docs/results_3epoch.md`), which is committed: `--tables-only` regenerates
the results on a fresh checkout, and a later run of the script reuses them instead of training
again. `--notes FILE` appends a hand-written markdown file to the results, so notes survive
regeneration.

The code is the package `biomtl_allennlp.experiments` (plan, run, store, report); this script
is its entry point.
"""
import sys

from biomtl_allennlp.experiments.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
