"""Darknet's own constraints on single keys, checked before any shape rule divides by them.

darknet's parser reads every number with atoi/atof and goes on: `stride=0` reaches `(h + 2*pad - size) /
stride` (a division by zero), `groups=0` a modulo by zero, `filters=-3` a negative malloc. This table states,
per section type and key, the range darknet's make_*_layer can actually work with; a value outside it is a
CfgError naming the key, its line and the fix. Shape rules (designer/shapes.py) and the cost model therefore
only ever see keys in range.

`key_problem(type, key, value)` is what the reader calls per key (it knows the key's line);
`check_layer(layer, index)` is what infer_shapes calls for layers built in code (the section's line).
"""

from __future__ import annotations

import math

from designer.ir import CfgError, Layer
from designer.sections import Value

C_INT_MAX = 2**31 - 1  # darknet reads ints with atoi into a C int
ANY = None

# (section type or "*", key) -> (lowest, highest); None = no bound on that side. "*" applies to every section.
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("net", "width"): (0, None),
    ("net", "height"): (0, None),
    ("net", "channels"): (0, None),
    ("net", "inputs"): (1, None),
    ("net", "batch"): (1, None),
    ("net", "subdivisions"): (1, None),
    ("convolutional", "filters"): (1, None),
    ("convolutional", "size"): (1, None),
    ("convolutional", "stride"): (1, None),
    ("convolutional", "stride_x"): (1, None),
    ("convolutional", "stride_y"): (1, None),
    ("convolutional", "padding"): (0, None),
    ("convolutional", "groups"): (1, None),
    ("convolutional", "dilation"): (1, None),
    ("connected", "output"): (1, None),
    ("local", "filters"): (1, None),
    ("local", "size"): (1, None),
    ("local", "stride"): (1, None),
    ("maxpool", "size"): (1, None),
    ("maxpool", "stride"): (1, None),
    ("maxpool", "stride_x"): (1, None),
    ("maxpool", "stride_y"): (1, None),
    ("maxpool", "padding"): (0, None),
    ("maxpool", "out_channels"): (1, None),
    ("local_avgpool", "size"): (1, None),
    ("local_avgpool", "stride"): (1, None),
    ("local_avgpool", "stride_x"): (1, None),
    ("local_avgpool", "stride_y"): (1, None),
    ("local_avgpool", "padding"): (0, None),
    ("dropout", "probability"): (0, 1),
    ("normalization", "size"): (1, None),
    ("softmax", "groups"): (1, None),
    ("route", "groups"): (1, None),
    ("route", "group_id"): (0, None),
    ("reorg", "stride"): (1, None),
    ("reorg3d", "stride"): (1, None),
    ("yolo", "classes"): (0, None),
    ("yolo", "num"): (1, None),
    ("yolo", "mask"): (0, None),
    ("Gaussian_yolo", "classes"): (0, None),
    ("Gaussian_yolo", "num"): (1, None),
    ("Gaussian_yolo", "mask"): (0, None),
    ("region", "classes"): (0, None),
    ("region", "coords"): (0, None),
    ("region", "num"): (1, None),
    ("detection", "classes"): (0, None),
    ("detection", "coords"): (0, None),
    ("detection", "num"): (1, None),
    ("detection", "side"): (1, None),
    ("crop", "crop_height"): (1, None),
    ("crop", "crop_width"): (1, None),
    ("rnn", "output"): (1, None),
    ("rnn", "hidden"): (1, None),
    ("gru", "output"): (1, None),
    ("lstm", "output"): (1, None),
    ("conv_lstm", "output"): (1, None),
    ("conv_lstm", "size"): (1, None),
    ("conv_lstm", "stride"): (1, None),
    ("conv_lstm", "groups"): (1, None),
    ("conv_lstm", "dilation"): (1, None),
    ("crnn", "output"): (1, None),
    ("crnn", "hidden"): (1, None),
    ("crnn", "size"): (1, None),
    ("crnn", "stride"): (1, None),
    ("crnn", "groups"): (1, None),
    ("crnn", "dilation"): (1, None),
    ("history", "history_size"): (1, None),
    ("implicit", "filters"): (1, None),
    ("implicit", "atoms"): (1, None),
}

_WHY = {0: "it must not be negative", 1: "darknet divides by it or allocates that many; it must be 1 or more"}


def _one(type_: str, key: str, v: int | float) -> str | None:
    if isinstance(v, float) and not math.isfinite(v):
        return f"{key}={v} is not a finite number"
    if isinstance(v, int) and abs(v) > C_INT_MAX:
        return f"{key}={v} does not fit darknet's C int (at most {C_INT_MAX:,})"
    if type_ == "upsample" and key == "stride" and v == 0:
        return "stride=0: darknet multiplies (or, negative, divides) the size by it; use 2 or -2"
    lo, hi = RANGES.get((type_, key), (None, None))
    if lo is not None and v < lo:
        return f"{key}={v}: {_WHY.get(int(lo), f'it must be at least {lo}')}"
    if hi is not None and v > hi:
        return f"{key}={v}: it must be at most {hi}"
    return None


def key_problem(type_: str, key: str, value: Value) -> str | None:
    """Why `key=value` in a `[type_]` section cannot work in darknet, or None."""
    if isinstance(value, tuple):
        for item in value:
            msg = _one(type_, key, item)
            if msg:
                return msg
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _one(type_, key, value)
    return None


_RANGED: dict[str, tuple[str, ...]] = {}
for _t, _k in RANGES:
    _RANGED.setdefault(_t, ())
    _RANGED[_t] += (_k,)
_RANGED["upsample"] = ("stride",)


def check_layer(layer: Layer, index: int | None = None) -> None:
    """Raise CfgError for the first ranged key of `layer` outside darknet's range (a layer built in code;
    the reader has already checked every key of a layer read from text, with the key's own line)."""
    for key in _RANGED.get(layer.type, ()):
        value = layer.get(key)
        if value is None:
            continue
        msg = key_problem(layer.type, key, value)
        if msg:
            where = f"layer {index} [{layer.type}]: " if index is not None else f"[{layer.type}] "
            raise CfgError(layer.line, where + msg)
