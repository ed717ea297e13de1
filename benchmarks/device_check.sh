#!/usr/bin/env bash
# One prepared run on a lent CUDA machine (the device tool), under ~11 minutes: the GPU tests, our optimised
# build against timm's best mode on CUDA (eager and CUDA graphs, fp32 and fp16), the seed's claim as a fp16
# training step at training batches (MixNet-M against MixNet-M-GPU), MixNet-M's slowest layers on CUDA, and the
# latency model's accuracy on CUDA (bench_estimate: calibrate, then 20 unseen designs; needs scikit-learn).
# Logs go to $OUT (the device tool brings them back). Uses the machine's own python3/torch; installs nothing.
# timm for bench_vs_timm.py (the device machine has no package index): before the run,
#   pip install --no-deps --target .vendor timm        and pass carry=[".vendor"] to the device tool;
# without it the timm rows say "timm is not installed" and ours are still timed.
set -u
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ -d .vendor ] && export PYTHONPATH=$PYTHONPATH:$PWD/.vendor
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/gpu.txt"
timeout 180 python3 -m pytest tests/test_runtime_gpu.py tests/test_train_gpu.py tests/test_runtime_execution.py \
  -q -p no:cacheprovider -o addopts=-ra 2>&1 | tee "$OUT/gpu_tests.txt"
timeout 210 python3 benchmarks/bench_vs_timm.py --device cuda --rounds 2 --batches 1,8 --min-run-time 0.3 \
  --out "$OUT/bench_vs_timm_cuda.txt" 2>&1 | tail -n 40
# the seed's claim: depthwise / MixConv groups are slow on GPUs once the kernels dominate (fp16, training batch);
# two alternating rounds of separate processes, one JSON record per line
{ echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for round in 1 2; do
    for preset in mixnet-m mixnet-m-gpu; do
      timeout 45 python3 -m designer.cli bench "$preset" --mode train --device cuda --dtype fp16 --channels-last \
        --batch 32,64 --min-run-time 0.5 --json --no-record | python3 -c \
        "import json,sys; d=json.load(sys.stdin); [print(json.dumps({'round': $round, 'preset': '$preset', **{k: r[k] for k in ('batch','dtype','median_ms','iqr_ms','fma_per_s','device_name')}})) for r in (d if isinstance(d, list) else [d])]"
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"; } 2>&1 | tee "$OUT/train_fp16_mixnet_m_vs_gpu.txt"
timeout 45 python3 -m designer.cli bench mixnet-m --device cuda --dtype fp16 --channels-last --per-layer --top 8 \
  --min-run-time 0.3 --no-record 2>&1 | tee "$OUT/per_layer_cuda.txt"
timeout 200 python3 benchmarks/bench_estimate.py --device cuda --backends torch --threads 1 --budget 60 \
  --designs 20 --rounds 10 --min-run-time 0.05 --out "$OUT/bench_estimate_cuda.txt" 2>&1 | tail -n 35
