"""A design space to sweep: axes (`--vary KEY=VALUES`) over a base design, as a grid or seeded random samples.

Keys (one fact in one place: AXES below):
    width-mult=0.75,1.0,1.25     depth-mult=...     size=160,192,224
    dw-group-size=1,2,4,8        (designer.spec.gpu_variant: channels per group in the MixConv convs, the
                                  nearest divisor where a row's kernel groups need it, as `--dw-group-size` does)
    rowN.kernels=3.5.7.9|3.5|3   (row N's MixConv kernel sizes; `.` between sizes, `|` between values)
    rowN.expand=3,6              rowN.se=0,0.25,0.5      rowN.repeats=1,2,3
Values are separated by `,` (or by `|`, which kernels need). Applying a point to the design uses
dataclasses.replace: per-row keys first, then width / depth / size, then the GPU variant (its channels per group
depend on the scaled widths). A point whose design does not validate is kept with designer.validate's reason.
Torch-free.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from dataclasses import dataclass, replace
from typing import Any, cast

from designer.errors import MixdesignError
from designer.spec import Arch, DesignError, gpu_variant, gpu_variant_report, rounding_report, validate

Value = int | float | tuple[int, ...]

# key (or per-row suffix) -> (value parser, Arch field or Block field, what it means)
AXES: dict[str, tuple[type, str, str]] = {
    "width-mult": (float, "width_mult", "width multiplier (TF round_filters)"),
    "depth-mult": (float, "depth_mult", "depth multiplier (TF round_repeats)"),
    "size": (int, "input_size", "input width and height in pixels"),
    "dw-group-size": (int, "dw_group_size", "channels per group in the MixConv convs (1 = depthwise)"),
}
ROW_AXES: dict[str, tuple[type, str, str]] = {
    "kernels": (tuple, "kernels", "MixConv kernel sizes of the row, e.g. 3.5.7.9"),
    "expand": (float, "expand_ratio", "expand ratio of the row"),
    "se": (float, "se_ratio", "squeeze-excitation ratio of the row (0 = none)"),
    "repeats": (int, "repeats", "block copies in the row (before the depth multiplier)"),
}
_ROW_KEY = re.compile(r"row(\d+)\.([a-z-]+)$")


class SweepSpecError(MixdesignError):
    """A `--vary` axis that cannot be read or does not fit the design."""


@dataclass(frozen=True)
class Axis:
    key: str  # as typed: "width-mult", "row3.kernels"
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Point:
    """One design of the sweep: the axis values, the design (None when invalid) and why it is invalid."""

    values: tuple[tuple[str, Value], ...]  # (key, value) in axis order
    arch: Arch | None
    reason: str = ""  # designer.validate's message where the combination is invalid
    notes: tuple[str, ...] = ()  # what width rounding and gpu_variant adjusted

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={format_value(v)}" for k, v in self.values) or "base design"

    @property
    def as_dict(self) -> dict[str, Any]:
        return {k: format_value(v) if isinstance(v, tuple) else v for k, v in self.values}


def format_value(v: Value) -> str | int | float:
    return ".".join(str(k) for k in v) if isinstance(v, tuple) else v


def _parse_one(kind: type, text: str, key: str) -> Value:
    text = text.strip()
    try:
        if kind is tuple:
            ks = tuple(int(k) for k in text.split("."))
            if not ks:
                raise ValueError
            return ks
        v = kind(text)
    except ValueError:
        want = (
            "kernel sizes joined by '.' (e.g. 3.5.7)"
            if kind is tuple
            else f"a{'n integer' if kind is int else ' number'}"
        )
        raise SweepSpecError(f"--vary {key}: {text!r} is not {want}") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise SweepSpecError(f"--vary {key}: {text!r} is not a finite number")
    return v


def parse_axis(text: str, arch: Arch | None = None) -> Axis:
    """`KEY=V1,V2,...` -> Axis; with `arch`, a row key is checked against the design's rows."""
    key, eq, rest = text.partition("=")
    key = key.strip()
    if not eq or not rest.strip():
        raise SweepSpecError(f"--vary {text!r}: write KEY=VALUES, e.g. width-mult=0.75,1.0 or row3.kernels=3.5.7|3.5")
    m = _ROW_KEY.match(key)
    if m:
        kind = ROW_AXES.get(m.group(2), (None,))[0]
        if kind is None:
            raise SweepSpecError(f"--vary {key}: row keys are {', '.join('rowN.' + k for k in ROW_AXES)}")
        row = int(m.group(1))
        if arch is not None and row >= len(arch.blocks):
            raise SweepSpecError(f"--vary {key}: the design has rows 0..{len(arch.blocks) - 1}")
    elif key in AXES:
        kind = AXES[key][0]
    else:
        known = ", ".join([*AXES, *(f"rowN.{k}" for k in ROW_AXES)])
        raise SweepSpecError(f"--vary {key}: unknown key; the keys are {known}")
    sep = "|" if "|" in rest or kind is tuple else ","
    values = tuple(dict.fromkeys(_parse_one(kind, t, key) for t in rest.split(sep) if t.strip()))
    return Axis(key, values)


