"""Counting-core speed: parse+shape+count of yolov4.cfg, and designs counted per second over a sweep.

Targets (issue #2): yolov4.cfg under 20 ms; over 500 MixNet variants/s (lower + count, no text round trip),
and the same with the cfg text round trip (lower -> emit -> parse -> count) that the app caches on.

The sweep is timed two ways, interleaved in rounds in this one process (the machine is shared, so drift hits
both alike), and their ratio printed: "warm", the core's per-block lowering cache (designer.lower._lower_block)
kept across the sweep, whose innermost axes repeat the same blocks; "cold", that cache cleared before each
design, i.e. a design whose blocks were never lowered before. Both are reported against the target.
Run: python benchmarks/bench_core.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import statistics
import sys
import time
import timeit
from dataclasses import replace
from pathlib import Path

import designer

YOLOV4 = Path(__file__).resolve().parents[2] / "shared" / "darknet" / "cfg" / "yolov4.cfg"


def per_call_ms(fn, repeat: int = 7) -> tuple[float, float]:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    runs = [t / number * 1e3 for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(runs), min(runs)


def variants(n: int) -> list[designer.Arch]:
    base = designer.load_preset("mixnet-m")
    grid = itertools.product(
        [0.5, 0.75, 1.0, 1.25, 1.5], [0.5, 1.0, 1.5, 2.0], [128, 160, 192, 224, 256], [0, 2, 4, 8], [10, 100, 1000]
    )
    out = []
    for w, d, size, gs, classes in grid:
        arch = replace(base, width_mult=w, depth_mult=d, input_size=size, classes=classes)
        out.append(designer.gpu_variant(arch, gs) if gs else arch)
        if len(out) == n:
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if YOLOV4.is_file():
        text = YOLOV4.read_text()
        label = "yolov4.cfg"
    else:
        text = designer.emit_cfg(designer.lower(designer.load_preset("mixnet-l")))
        label = "mixnet-l cfg (../shared absent, yolov4.cfg not found)"
    net = designer.parse_cfg(text)
    med, best = per_call_ms(lambda: designer.count(designer.parse_cfg(text)))
    print(
        f"parse+shape+count {label} ({len(net.layers)} layers): median {med:.2f} ms, best {best:.2f} ms "
        f"(target < 20 ms) -> {'OK' if med < 20 else 'MISSED'}"
    )

    archs = variants(1000)
    valid = [a for a in archs if not designer.validate(a)]
    lower_module = importlib.import_module("designer.lower")  # the module (designer.lower is also the function)

    def sweep(cold: bool) -> tuple[float, float]:
        """(designs per wall second, designs per CPU second of this process)."""
        lower_module._lower_block.cache_clear()
        t0, c0 = time.perf_counter(), time.process_time()
        for a in valid:
            if cold:
                lower_module._lower_block.cache_clear()
            designer.count(designer.lower(a, with_design=False))
        return len(valid) / (time.perf_counter() - t0), len(valid) / (time.process_time() - c0)

    warm, cold = [], []
    for _ in range(args.rounds):
        warm.append(sweep(cold=False))
        cold.append(sweep(cold=True))
    print(
        f"sweep of {len(archs)} MixNet-M variants (width x depth x size x dw group size x classes; "
        f"{len(archs) - len(valid)} rejected by validation), lower+count, median of {args.rounds} interleaved "
        "rounds; 'CPU' = per second of this process's CPU time (what other jobs on a shared machine do not steal):"
    )
    for label, rates in (("warm per-block cache", warm), ("cold (cache cleared per design)", cold)):
        wall, cpu = statistics.median(r[0] for r in rates), statistics.median(r[1] for r in rates)
        print(
            f"  {label:32s} {wall:6,.0f} designs/s wall, {cpu:6,.0f} designs/s CPU "
            f"(target > 500/s: {'OK' if cpu > 500 else 'MISSED'} by CPU time, {'OK' if wall > 500 else 'MISSED'} "
            f"by wall; wall per round: {', '.join(f'{r[0]:,.0f}' for r in rates)})"
        )
    print(f"  cold / warm rate: x{statistics.median(c[1] / w[1] for c, w in zip(cold, warm)):.2f} (CPU time)")
    t0, c0 = time.perf_counter(), time.process_time()
    for a in valid[:200]:
        designer.count(designer.parse_cfg(designer.emit_cfg(designer.lower(a))))
    print(
        f"same, with the cfg text round trip lower->emit->parse->count (200 designs, warm cache): "
        f"{200 / (time.perf_counter() - t0):,.0f} designs/s wall, {200 / (time.process_time() - c0):,.0f} CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
