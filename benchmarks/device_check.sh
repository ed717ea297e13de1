#!/usr/bin/env bash
# One prepared run on a lent CUDA machine (the device tool): the GPU tests, then the GPU latency benchmarks.
# Logs go to $OUT (the device tool brings them back). Uses the machine's own python3/torch; no install.
set -u
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/gpu.txt"
timeout 240 python3 -m pytest tests/test_runtime_gpu.py tests/test_train_gpu.py tests/test_train.py -q -p no:cacheprovider -o addopts=-ra 2>&1 | tee "$OUT/gpu_tests.txt"
timeout 150 python3 benchmarks/bench_runtime.py --device cuda --no-compile --reps 5 --min-run-time 0.2 2>&1 | tee "$OUT/bench_runtime_cuda.txt"
for dt in fp32 fp16; do
  timeout 90 python3 benchmarks/bench_variants.py --device cuda --dtype $dt --batches 1,32 --reps 5 --min-run-time 0.2 2>&1 | tee "$OUT/bench_variants_cuda_$dt.txt"
done
timeout 60 python3 -m designer.cli bench mixnet-m --device cuda --per-layer --top 8 --min-run-time 0.3 2>&1 | tee "$OUT/per_layer_cuda.txt"
timeout 150 python3 benchmarks/bench_train.py --device cuda --rounds 2 2>&1 | tee "$OUT/bench_train_cuda.txt"
