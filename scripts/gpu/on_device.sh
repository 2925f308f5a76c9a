#!/usr/bin/env bash
# Runs on the lent GPU machine, in the repository copy, after scripts/gpu/bundle.sh built
# runs/gpu_bundle here and the call carried it:
#   run(command="bash scripts/gpu/on_device.sh", carry=["runs/gpu_bundle"], timeout_s=540)
# Unpacks the packages and the corpora under /tmp, checks that the stack imports and that
# the CRF's scan equals its loop on the GPU, then runs benchmarks/gpu.py into $OUT/gpu.md.
set -euo pipefail
export PYTHONUNBUFFERED=1
mkdir -p /tmp/bundle/data "$OUT"
tar -xJf runs/gpu_bundle/site.tar.xz -C /tmp/bundle
tar -xJf runs/gpu_bundle/data.tar.xz -C /tmp/bundle/data
export PYTHONPATH=/tmp/bundle/site:$(pwd) BIOMTL_DATA_ROOT=/tmp/bundle/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
python3 -c "import torch, allennlp, biomtl_allennlp; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/device.txt"
python3 -m pytest -q -p no:cacheprovider tests/modules/test_multi_head_crf.py 2>&1 | tail -3 | tee -a "$OUT/device.txt"
python3 benchmarks/gpu.py --device cuda:0 --threads 8 --data-root /tmp/bundle/data "$@" 2>"$OUT/gpu.err" | tee "$OUT/gpu.md"
# Data loading on the machine's own cores: training-process time per epoch, 0 / 4 / 8 workers.
for batch in 10 256; do
  python3 benchmarks/data_loading.py --workers 0 4 8 --batch-size $batch --threads 8 \
    --data-root /tmp/bundle/data 2>>"$OUT/data_loading.err" | tee -a "$OUT/data_loading.md"
done
# What is left of the call (run with timeout_s=540): the four-corpus MTM-CW at batch 256 toward
# convergence (training_configs/gpu/mtm_cw_large_batch.jsonnet; issue 12's <= 5 minutes target).
left=$((520 - SECONDS))
if [ "$left" -gt 60 ]; then
  timeout "$left" python3 -m allennlp train training_configs/gpu/mtm_cw_large_batch.jsonnet \
    --include-package biomtl_allennlp -s /tmp/run_large_batch > "$OUT/large_batch.log" 2>&1 || true
  mkdir -p "$OUT/large_batch" && cp /tmp/run_large_batch/metrics*.json "$OUT/large_batch/" 2>/dev/null || true
fi
echo "on_device.sh done after $SECONDS s" | tee -a "$OUT/device.txt"
