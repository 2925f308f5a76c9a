#!/usr/bin/env bash
# The leave-corpora-out protocol of docs/new_text.md, end to end and resumable:
#   scripts/new_text/run.sh [RUN_DIR] [OUT]
# 1. trains the development model (training_configs/leave_out/mtm_cw_leave_out.jsonnet: the
#    shipped recipe without BioNLP13PC, BioNLP11ID, NCBI-disease and JNLPBA, train splits
#    only) in RUN_DIR, resuming it (--recover) when it was cut off (1 torch thread);
# 2. exports it as the shipped model is exported (float16, the mean of the last 3 epochs);
# 3. tunes the merge on the left-out corpora's devel splits and reports devel and test
#    (scripts/new_text/merge_protocol.py), writing OUT/chosen.json and OUT/report.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
run=${1:-$HOME/.cache/biomtl_allennlp/runs/leave_out/mtm_cw_leave_out_s1}
out=${2:-$HOME/.cache/biomtl_allennlp/runs/leave_out/protocol}
export BIOMTL_DATA_ROOT=${BIOMTL_DATA_ROOT:-$(cd ../shared/data && pwd)}
mkdir -p "$(dirname "$run")" "$out"
if [ ! -f "$run/model.tar.gz" ]; then
  recover=(); [ -f "$run/config.json" ] && recover=(--recover)
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/allennlp train training_configs/leave_out/mtm_cw_leave_out.jsonnet \
    --include-package biomtl_allennlp -s "$run" "${recover[@]}" \
    -o '{"trainer.checkpointer": {"keep_most_recent_by_count": null}}'
fi
epochs=$(ls "$run"/metrics_epoch_*.json | wc -l)
weights=()
for epoch in $(seq $((epochs - 3)) $((epochs - 1))); do weights+=("$run/model_state_e$((epoch + 1))_b0.th"); done
.venv/bin/allennlp export-tagger "$run" -o "$out/model.tar.gz" --weights "${weights[@]}" > "$out/export.json"
.venv/bin/python scripts/new_text/merge_protocol.py "$out/model.tar.gz" --out "$out"
