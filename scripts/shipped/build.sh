#!/usr/bin/env bash
# Rebuilds the shipped tagger (models/mtm_cw/model.tar.gz, linked into the package as
# biomtl_allennlp/pretrained/mtm_cw/model.tar.gz) from a trained MTM-CW run
# and measures the figures of its model card. Needs the corpora ($BIOMTL_DATA_ROOT or
# ../shared/data) and the PubTator development files.
#   [AVERAGE_LAST=K] scripts/shipped/build.sh RUN_DIR_OR_ARCHIVE [MEASUREMENTS_DIR]
# RUN_DIR_OR_ARCHIVE: e.g. a run of training_configs/shipped/mtm_cw_many_train_devel.jsonnet (the
# shipped recipe) or a run of research/converged/lane_a.plan.
# AVERAGE_LAST (default 3, the shipped model's): for a run directory, export the mean of the
# weights of the last K epochs up to the selected one (checkpoint averaging; measured on devel
# in docs/converged.md, "Checkpoint averaging"); 1 exports the selected epoch alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
source=$1; out=${2:-runs/shipped}
data=${BIOMTL_DATA_ROOT:-$(pwd)/../shared/data}
export BIOMTL_DATA_ROOT=$data
model=models/mtm_cw/model.tar.gz  # the file itself, not the package's link to it
mkdir -p "$out" "$(dirname "$model")"
allennlp=".venv/bin/allennlp"
weights=()
if [ -d "$source" ]; then
  # The best devel epoch so far (a run may still be training) and the epochs before it that
  # are averaged with it: their weights files, and a record of what was exported for the
  # model card.
  .venv/bin/python - "$source" "$out/source.json" "${AVERAGE_LAST:-3}" <<'PY'
import json, sys
from research.run_folder import epoch_metrics, epoch_weights
run, record, last = sys.argv[1], sys.argv[2], int(sys.argv[3])
history = dict(enumerate(epoch_metrics(run)))
# A run with a devel split: its best devel epoch; one trained on train+devel (no validation):
# its last epoch.
selected = all("validation_macro_f1" in metrics for metrics in history.values())
best = max(history, key=lambda e: history[e]["validation_macro_f1"]) if selected else max(history)
if not 1 <= last <= best + 1:
    sys.exit(f"AVERAGE_LAST={last}: the selected epoch is {best} (counting from 0), so 1 to {best + 1} epochs can be averaged")
epochs = list(range(best - last + 1, best + 1))
json.dump({"run": run, "epochs_finished": len(history), "epoch": best, "selected_on_devel": selected,
           "averaged_epochs": epochs, "weights": [str(epoch_weights(run, e)) for e in epochs]},
          open(record, "w"), indent=2)
PY
  mapfile -t files < <(.venv/bin/python -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["weights"]))' "$out/source.json")
  weights=(--weights "${files[@]}")
fi
$allennlp export-tagger "$source" -o "$model" "${weights[@]}" > "$out/export.json" 2> "$out/export.log"
for split in devel test; do
  $allennlp evaluate "$model" "$split" --include-package biomtl_allennlp \
    --output-file "$out/$split.json" > "$out/evaluate_$split.log" 2>&1
done
$allennlp pubtator-eval "$model" "$data/pubtator/CDR_DevelopmentSet.PubTator.txt" \
  --output-file "$out/pubtator_cdr_dev.json" > "$out/pubtator_cdr_dev.log" 2>&1
$allennlp pubtator-eval "$model" "$data/pubtator/NCBIdevelopset_corpus.txt" \
  --output-file "$out/pubtator_ncbi_dev.json" > "$out/pubtator_ncbi_dev.log" 2>&1
# The same, with only the head trained on that corpus (the predictor's `heads`).
$allennlp pubtator-eval "$model" "$data/pubtator/CDR_DevelopmentSet.PubTator.txt" --predictor-args '{"heads": ["BC5CDR"]}' \
  --output-file "$out/pubtator_cdr_dev_own_head.json" > "$out/pubtator_cdr_dev_own_head.log" 2>&1
$allennlp pubtator-eval "$model" "$data/pubtator/NCBIdevelopset_corpus.txt" --predictor-args '{"heads": ["NCBI-disease"]}' \
  --output-file "$out/pubtator_ncbi_dev_own_head.json" > "$out/pubtator_ncbi_dev_own_head.log" 2>&1
# And with the union of all heads (`merge="union"`), beside the default merge.
$allennlp pubtator-eval "$model" "$data/pubtator/CDR_DevelopmentSet.PubTator.txt" --predictor-args '{"merge": "union"}' \
  --output-file "$out/pubtator_cdr_dev_union.json" > "$out/pubtator_cdr_dev_union.log" 2>&1
$allennlp pubtator-eval "$model" "$data/pubtator/NCBIdevelopset_corpus.txt" --predictor-args '{"merge": "union"}' \
  --output-file "$out/pubtator_ncbi_dev_union.json" > "$out/pubtator_ncbi_dev_union.log" 2>&1
.venv/bin/python benchmarks/predict_throughput.py "$model" --threads 2 --compare-merge > "$out/predict_throughput.md" 2>&1
echo "wrote $model; measurements in $out"
