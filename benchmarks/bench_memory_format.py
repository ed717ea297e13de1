"""NCHW against NHWC (channels_last): why `mixdesign bench` builds in NHWC on the CPU unless told otherwise.

For each preset and darknet cfg, the optimised build as `mixdesign bench` times it (runtime.bench.measure:
optimised, traced and frozen, blocked_autorange median) in NCHW (`--no-channels-last`) and in NHWC, timed in
turn in each round, so that a change in the shared host's speed falls on both. Printed per network: both medians
of the fastest round and the NHWC / NCHW ratio per round, median (min-max). The ratio is the figure to read: the
milliseconds move with the host, the ratio of two builds timed seconds apart much less.

    python benchmarks/bench_memory_format.py                      # presets + yolov4-tiny, darknet53; 1 thread
    python benchmarks/bench_memory_format.py --threads 2 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from designer.threads import configure  # noqa: E402

# OpenMP's waiting, chosen as `mixdesign` chooses it (designer/threads.py) before torch loads
OMP_CHOICE = configure()

from designer import load_preset, lower, parse_cfg  # noqa: E402
from designer.cfg import with_net  # noqa: E402

PRESETS = ("mixnet-s", "mixnet-m", "mixnet-m-gpu", "efficientnet-b0")
CFGS = ("yolov4-tiny", "darknet53")
SHARED_CFG = Path(__file__).resolve().parents[2] / "shared" / "darknet" / "cfg"


def networks(size: int | None) -> dict:
    nets = {name: lower(load_preset(name)) for name in PRESETS}
    for name in CFGS:
        path = SHARED_CFG / f"{name}.cfg"
        if path.is_file():
            nets[name] = parse_cfg(path)
    if size:
        nets = {k: with_net(n, width=size, height=size) for k, n in nets.items()}
    return nets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timing (blocked_autorange)")
    ap.add_argument("--size", type=int, default=None, help="input size for every network (default: each its own)")
    args = ap.parse_args()
    from runtime.bench import measure, tune_cpu_allocator

    tune_cpu_allocator()  # as `mixdesign bench` does
    print(
        f"torch on cpu, {args.threads} thread(s), batch {args.batch}, fp32, optimised build, {args.rounds} rounds "
        f"(NCHW and NHWC in turn); OpenMP: {OMP_CHOICE}"
    )
    print(f"{'network':<16} {'NCHW ms':>9} {'NHWC ms':>9}   NHWC/NCHW per round, median (min-max)")
    for name, net in networks(args.size).items():
        times: dict[bool, list[float]] = {False: [], True: []}
        for r in range(args.rounds):
            for nhwc in (False, True) if r % 2 == 0 else (True, False):
                times[nhwc].append(
                    measure(
                        net,
                        threads=args.threads,
                        batch=args.batch,
                        channels_last=nhwc,
                        min_run_time=args.min_run_time,
                    ).median_ms
                )
        ratios = [b / a for a, b in zip(times[False], times[True])]
        print(
            f"{name:<16} {min(times[False]):>9.2f} {min(times[True]):>9.2f}   "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