def parse_axes(texts: list[str], arch: Arch | None = None) -> tuple[Axis, ...]:
    axes = [parse_axis(t, arch) for t in texts]
    seen = [a.key for a in axes]
    dup = {k for k in seen if seen.count(k) > 1}
    if dup:
        raise SweepSpecError(f"--vary {', '.join(sorted(dup))} given twice: put all values in one --vary")
    return tuple(axes)


def space_size(axes: tuple[Axis, ...]) -> int:
    n = 1
    for a in axes:
        n *= len(a.values)
    return n


def grid(axes: tuple[Axis, ...]) -> list[tuple[tuple[str, Value], ...]]:
    keys = [a.key for a in axes]
    return [tuple(zip(keys, combo)) for combo in itertools.product(*(a.values for a in axes))]


def sample(axes: tuple[Axis, ...], n: int, seed: int = 0) -> list[tuple[tuple[str, Value], ...]]:
    """`n` distinct random points (the whole grid when it has n or fewer), reproducible from `seed`."""
    total = space_size(axes)
    if n >= total:
        return grid(axes)
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(total), n))  # mixed-radix indices: no duplicates, no grid built
    out = []
    for idx in picks:
        combo = []
        for a in reversed(axes):
            idx, r = divmod(idx, len(a.values))
            combo.append((a.key, a.values[r]))
        out.append(tuple(reversed(combo)))
    return out


def apply(arch: Arch, values: tuple[tuple[str, Value], ...]) -> Point:
    """The design at one point of the space (or the reason it is invalid)."""
    d: dict[str, Any] = dict(values)
    blocks = list(arch.blocks)
    for key, v in values:
        m = _ROW_KEY.match(key)
        if m:
            r, field = int(m.group(1)), ROW_AXES[m.group(2)][1]
            blocks[r] = replace(blocks[r], **{field: cast(Any, v)})
    new = replace(
        arch, blocks=tuple(blocks), **{AXES[k][1]: d[k] for k in ("width-mult", "depth-mult", "size") if k in d}
    )
    issues = validate(new)
    if issues:
        return Point(values, None, str(DesignError(issues)))
    notes = tuple(rounding_report(new))  # width scaling rounded to darknet's equal kernel slices
    if "dw-group-size" in d:
        g = int(d["dw-group-size"])
        if g < 1:
            return Point(values, None, f"dw-group-size={g}: use 1 (depthwise) or more channels per group")
        notes += tuple(gpu_variant_report(new, g))
        new = gpu_variant(new, g)
    return Point(values, new, "", notes)


def points(arch: Arch, axes: tuple[Axis, ...], samples: int | None = None, seed: int = 0) -> list[Point]:
    """Every point of the grid, or `samples` random ones, applied to `arch`."""
    combos = grid(axes) if not samples else sample(axes, samples, seed)
    return [apply(arch, c) for c in combos]


def spec_hash(spec: dict[str, Any]) -> str:
    """A short, stable id of a sweep specification (base design, axes, sampling, measurements)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
