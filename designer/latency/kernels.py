"""A network as the kernels a backend runs, each with the shape features its time depends on.

A kernel is one step of the runtime: one darknet layer, or a fused span (designer.spans) where the
backend runs the optimised build (torch inference and the ONNX models exported from it: MixConv spans as one
grouped conv with every kernel zero-padded to the largest, squeeze-excite spans as one module). A training step
runs the plain build, so there every layer is its own kernel. Per-layer timings of every backend are keyed the
same way (the first darknet layer of the step: runtime.bench's LayerTime.index, the ONNX node names' L<first>),
which is how calibration pairs a measured time with the kernel here.

Each kernel has a `kind` (which regression model predicts it: "conv", "conv1x1", "dwconv", "gconv", "gconv1x1",
"mixconv", "gmixconv", "squeeze_excite", or the darknet layer type; _conv_kind says why convs split so) and
features in FEATURES order, counted for the whole batch:
    fma      multiply-adds the kernel runs (a padded MixConv runs its zero taps too, so more than designer.count's)
    in, out, weights   elements read, written, and weights (bytes moved = element size x their sum)
    act      output elements times the activation's relative cost (0 linear, 1 relu-like, 2 exp/tanh-based)
    k, stride, cpg, groups, out_c, out_hw   kernel size (largest), stride, input channels per group, groups,
             output channels, output pixels
    vfma     multiply-adds with each group's output channels rounded up to VECTOR_LANES (a conv's), else fma
    lanes    a grouped (not depthwise) conv's channel alignment: the largest of 1, 2, 4, 8, 16 that divides both
             its input and its output channels per group; BLOCK_LANES for every other kernel
Torch-free; computed from designer.infer_shapes and designer.count, which the counts already need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from designer.cost import Cost
from designer.ir import Network, layer_inputs
from designer.shapes import Shape, conv_groups, conv_padding, strides
from designer.spans import FusedSpan, fused_spans

FEATURES = ("fma", "in", "out", "weights", "act", "k", "stride", "cpg", "groups", "out_c", "out_hw", "vfma", "lanes")
# CPU conv kernels (oneDNN's) block each group's output channels by the vector width, 8 fp32 lanes on AVX2 (16 on
# AVX-512, where the regressors' trees, which see channels per group, learn the other half-step): a grouped conv
# of 2 output channels per group runs the multiply-adds of 8, which is why it costs several times a depthwise one.
VECTOR_LANES = 8
# oneDNN's fast grouped-conv kernels block channels per group by 16 (AVX-512) or 8; channels per group that no such
# block divides take slower code. Measured on this project's AVX-512 CPU (2026-12-04, 1 thread, torch and OpenVINO
# alike): grouped 3x3-11x11 convs ran about 50 GFMA/s with 16 | channels per group, 40 with 8, 16-27 with 4 and
# 5-20 with neither (a MixConv split of 12 or 19 channels per group), which neither FMA nor vfma carries; the
# trees read the alignment from `lanes`, and on a GPU it is one more feature they may ignore.
BLOCK_LANES = 16
# Activations built from exp / tanh / erf cost a few times a max(): relative cost 2; linear 0; the rest 1.
_COSTLY_ACTIVATIONS = frozenset(
    {
        "swish",
        "mish",
        "hard_mish",
        "gelu",
        "elu",
        "selu",
        "tanh",
        "logistic",
        "loggy",
        "plse",
        "lhtan",
        "normalize_channels",
        "normalize_channels_softmax",
        "normalize_channels_softmax_maxval",
    }
)
NOT_RUN = frozenset({"cost"})  # no runtime runs these in inference (darknet's output is the layer before)


@dataclass(frozen=True)
class Kernel:
    """One step of the runtime: IR layers first..last, the model that predicts it, its features, counted FMA."""

    first: int
    last: int
    kind: str
    label: str  # what per-layer timings call it: the darknet type, "mixconv" or "squeeze_excite"
    features: tuple[float, ...]  # in FEATURES order
    fma: int  # designer.count's multiply-adds of layers first..last, for the batch (the FMA share)


def activation_cost(name: str | None) -> float:
    if not name or name == "linear":
        return 0.0
    return 2.0 if name in _COSTLY_ACTIVATIONS else 1.0


def _depthwise(groups: float, cpg: float, out_c: float) -> bool:
    """One input and one output channel per group: the kernel vectorises across channels, not within a group."""
    return groups > 1 and cpg == 1 and out_c == groups


def _conv_kind(groups: float, size: float, cpg: float, out_c: float) -> str:
    """dense, depthwise or grouped; 1x1 or larger: kinds whose time per multiply-add differs by up to 10x, and
    that the runtimes run with different kernels: a depthwise conv vectorises across channels, a grouped one with
    a few channels per group runs a small matrix product per group (oneDNN's and OpenVINO's brgconv), whose fixed
    cost per group and row no FMA or bytes feature carries. One regression over both regimes fits neither
    (docs/performance.md has the measurement)."""
    if groups == 1:
        return "conv1x1" if size == 1 else "conv"
    if _depthwise(groups, cpg, out_c):
        return "dwconv"
    return "gconv1x1" if size == 1 else "gconv"


def _elements(s: Shape) -> int:
    return s.c * s.h * s.w if s.c * s.h * s.w else s.outputs


def _read_elements(network: Network, shapes: tuple[Shape, ...], i: int) -> int:
    """Elements layer i reads: each input it takes (the network input for layer 0)."""
    total = 0
    for r in layer_inputs(network.layers[i], i):
        if r < 0:
            c, h, w = network.input_shape
            total += c * h * w
        else:
            total += _elements(shapes[r])
    return total


def _layer_features(network: Network, shapes: tuple[Shape, ...], cost: Cost, i: int) -> dict[str, float]:
    layer, s = network.layers[i], shapes[i]
    out = _elements(s)
    f = {
        "fma": float(cost.layers[i].fma),
        "in": float(_read_elements(network, shapes, i)),
        "out": float(out),
        "weights": float(cost.layers[i].params),
        "act": out * activation_cost(layer.get("activation")),
        "k": 1.0,
        "stride": 1.0,
        "cpg": float(s.in_c),
        "groups": 1.0,
        "out_c": float(s.c),
        "out_hw": float(s.h * s.w),
        "lanes": float(BLOCK_LANES),
    }
    f["vfma"] = f["fma"]
    if layer.type in ("convolutional", "maxpool", "local_avgpool"):
        f["k"] = float(layer.get("size", 1))
        f["stride"] = float(max(strides(layer)))
    if layer.type == "convolutional":
        g = conv_groups(layer)
        f["groups"], f["cpg"] = float(g), float(s.in_c // max(1, g))
        f["vfma"] = _vector_fma(g, s.c, f["cpg"], f["k"], s.h * s.w)
        f["lanes"] = _lanes(g, f["cpg"], s.c)
    return f


def _lanes(groups: float, cpg: float, out_c: float) -> float:
    """A grouped conv's channel alignment (largest power of two up to BLOCK_LANES dividing both its input and its
    output channels per group); BLOCK_LANES for a dense or depthwise conv, which no per-group block constrains."""
    if groups <= 1 or _depthwise(groups, cpg, out_c):
        return float(BLOCK_LANES)
    return float(math.gcd(int(cpg), int(out_c) // max(1, int(groups)), BLOCK_LANES))


def _vector_fma(groups: float, out_c: float, cpg: float, k: float, out_hw: float) -> float:
    """A conv's multiply-adds with each group's output channels rounded up to VECTOR_LANES; a depthwise conv's
    (one channel in and out per group) as they are, its kernel vectorises across the channels instead."""
    if _depthwise(groups, cpg, out_c):
        return float(out_c * k * k * out_hw)
    per_group = math.ceil(out_c / max(1.0, groups) / VECTOR_LANES) * VECTOR_LANES
    return float(groups * per_group * cpg * k * k * out_hw)


def _padded(network: Network, span: FusedSpan) -> bool:
    """Whether runtime.optimize.mixconv.padded_conv can make one grouped conv of the span (same stride, odd square
    kernels with 'same' padding, equal channels per group, one activation): else it runs split."""
    convs = [network.layers[c] for c in span.convs]
    return (
        len({(int(c["filters"]), conv_groups(c), strides(c), str(c["activation"])) for c in convs}) == 1
        and len({conv_padding(c) - int(c["size"]) // 2 for c in convs}) == 1
        and all(int(c["size"]) % 2 == 1 and int(c["dilation"]) == 1 for c in convs)
    )


def _span_features(network: Network, shapes: tuple[Shape, ...], cost: Cost, span: FusedSpan) -> dict[str, float]:
    src, last = shapes[span.source], shapes[span.last]
    parts = [_layer_features(network, shapes, cost, c) for c in span.convs]
    f = {
        "fma": sum(p["fma"] for p in parts),
        "in": float(_elements(src)),
        "out": float(_elements(last)),
        "weights": sum(p["weights"] for p in parts),
        "act": sum(p["act"] for p in parts),
        "k": 1.0,
        "stride": 1.0,
        "cpg": 1.0,
        "groups": 1.0,
        "out_c": float(last.c),
        "out_hw": float(last.h * last.w),
        "vfma": sum(p["vfma"] for p in parts),
        "lanes": float(BLOCK_LANES),
    }
    if span.kind == "mixconv":
        convs = [network.layers[c] for c in span.convs]
        kmax = max(int(c["size"]) for c in convs)
        cpg = parts[0]["cpg"]
        f.update(k=float(kmax), stride=parts[0]["stride"], cpg=cpg, groups=sum(p["groups"] for p in parts))
        f["lanes"] = min(p["lanes"] for p in parts)  # split or padded, the least aligned part sets the pace
        if _padded(network, span):  # one grouped conv, every kernel padded to kmax: its zero taps run too
            f["fma"] = float(last.c * cpg * kmax * kmax * last.h * last.w)
            f["weights"] = float(last.c * cpg * kmax * kmax + last.c)
            f["vfma"] = _vector_fma(f["groups"], last.c, cpg, kmax, last.h * last.w)
    else:  # squeeze-excite: pool and scale stream X twice; the two 1x1 convs are matrix-vector products
        f["in"] = 2.0 * _elements(src)
        f["act"] += _elements(last) * activation_cost(network.layers[span.last].get("activation"))
        f["out_c"] = float(shapes[span.convs[0]].c)  # the squeezed width
    return f


def default_outputs(network: Network, backend: str) -> tuple[int, ...]:
    """The layers the model returns: every [yolo] in an exported detector (runtime.deploy.onnx_export), else
    darknet's output, the last layer that is not [cost] (runtime.model.default_outputs)."""
    yolo = tuple(i for i, L in enumerate(network.layers) if L.type == "yolo")
    if backend != "torch" and yolo:
        return yolo
    last = max((i for i, L in enumerate(network.layers) if L.type not in NOT_RUN), default=len(network.layers) - 1)
    return (last,)


