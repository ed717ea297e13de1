"""Parameters and compute of a Darknet network, counted the way darknet and the papers count them.

Counting convention (stated once, used everywhere):
- FMA: one fused multiply-add is ONE operation. Only convolutional, connected and local layers (and the
  connected blocks inside rnn/gru/lstm) have FMAs; BN, biases, activations, pooling, route, shortcut adds and
  SE multiplies count 0. This is the "MACs"/"FLOPs" of the MixNet/EfficientNet papers and timm.
- FLOPs = 2 x FMA.
- Darknet BFLOPs: what darknet prints per layer and in "Total BFLOPS": 2*nweights*out_h*out_w/1e9 per conv
  (divided by 32 for xnor), size^2*C*out_h*out_w/1e9 for maxpool and local_avgpool,
  out_w*out_h*out_c*n_from/1e9 for shortcut (x2 with weights_type), 0 for everything else, [connected]
  included. Each layer's figure is stored as a float32 and the total is a float32 running sum, as in darknet.
- params_stored: the floats the layer occupies in a .weights file (BN rolling mean/variance included).
- params (trainable): params_stored minus the BN rolling mean and variance: PyTorch's `parameters()` count.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from designer.ir import Layer, Network
from designer.shapes import Shape, conv_groups, infer_shapes, pool_geometry


def f32(x: float) -> float:
    """Round to float32, as darknet stores l.bflops (beyond float32's range darknet holds inf)."""
    if abs(x) > 3.4028234663852886e38:
        return float("inf")
    return struct.unpack("f", struct.pack("f", x))[0]


class LayerCost(NamedTuple):
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
        d: dict = {"params": self.params, "params_stored": self.params_stored, "fma": self.fma,
                   "flops": self.flops, "bflops": round(self.bflops, 6)}
        if with_layers:
            d["layers"] = [
                {"index": lc.index, "type": lc.type, "out": list(lc.shape.out), "params": lc.params,
                 "params_stored": lc.params_stored, "fma": lc.fma, "bflops": lc.bflops}
                for lc in self.layers
            ]
        return d


def _connected(n_in: int, n_out: int, bn: bool) -> tuple[int, int, int]:
    """(stored, trainable, fma) of one connected block."""
    stored = n_out + n_in * n_out + (3 * n_out if bn else 0)
    return stored, stored - (2 * n_out if bn else 0), n_in * n_out


_NO_COST = frozenset({"route", "avgpool", "dropout", "scale_channels", "softmax", "cost", "upsample", "yolo",
                      "region", "reorg", "reorg3d", "sam", "crop", "activation", "empty", "normalization"})


def layer_cost(L: Layer, s: Shape, index: int) -> LayerCost:
    t = L.type
    if t in _NO_COST:
        return LayerCost(index, t, s, 0, 0, 0, 0.0)
    stored = trainable = fma = 0
    bflops = 0.0
    if t == "convolutional":
        groups = conv_groups(L)
        n = int(L["filters"])
        size = int(L["size"])
        nweights = (s.in_c // groups) * n * size * size
        bn = bool(L["batch_normalize"] or L["cbn"])
        fma = nweights * s.h * s.w
        bflops = f32(2.0 * nweights * s.h * s.w / 1e9)
        if L["xnor"]:
            bflops = f32(bflops / 32)
        if L.get("share_index") is None:
            trainable = n + nweights + (n if bn else 0)
            # the BN triple is stored unless dontloadscales=1 (load_convolutional_weights skips it then)
            stored = n + nweights + (3 * n if bn and not L["dontloadscales"] else 0)
    elif t == "connected":
        stored, trainable, fma = _connected(s.inputs, int(L["output"]), bool(L["batch_normalize"]))
    elif t == "local":
        locations = s.h * s.w
        nw = locations * int(L["size"]) ** 2 * s.in_c * int(L["filters"])
        stored = trainable = nw + s.outputs
        fma = nw
    elif t in ("maxpool", "local_avgpool"):
        if not (t == "maxpool" and L["maxpool_depth"]):
            size = pool_geometry(L)[0]
            bflops = f32(size * size * s.in_c * s.h * s.w / 1e9)
    elif t == "shortcut":
        n_from = len(L["from"])
        bflops = f32(s.w * s.h * s.c * n_from / 1e9)
        wt = L["weights_type"]
        if wt != "none":
            bflops = f32(bflops * 2)
            stored = trainable = (n_from + 1) * (s.c if wt == "per_channel" else 1)
    elif t == "batchnorm":
        stored, trainable = 4 * s.c, 2 * s.c
    elif t in ("rnn", "gru", "lstm"):
        n_in, n_out, bn = s.inputs, int(L["output"]), bool(L["batch_normalize"])
        if t == "rnn":
            hidden = int(L["hidden"])
            blocks = [(n_in, hidden), (hidden, hidden), (hidden, n_out)]
        else:
            k = 3 if t == "gru" else 4
            blocks = [(n_in, n_out)] * k + [(n_out, n_out)] * k
        for a, b in blocks:
            st, tr, f = _connected(a, b, bn)
            stored, trainable, fma = stored + st, trainable + tr, fma + f
    if L.get("dontload"):
        stored = 0
    return LayerCost(index, t, s, stored, trainable, fma, bflops)


def count(network: Network) -> Cost:
    """Per-layer and total params, FMA and darknet BFLOPs. Raises CfgError where shapes are invalid."""
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
