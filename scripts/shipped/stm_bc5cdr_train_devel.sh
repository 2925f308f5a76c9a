#!/usr/bin/env bash
# What training on train+devel gives (issue 13): STM on BC5CDR for a fixed 7 epochs (the
# converged train-only runs' early stopping chose epochs 7, 4 and 6, counting from 0), seed 1,
# 1 thread, once on the train split and once on train+devel; no validation, test scored at the
# end. Resumable. Metrics: docs/train_devel_runs/.
#   scripts/shipped/stm_bc5cdr_train_devel.sh [RUNS_DIR]
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 BIOMTL_DATA_ROOT=${BIOMTL_DATA_ROOT:-$(pwd)/../shared/data}
R=${1:-$HOME/.cache/biomtl_allennlp/runs/extra}
for data in train train+devel; do
  name=stm_BC5CDR_fixed7_${data/+/_}_s1
  [ -f "$R/$name/metrics.json" ] && continue
  rec=""; [ -d "$R/$name" ] && rec=--recover
  .venv/bin/allennlp train training_configs/budget/stm.jsonnet --include-package biomtl_allennlp -s "$R/$name" $rec \
    -o "{\"dataset_reader.datasets\": [\"BC5CDR\"], \"train_data_path\": \"$data\", \"validation_data_path\": null,
         \"trainer.num_epochs\": 7, \"trainer.patience\": null, \"trainer.validation_metric\": \"-loss\", \"evaluate_on_test\": true,
         \"random_seed\": 1, \"numpy_seed\": 1, \"pytorch_seed\": 1}" > "$R/$name.log" 2>&1
  echo "$(date -u +%FT%T) $name rc $?"
  mkdir -p "docs/train_devel_runs/$name" && cp "$R/$name/metrics.json" "docs/train_devel_runs/$name/"
done
