"""Parameters and compute of a Darknet network, counted the way darknet and the papers count them.

Counting convention (stated once, used everywhere):
- FMA: one fused multiply-add is ONE operation. Only convolutional, connected and local layers (and the
  connected blocks inside rnn/gru/lstm, the convs inside crnn/conv_lstm, the antialiasing blur conv) have FMAs;
  BN, biases, activations, pooling, route, shortcut adds, SE multiplies and the conv_lstm gate arithmetic count
  0. This is the "MACs"/"FLOPs" of the MixNet/EfficientNet papers and timm.
- FLOPs = 2 x FMA.
- Darknet BFLOPs: what darknet prints per layer and in "Total BFLOPS": 2*nweights*out_h*out_w/1e9 per conv
  (divided by 32 for xnor; under antialiasing= at the host's stride-1 size, the blur conv not counted),
  size^2*C*out_h*out_w/1e9 for maxpool and local_avgpool, out_w*out_h*out_c*n_from/1e9 for shortcut (x2 with
  weights_type), the sum of the inner convs for crnn (plus 9 or 12 x outputs/1e9 for conv_lstm's gates), 0 for
  everything else, [connected] included. Each layer's figure is stored as a float32 and the total is a float32 running sum, as in darknet.
- params_stored: the floats the layer occupies in a .weights file (BN rolling mean/variance included).
- params (trainable): params_stored minus the BN rolling mean and variance: PyTorch's `parameters()` count.

What differs per layer type is one table, `COST_RULES` (type -> rule), keyed like shapes.SHAPE_RULES.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from designer.ir import Layer, Network
from designer.shapes import Shape, antialias_blur, conv_groups, conv_host_hw, infer_shapes, pool_geometry, pool_host_hw


def f32(x: float) -> float:
    """Round to float32, as darknet stores l.bflops (beyond float32's range darknet holds inf)."""
    if abs(x) > 3.4028234663852886e38:
        return float("inf")
    return struct.unpack("f", struct.pack("f", x))[0]


@dataclass(frozen=True)
class LayerCost:
    index: int
    type: str
    shape: Shape
    params_stored: int
    params: int  # trainable
    fma: int
    bflops: float  # darknet's figure (float32)


@dataclass(frozen=True)
class Cost:
    layers: tuple[LayerCost, ...]
    params_stored: int
    params: int
    fma: int
    bflops: float  # float32 running sum, as darknet's "Total BFLOPS"

    @property
    def flops(self) -> int:
        return 2 * self.fma

    @property
    def bflops_printed(self) -> str:
        return f"{self.bflops:5.3f}"

    def to_json(self, with_layers: bool = True) -> dict:
        d: dict = {
            "params": self.params,
            "params_stored": self.params_stored,
            "fma": self.fma,
            "flops": self.flops,
            "bflops": round(self.bflops, 6),
        }
        if with_layers:
            d["layers"] = [
                {
                    "index": lc.index,
                    "type": lc.type,
                    "out": list(lc.shape.out),
                    "params": lc.params,
                    "params_stored": lc.params_stored,
                    "fma": lc.fma,
                    "bflops": lc.bflops,
                }
                for lc in self.layers
            ]
        return d


def _connected(n_in: int, n_out: int, bn: bool) -> tuple[int, int, int]:
    """(stored, trainable, fma) of one connected block."""
    stored = n_out + n_in * n_out + (3 * n_out if bn else 0)
    return stored, stored - (2 * n_out if bn else 0), n_in * n_out


class Sub(NamedTuple):
    """One darknet convolution inside a layer: make_convolutional_layer's nweights, out_h*out_w and its figures."""

    stored: int
    trainable: int
    fma: int
    bflops: float  # float32, as l.bflops


def _sub_conv(
    c_in: int, n: int, size: int, groups: int, hw: int, bn: bool, xnor: bool = False, load_scales: bool = True
) -> Sub:
    """make_convolutional_layer: nweights = (c/groups)*n*size^2 (xnor forces groups=1), l.bflops =
    2*nweights*out_h*out_w/1e9 (/32 for xnor); load_convolutional_weights stores biases, the BN triple (unless
    dontloadscales) and the weights."""
    nweights = (c_in // (1 if xnor else groups)) * n * size * size
    bflops = f32(2.0 * nweights * hw / 1e9)
    if xnor:
        bflops = f32(bflops / 32)
    return Sub(
        n + nweights + (3 * n if bn and load_scales else 0), n + nweights + (n if bn else 0), nweights * hw, bflops
    )


# What a cost rule returns: (params_stored, params trainable, fma, darknet bflops).
Figures = tuple[int, int, int, float]
CostRule = Callable[[Layer, Shape], Figures]
_ZERO: Figures = (0, 0, 0, 0.0)


def _none(L: Layer, s: Shape) -> Figures:
    return _ZERO


def _blur_fma(L: Layer, s: Shape) -> int:
    """Multiply-adds of the antialiasing blur (a depthwise conv on the output channels), 0 without one."""
    blur = antialias_blur(L)
    return s.c * blur[0] * blur[0] * s.h * s.w if blur else 0


def _conv(L: Layer, s: Shape) -> Figures:
    """BFLOPs from the host conv at its own (stride-1 under antialiasing) output size; darknet's total leaves the
    blur's out, FMA counts it."""
    host_h, host_w = conv_host_hw(L, s.in_h, s.in_w)
    bn = bool(L["batch_normalize"] or L["cbn"])
    sub = _sub_conv(
        s.in_c,
        int(L["filters"]),
        int(L["size"]),
        conv_groups(L),
        host_h * host_w,
        bn,
        bool(L["xnor"]),
        load_scales=not L["dontloadscales"],
    )
    if L.get("share_index") is not None:  # the weights live in the shared layer
        return 0, 0, sub.fma + _blur_fma(L, s), sub.bflops
    return sub.stored, sub.trainable, sub.fma + _blur_fma(L, s), sub.bflops


def _recurrent_convs(L: Layer, s: Shape, convs: list[tuple[int, int]]) -> tuple[int, int, int, float]:
    """Sum of same-size sub-convs (c_in, n) of [crnn]/[conv_lstm]; BFLOPs summed in float32 in darknet's order."""
    size, groups, bn, xnor = int(L["size"]), conv_groups(L), bool(L["batch_normalize"]), bool(L["xnor"])
    stored = trainable = fma = 0
    bflops = 0.0
    for c_in, n in convs:
        sub = _sub_conv(c_in, n, size, groups, s.h * s.w, bn, xnor)
        stored, trainable, fma, bflops = (
            stored + sub.stored,
            trainable + sub.trainable,
            fma + sub.fma,
            f32(bflops + sub.bflops),
        )
    return stored, trainable, fma, bflops


def _crnn(L: Layer, s: Shape) -> Figures:
    """make_crnn_layer: input (c->hidden), self (hidden->hidden), output (hidden->output) convs; l.bflops is their
    sum; save_weights writes the three convs in that order."""
    hidden, n = int(L["hidden"]), int(L["output"])
    return _recurrent_convs(L, s, [(s.in_c, hidden), (hidden, hidden), (hidden, n)])


def _conv_lstm(L: Layer, s: Shape) -> Figures:
    """make_conv_lstm_layer: U convs uf,ui,ug,uo (c->n); W convs wf,wi,wg,wo (n->n), or only wf (2n->n) with
    bottleneck=1; V convs vf,vi,vo (n->n) only with peephole=1. l.bflops = the float32 sum in the order
    uf..uo, wf..wo, vf..vo, plus (12 if peephole else 9)*outputs*batch/1e9 (batch 1) for the gate arithmetic."""
    n, c = int(L["output"]), s.in_c
    w = [(2 * n, n)] if L["bottleneck"] else [(n, n)] * 4
    v = [(n, n)] * 3 if L["peephole"] else []
    stored, trainable, fma, bflops = _recurrent_convs(L, s, [(c, n)] * 4 + w + v)
    return stored, trainable, fma, f32(bflops + (12 if L["peephole"] else 9) * s.outputs / 1e9)


def _connected_rule(L: Layer, s: Shape) -> Figures:
    stored, trainable, fma = _connected(s.inputs, int(L["output"]), bool(L["batch_normalize"]))
    return stored, trainable, fma, 0.0


def _local(L: Layer, s: Shape) -> Figures:
    nw = s.h * s.w * int(L["size"]) ** 2 * s.in_c * int(L["filters"])
    return nw + s.outputs, nw + s.outputs, nw, 0.0


def _pool(L: Layer, s: Shape) -> Figures:
    """make_maxpool_layer: size^2*C*out_h*out_w/1e9 at the host (stride-1 under antialiasing) size."""
    if L.type == "maxpool" and L["maxpool_depth"]:
        return 0, 0, _blur_fma(L, s), 0.0
    host_h, host_w = pool_host_hw(L, s.in_h, s.in_w)
    size = pool_geometry(L)[0]
    return 0, 0, _blur_fma(L, s), f32(size * size * s.in_c * host_h * host_w / 1e9)


def _shortcut(L: Layer, s: Shape) -> Figures:
    n_from = len(L["from"])
    bflops = f32(s.w * s.h * s.c * n_from / 1e9)
    wt = L["weights_type"]
    if wt == "none":
        return 0, 0, 0, bflops
    n = (n_from + 1) * (s.c if wt == "per_channel" else 1)
    return n, n, 0, f32(bflops * 2)


def _rnn_family(L: Layer, s: Shape) -> Figures:
    n_in, n_out, bn = s.inputs, int(L["output"]), bool(L["batch_normalize"])
    if L.type == "rnn":
        hidden = int(L["hidden"])
        blocks = [(n_in, hidden), (hidden, hidden), (hidden, n_out)]
    else:
        k = 3 if L.type == "gru" else 4
        blocks = [(n_in, n_out)] * k + [(n_out, n_out)] * k
    stored = trainable = fma = 0
    for a, b in blocks:
        st, tr, f = _connected(a, b, bn)
        stored, trainable, fma = stored + st, trainable + tr, fma + f
    return stored, trainable, fma, 0.0


def _implicit(L: Layer, s: Shape) -> Figures:
    """make_implicit_layer: nweights = filters*atoms, all stored (load_implicit_weights) and trained."""
    return s.outputs, s.outputs, 0, 0.0


# layer type -> cost rule (every section type but [net]; tests/test_layer_tables.py keeps it complete)
COST_RULES: dict[str, CostRule] = {
    "convolutional": _conv,
    "connected": _connected_rule,
    "local": _local,
    "maxpool": _pool,
    "local_avgpool": _pool,
    "shortcut": _shortcut,
    "batchnorm": lambda L, s: (4 * s.c, 2 * s.c, 0, 0.0),
    "rnn": _rnn_family,
    "gru": _rnn_family,
    "lstm": _rnn_family,
    "crnn": _crnn,
    "conv_lstm": _conv_lstm,
    "implicit": _implicit,
    **{
        t: _none
        for t in (
            "route",
            "avgpool",
            "dropout",
            "scale_channels",
            "softmax",
            "cost",
            "contrastive",
            "upsample",
            "yolo",
            "Gaussian_yolo",
            "region",
            "detection",
            "reorg",
            "reorg3d",
            "sam",
            "crop",
            "activation",
            "empty",
            "normalization",
            "history",
        )
    },
}


def layer_cost(L: Layer, s: Shape, index: int) -> LayerCost:
    stored, trainable, fma, bflops = COST_RULES[L.type](L, s)
    if L.get("dontload"):
        stored = 0
    return LayerCost(index, L.type, s, stored, trainable, fma, bflops)


def count(network: Network, shapes: tuple[Shape, ...] | None = None) -> Cost:
    """Per-layer and total params, FMA and darknet BFLOPs. Raises CfgError where shapes are invalid.

    `shapes`: infer_shapes(network) when the caller has it already (shapes are computed once per network)."""
    if shapes is None:
        shapes = infer_shapes(network)
    layers = tuple(layer_cost(L, s, i) for i, (L, s) in enumerate(zip(network.layers, shapes)))
    total = 0.0
    for lc in layers:
        total = f32(total + lc.bflops)
    return Cost(
        layers,
        params_stored=sum(lc.params_stored for lc in layers),
        params=sum(lc.params for lc in layers),
        fma=sum(lc.fma for lc in layers),
        bflops=total,
    )
