#!/usr/bin/env bash
# `make demo-train`: trains MTM-CW on the three small corpora shipped in fixtures/demo (a few
# minutes on 2 CPU cores), then prints per-dataset test F1 and where the model archive is.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${DEMO_DIR:-runs/demo}
mkdir -p "$(dirname "$out")"
echo "Training MTM-CW on fixtures/demo (demo-gene, demo-chemical, demo-disease) -> $out"
.venv/bin/allennlp train training_configs/demo.jsonnet --include-package biomtl_allennlp \
  -s "$out" -f > "$out.log" 2>&1 || { tail -40 "$out.log"; echo "training failed, log: $out.log"; exit 1; }

.venv/bin/python - "$out" <<'PY'
import json, sys
from biomtl_allennlp.common.metric_keys import datasets_in
out = sys.argv[1]
metrics = json.load(open(f"{out}/metrics.json"))
datasets = sorted(datasets_in(key for key in metrics if key.startswith("test_")))
print(f"\n{'dataset':<16}{'precision':>10}{'recall':>10}{'F1':>10}   (test split, exact span match)")
for name in datasets:
    p, r, f = (metrics[f"test_{name}_{m}"] for m in ("precision", "recall", "f1"))
    print(f"{name:<16}{p:>10.4f}{r:>10.4f}{f:>10.4f}")
print(f"{'macro F1':<16}{'':>20}{metrics['test_macro_f1']:>10.4f}")
print(f"\nbest epoch {metrics['best_epoch']}, training time {metrics['training_duration']}")
print(f"model archive: {out}/model.tar.gz   (training log: {out}.log)")
PY
