"""The sane range of every design value and run setting, checked where the value enters (spec.validate, the CLI
overrides, --threads).

One table: name -> (lowest, highest, what it is, the fix). A value must be a finite number inside the range;
`value_problem` says why not, naming the limit and the fix. Above these limits nothing is wrong in principle,
but the numbers stop meaning anything on the machines this tool targets (`--width-mult 1e9` is 2.8e24
params; `--size 100000` asks torch for terabytes), so they are refused with the figure.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Limit(NamedTuple):
    lo: float
    hi: float
    what: str
    fix: str


MAX_SIZE = 4096
MAX_THREADS = 1024  # more intra-op threads than any CPU this tool targets has cores
LIMITS: dict[str, Limit] = {
    "width_mult": Limit(0.1, 4.0, "width multiplier", "use --width-mult between 0.1 and 4 (EfficientNet-B7 is 2.0)"),
    "depth_mult": Limit(0.1, 4.0, "depth multiplier", "use --depth-mult between 0.1 and 4 (EfficientNet-B7 is 3.1)"),
    "input_size": Limit(
        8,
        MAX_SIZE,
        "input size",
        f"use --size between 8 and {MAX_SIZE}, and at least the design's total stride (32 for the presets)",
    ),
    "size": Limit(
        8,
        MAX_SIZE,
        "input size",
        f"use --size between 8 and {MAX_SIZE}, and at least the design's total stride (32 for the presets)",
    ),
    "classes": Limit(1, 100_000, "number of classes", "use --classes between 1 and 100000"),
    "dw_group_size": Limit(
        1,
        1024,
        "channels per group",
        "use --dw-group-size 1 (depthwise) or a small divisor of the kernel groups such as 4, 8 or 16",
    ),
    "input_channels": Limit(1, 64, "input channels", "use 1 (grey) or 3 (RGB)"),
    "channels": Limit(1, 16_384, "channel count", "use at most 16384 channels"),
    "repeats": Limit(1, 64, "repeats of a block row", "use 1 to 64 repeats (the depth multiplier scales them)"),
    "kernel": Limit(1, 31, "kernel size", "use odd kernel sizes from 1 to 31"),
    "stride": Limit(1, 2, "stride", "use stride 1 or 2"),
    "expand_ratio": Limit(0.01, 16, "expand ratio", "use an expand ratio from 1 to 16"),
    "se_ratio": Limit(0, 1, "SE ratio", "use an SE ratio from 0 (no SE) to 1"),
    "groups": Limit(1, 64, "group count", "use 1 to 64 groups"),
    "dropout": Limit(0, 0.99, "dropout", "use a dropout probability in [0, 1)"),
    "threads": Limit(
        1,
        MAX_THREADS,
        "thread count",
        f"use --threads between 1 and {MAX_THREADS}, at most the "
        "cores this machine has (mixdesign bench --help says how many)",
    ),
}


def value_problem(name: str, value: float | int) -> str | None:
    """Why `value` is not a sane `name` (a key of LIMITS), with the limit and the fix; None when it is."""
    lim = LIMITS[name]
    try:
        finite = math.isfinite(value)
    except TypeError:
        return f"{lim.what} {value!r} is not a number. Fix: {lim.fix}"
    if not finite:
        return f"{lim.what} {value} is not a finite number. Fix: {lim.fix}"
    if value < lim.lo:
        return f"{lim.what} {value:g} is below the minimum {lim.lo:g}. Fix: {lim.fix}"
    if value > lim.hi:
        return f"{lim.what} {value:g} is above the maximum {lim.hi:g}. Fix: {lim.fix}"
    return None
