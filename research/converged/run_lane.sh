#!/usr/bin/env bash
# Issue 11, converged runs: train the runs of one lane (a plan file) one after the other,
# 1 torch thread (BIOMTL_LANE_THREADS=2 for a lane alone on the 2 cores), early stopping on
# devel. Resumable: a finished run (metrics.json) is skipped (recorded first if docs/converged_runs/ has none of it), and so is a run recorded
# in docs/converged_runs/ whose folder is not on this machine (run folders live outside the
# checkout and do not move between machines); an unfinished one is resumed with
# `allennlp train --recover`.
#   research/converged/run_lane.sh PLAN RUNS_DIR
# PLAN lines: NAME CONFIG PATIENCE MAX_EPOCHS SEED EXTRA_OVERRIDES_JSON_OBJECT_BODY
# (see research/converged/*.plan). Every epoch's weights are kept (per-corpus selection).
# After each finished run, research.converged.record_run writes its record to docs/converged_runs/ and its
# per-sentence test counts to docs/significance/counts/: commit them.
set -u
plan=$1; runs=$2
mkdir -p "$runs"
threads=${BIOMTL_LANE_THREADS:-1}
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export BIOMTL_DATA_ROOT=${BIOMTL_DATA_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}
# The dictionary variants (training_configs/dictionary/) read $BIOMTL_DICTIONARY: the
# training mentions of the four corpora (as `python -m research.reproduce` builds it), made once.
if grep -q "^[^#].*training_configs/dictionary/" "$plan"; then
  export BIOMTL_DICTIONARY=${BIOMTL_DICTIONARY:-$runs/dictionary/train_mentions.tsv}
  [ -f "$BIOMTL_DICTIONARY" ] || .venv/bin/python -c 'import sys; from pathlib import Path
from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS
from research.postprocess import build_dictionary
print("dictionary", sys.argv[2], build_dictionary(Path(sys.argv[1]), BENCHMARK_DATASETS, Path(sys.argv[2]), None))' \
    "$BIOMTL_DATA_ROOT" "$BIOMTL_DICTIONARY"
fi
record() {  # the committed record and per-sentence test counts of a finished run
  .venv/bin/python -m research.converged.record_run "$runs/$1" --counts-dir docs/significance/counts \
    >> "$runs/$1.log" 2>&1 && echo "$(date -u +%FT%T) recorded $1 in docs/converged_runs/"
}
while read -r name config patience epochs seed extra; do
  case "$name" in ''|'#'*) continue;; esac
  dir="$runs/$name"
  if [ -f "$dir/metrics.json" ]; then
    [ -f "docs/converged_runs/$name.json" ] || record "$name"
    continue
  fi
  [ -f "docs/converged_runs/$name.json" ] && continue  # finished on another machine
  # Every lane run builds its vocabulary from all splits, allennlp's default, which the runs
  # before 2026-12-04 used (the project's configs now count the training split only): the
  # lanes stay comparable with their earlier runs.
  overrides="{\"datasets_for_vocab_creation\": null, \"trainer.num_epochs\": $epochs, \"trainer.patience\": $patience,
    \"trainer.checkpointer\": {\"keep_most_recent_by_count\": null},
    \"evaluate_on_test\": true, \"random_seed\": $seed, \"numpy_seed\": $seed, \"pytorch_seed\": $seed
    ${extra:+, $extra}}"
  recover=""; [ -d "$dir" ] && recover="--recover"
  echo "$(date -u +%FT%T) start $name $recover"
  .venv/bin/allennlp train "$config" --include-package biomtl_allennlp -s "$dir" $recover \
    -o "$overrides" > "$runs/$name.log" 2>&1 || echo "$(date -u +%FT%T) FAILED $name"
  [ -f "$dir/metrics.json" ] && record "$name"
  echo "$(date -u +%FT%T) end $name"
done < "$plan"
