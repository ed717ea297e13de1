"""Random designs across the design space, for calibration and for checking a model on designs it never saw.

The axes are the sweep's (designer.explore.space: width and depth multipliers, input size, channels per group in
the MixConv convs, and per row the kernel set, expand ratio and SE ratio), each point applied with
`space.apply`, so a calibration design is exactly what a sweep over the same values would build. Values span
what MixNet / EfficientNet designs use; invalid combinations are drawn again. Reproducible from a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from designer.design_io import load_preset
from designer.explore.space import apply
from designer.ir import Network
from designer.lower import lower
from designer.spec import Arch

BASES = ("mixnet-s", "mixnet-m")
GLOBAL_VALUES: dict[str, tuple] = {
    "width-mult": (0.5, 0.75, 1.0, 1.25),
    "depth-mult": (0.5, 0.75, 1.0),
    "size": (96, 128, 160, 192, 224),
    "dw-group-size": (1, 1, 1, 2, 4, 8, 16),  # depthwise most often, as the presets are
}
ROW_VALUES: dict[str, tuple] = {
    "kernels": ((3,), (3, 5), (3, 5, 7), (3, 5, 7, 9), (5,), (3, 5, 7, 9, 11)),
    "expand": (1.0, 3.0, 6.0),
    "se": (0.0, 0.25, 0.5),
}
ROW_CHANGE = 0.4  # chance that a row's value of one row axis differs from the base design's


def random_point(rng: random.Random, base: Arch, sizes: tuple[int, ...] | None = None) -> tuple:
    """One point of the space (the sweep's (key, value) pairs) around `base`."""
    values = [(k, rng.choice(sizes if k == "size" and sizes else v)) for k, v in GLOBAL_VALUES.items()]
    for r in range(len(base.blocks)):
        for key, options in ROW_VALUES.items():
            if rng.random() < ROW_CHANGE:
                values.append((f"row{r}.{key}", rng.choice(options)))
    return tuple(values)


def random_designs(seed: int = 0, *, bases: tuple[Arch, ...] | None = None, sizes: tuple[int, ...] | None = None,
                   exclude: frozenset[str] = frozenset()) -> Iterator[tuple[str, Arch, Network]]:
    """Endless distinct valid designs: (label, design, network). `exclude`: labels not to produce (a check set
    disjoint from a calibration's)."""
    rng = random.Random(seed)
    bases = bases or tuple(load_preset(b) for b in BASES)
    seen = set(exclude)
    misses = 0
    while misses < 10_000:
        base = rng.choice(bases)
        point = apply(base, random_point(rng, base, sizes))
        label = f"{base.name}: {point.label}"
        if point.arch is None or label in seen:
            misses += 1
            continue
        seen.add(label)
        misses = 0
        yield label, point.arch, lower(point.arch)