def kernels(
    network: Network,
    shapes: tuple[Shape, ...],
    cost: Cost,
    *,
    fused: bool,
    batch: int = 1,
    backend: str = "torch",
    upto: int | None = None,
) -> tuple[Kernel, ...]:
    """The steps a backend runs for `network`, in order: fused spans as one kernel when `fused` (the optimised
    build), every other layer alone; [cost] layers are left out, and layers after `upto` (a training step stops
    at the logits). Features and FMA are for `batch` images."""
    outputs = (upto,) if upto is not None else default_outputs(network, backend)
    spans = fused_spans(network, shapes, outputs) if fused else {}
    end = len(network.layers) if upto is None else upto + 1
    out: list[Kernel] = []
    i = 0
    while i < end:
        span = spans.get(i)
        if span is not None:
            f = _span_features(network, shapes, cost, span)
            first, last, kind = span.first, span.last, span.kind
            label = kind
            if kind == "mixconv" and not _depthwise(f["groups"], f["cpg"], f["out_c"]):  # as _conv_kind
                kind = "gmixconv"
        else:
            layer = network.layers[i]
            first = last = i
            if layer.type in NOT_RUN:
                i += 1
                continue
            f = _layer_features(network, shapes, cost, i)
            kind = layer.type
            if layer.type == "convolutional":
                kind = _conv_kind(f["groups"], f["k"], f["cpg"], f["out_c"])
            label = layer.type
        scale = {"fma", "in", "out", "act", "vfma"}
        feats = tuple(f[n] * batch if n in scale else f[n] for n in FEATURES)
        fma = sum(c.fma for c in cost.layers[first : last + 1]) * batch
        out.append(Kernel(first, last, kind, label, feats, fma))
        i = last + 1
    return tuple(out)
