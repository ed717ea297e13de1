"""Counting-core speed: parse+shape+count of yolov4.cfg, and designs counted per second over a sweep.

Targets (issue #2): yolov4.cfg under 20 ms; over 500 MixNet variants/s (lower + count, no text round trip),
and the same with the cfg text round trip (lower -> emit -> parse -> count) that the app caches on.
Run: python benchmarks/bench_core.py
"""

from __future__ import annotations

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
    grid = itertools.product([0.5, 0.75, 1.0, 1.25, 1.5], [0.5, 1.0, 1.5, 2.0], [128, 160, 192, 224, 256],
                             [0, 2, 4, 8], [10, 100, 1000])
    out = []
    for w, d, size, gs, classes in grid:
        arch = replace(base, width_mult=w, depth_mult=d, input_size=size, classes=classes)
        out.append(designer.gpu_variant(arch, gs) if gs else arch)
        if len(out) == n:
            break
    return out


def main() -> int:
    if YOLOV4.is_file():
        text = YOLOV4.read_text()
        label = "yolov4.cfg"
    else:
        text = designer.emit_cfg(designer.lower(designer.load_preset("mixnet-l")))
        label = "mixnet-l cfg (../shared absent, yolov4.cfg not found)"
    net = designer.parse_cfg(text)
    med, best = per_call_ms(lambda: designer.count(designer.parse_cfg(text)))
    print(f"parse+shape+count {label} ({len(net.layers)} layers): median {med:.2f} ms, best {best:.2f} ms "
          f"(target < 20 ms) -> {'OK' if med < 20 else 'MISSED'}")

    archs = variants(1000)
    valid = [a for a in archs if not designer.validate(a)]
    t0 = time.perf_counter()
    for a in valid:
        designer.count(designer.lower(a, with_design=False))
    dt = time.perf_counter() - t0
    rate = len(valid) / dt
    print(f"sweep of {len(archs)} MixNet-M variants (width x depth x size x dw group size x classes; "
          f"{len(archs) - len(valid)} rejected by validation): lower+count {rate:,.0f} designs/s "
          f"(target > 500/s) -> {'OK' if rate > 500 else 'MISSED'}")
    t0 = time.perf_counter()
    for a in valid[:200]:
        designer.count(designer.parse_cfg(designer.emit_cfg(designer.lower(a))))
    rate_rt = 200 / (time.perf_counter() - t0)
    print(f"same, with the cfg text round trip lower->emit->parse->count: {rate_rt:,.0f} designs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
