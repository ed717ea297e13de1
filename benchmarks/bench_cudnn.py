"""cuDNN's algorithm search against its heuristics: does `torch.backends.cudnn.benchmark` change what a design costs?

`mixdesign bench` leaves cuDNN's heuristics to choose each convolution's algorithm (cudnn.benchmark off, torch's
default). Deployments often let it search instead (timm's benchmark script, TensorRT's tactics), and grouped convs
of a few channels per group, as in MixNet-M-GPU, are where a heuristic may choose badly. This times each network
with the search off and on in alternating rounds, in one process (the search's choices are cached per shape while
it is on; off, the heuristics choose again), with runtime.bench.measure as `bench` builds it, and prints the
on / off ratio per round.

    python benchmarks/bench_cudnn.py                                  # MixNet-M and MixNet-M-GPU, cuda, fp16
    python benchmarks/bench_cudnn.py --device cpu --dtype fp32 --rounds 1 --batches 1   # a smoke run (no cuDNN)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", default="mixnet-m,mixnet-m-gpu")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="fp16")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-run-time", type=float, default=0.3)
    args = ap.parse_args()

    import torch

    from designer.api import load
    from runtime.bench import measure

    cases = [(n, int(b)) for n in args.networks.split(",") for b in args.batches.split(",")]
    times: dict[tuple[str, int, bool], list[float]] = {}
    for r in range(args.rounds):
        for search in (False, True) if r % 2 == 0 else (True, False):
            torch.backends.cudnn.benchmark = search
            for name, batch in cases:
                res = measure(
                    load(name).network,
                    device=args.device,
                    batch=batch,
                    dtype=args.dtype,
                    channels_last=True,
                    execution="eager",
                    min_run_time=args.min_run_time,
                )
                times.setdefault((name, batch, search), []).append(res.median_ms)
                print(
                    f"round {r + 1}: cudnn.benchmark={search} {name} batch {batch}: {res.median_ms:.3f} ms "
                    f"(IQR {res.iqr_ms:.3f}) on {res.device_name}, {args.dtype}",
                    flush=True,
                )
    print(f"\n{'network':14s} {'batch':>5s} {'off ms':>9s} {'on ms':>9s}  on/off per round")
    for name, batch in cases:
        off, on = times[(name, batch, False)], times[(name, batch, True)]
        ratios = " ".join(f"{a / b:.2f}" for a, b in zip(on, off))
        print(f"{name:14s} {batch:5d} {statistics.median(off):9.3f} {statistics.median(on):9.3f}  {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
