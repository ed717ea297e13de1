"""Latency against FMA for the presets, measured side by side in one process: does low FMA mean fast?

Each network is built optimised (runtime.bench.prepare: BN folded, SE fused, MixConv as the faster form on the
device) and timed with torch.utils.benchmark in turn, repetition after repetition, so a load change on a shared
machine hits every network alike. Printed per batch: median latency, its ratio to MixNet-M's (median over the
repetitions), FMA relative to MixNet-M's, and achieved multiply-adds per second.

    python benchmarks/bench_variants.py                      # CPU, 2 threads, batch 1 and 8
    python benchmarks/bench_variants.py --device cuda --dtype fp16 --batches 1,32
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # 2-thread runs on a shared machine (bench_runtime.py)

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch.utils import benchmark  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import designer  # noqa: E402
from runtime.bench import DTYPES, device_name, prepare, tune_cpu_allocator  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--dtype", choices=tuple(DTYPES), default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nets", default="mixnet-s,mixnet-m,mixnet-m-gpu,mixnet-l,efficientnet-b0")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-run-time", type=float, default=0.3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device == "cpu":
        tune_cpu_allocator()
    names = args.nets.split(",")
    base = "mixnet-m" if "mixnet-m" in names else names[0]
    nets = {
        n: designer.cfg.with_net(designer.lower(designer.load_preset(n)), width=args.size, height=args.size)
        for n in names
    }
    fma = {n: designer.count(net).fma for n, net in nets.items()}
    models = {n: prepare(net, device=args.device, dtype=args.dtype, channels_last=True) for n, net in nets.items()}
    print(
        f"{device_name(args.device)}, {args.dtype}, {args.threads} CPU threads, input {args.size}x{args.size}, "
        f"{args.reps} interleaved repetitions; ratios against {base}"
    )
    for batch in (int(b) for b in args.batches.split(",")):
        xs = {
            n: torch.randn(batch, *nets[n].input_shape, device=args.device, dtype=DTYPES[args.dtype]).contiguous(
                memory_format=torch.channels_last
            )
            for n in names
        }
        timers = {}
        for n, m in models.items():

            @torch.no_grad()
            def run(m=m, x=xs[n]):
                return m(x)

            run(), run(), run()
            timers[n] = benchmark.Timer("run()", globals={"run": run}, num_threads=args.threads)
        runs: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(args.reps):
            for n in names:
                runs[n].append(timers[n].blocked_autorange(min_run_time=args.min_run_time).median)
        print(f"\nbatch {batch}")
        print(
            f"{'network':<16}{'FMA/image':>14}{'FMA vs base':>12}{'median ms':>11}{'latency vs base':>17}{'GFMA/s':>9}"
        )
        for n in names:
            ratio = statistics.median(a / b for a, b in zip(runs[n], runs[base]))
            med = statistics.median(runs[n])
            print(
                f"{n:<16}{fma[n]:>14,}{fma[n] / fma[base]:>12.2f}{med * 1e3:>11.2f}{ratio:>17.2f}"
                f"{fma[n] * batch / med / 1e9:>9.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
