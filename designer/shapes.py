"""Shape inference: each layer's input and output (c, h, w) exactly as darknet's make_*_layer computes them.

Rules from ../shared/darknet/NOTES.md (conv: padding = size/2 when pad=1, dilation not in the formula;
maxpool: total padding size-1, window starting at -padding/2; route: channel sum / groups; shortcut: the
previous layer's shape; scale_channels: the from-layer's shape; ...). Where darknet would go on with a
broken network (0x0 route, mis-sized shortcut, yolo filters not matching classes/mask), this raises
CfgError naming the layer's line.

`outputs` is darknet's flat output count. For [softmax] and [cost] darknet leaves out_c/h/w at 0; here c,h,w
keep the input's dims (the tensor a runtime actually produces).
"""

from __future__ import annotations

from typing import NamedTuple

from designer.checks import check_layer
from designer.ir import CfgError, Layer, Network, references
from designer.sections import REFERENCE_KEYS


class Shape(NamedTuple):
    """A layer's input and output dims (immutable; a NamedTuple because thousands are made per sweep)."""

    in_c: int
    in_h: int
    in_w: int
    c: int
    h: int
    w: int
    outputs: int
    sources: tuple[int, ...] = ()  # absolute indices read besides the previous layer (route/shortcut/...)
    inputs: int = 0  # darknet's l.inputs: the previous layer's flat output count (what [connected] reads)

    @property
    def out(self) -> tuple[int, int, int]:
        return self.c, self.h, self.w


class _Ctx:
    __slots__ = ("layer", "index", "c", "h", "w", "inputs")

    def __init__(self, layer: Layer, index: int, prev: tuple[int, int, int, int]):
        self.layer = layer
        self.index = index
        self.c, self.h, self.w, self.inputs = prev

    def fail(self, msg: str) -> CfgError:
        return CfgError(self.layer.line, f"layer {self.index} [{self.layer.type}]: {msg}")

    def need_image(self) -> None:
        if not (self.c and self.h and self.w):
            raise self.fail(f"its input is {self.c}x{self.h}x{self.w}; the layer before must output an image")


def strides(layer: Layer) -> tuple[int, int]:
    """(stride_y, stride_x): stride_x/stride_y override stride."""
    s = int(layer["stride"])
    sx = layer.get("stride_x")
    sy = layer.get("stride_y")
    return (int(sy) if sy is not None else s), (int(sx) if sx is not None else s)


def conv_groups(layer: Layer) -> int:
    """xnor=1 forces groups=1 (parse_convolutional)."""
    return 1 if layer["xnor"] else int(layer["groups"])


def conv_padding(layer: Layer) -> int:
    """parse_convolutional: pad=1 means size/2 (integer division), overriding padding=."""
    return int(layer["size"]) // 2 if layer["pad"] else int(layer["padding"])


def pool_geometry(layer: Layer) -> tuple[int, int, int, int]:
    """(size, stride_y, stride_x, total padding) of [maxpool]/[local_avgpool] with darknet's defaults."""
    sy, sx = strides(layer)
    size = layer.get("size")
    size = int(size) if size is not None else int(layer["stride"])
    padding = layer.get("padding")
    padding = int(padding) if padding is not None else size - 1
    return size, sy, sx, padding


def yolo_masks(layer: Layer) -> tuple[int, ...]:
    mask = layer["mask"]
    return tuple(mask) if mask is not None else tuple(range(int(layer["num"])))


def _conv(x: _Ctx) -> tuple[int, int, int]:
    L = x.layer
    x.need_image()
    if L["antialiasing"]:
        raise x.fail("antialiasing= is not modelled by this tool")
    groups = conv_groups(L)
    if groups < 1 or x.c % groups:
        raise x.fail(f"groups={groups} does not divide its {x.c} input channels")
    if int(L["filters"]) % groups:
        raise x.fail(f"groups={groups} does not divide its {L['filters']} filters (darknet never computes the rest)")
    size = int(L["size"])
    pad = conv_padding(L)
    if int(L["dilation"]) > 1 and size > 1 and not (size % 2 and pad == size // 2):
        raise x.fail(f"dilation={L['dilation']} with size={size} and padding {pad}: darknet's output is scrambled "
                     "unless the size is odd and pad=1 (NOTES.md section 3)")
    sy, sx = strides(L)
    oh = (x.h + 2 * pad - size) // sy + 1
    ow = (x.w + 2 * pad - size) // sx + 1
    if oh <= 0 or ow <= 0:
        raise x.fail(f"a {size}x{size} kernel with padding {pad} does not fit its {x.h}x{x.w} input")
    return int(L["filters"]), oh, ow


def _pool(x: _Ctx) -> tuple[int, int, int]:
    L = x.layer
    x.need_image()
    if L.get("antialiasing"):
        raise x.fail("antialiasing= is not modelled by this tool")
    if L.type == "maxpool" and L["maxpool_depth"]:
        return int(L["out_channels"]), x.h, x.w
    size, sy, sx, padding = pool_geometry(L)
    oh = (x.h + padding - size) // sy + 1
    ow = (x.w + padding - size) // sx + 1
    if oh <= 0 or ow <= 0:
        raise x.fail(f"a {size}x{size} window does not fit its {x.h}x{x.w} input")
    return x.c, oh, ow


def _reorg(x: _Ctx) -> tuple[int, int, int]:
    s = int(x.layer["stride"])
    if x.layer["reverse"]:
        return x.c // (s * s), x.h * s, x.w * s
    if x.h % s or x.w % s:
        raise x.fail(f"stride {s} does not divide its {x.h}x{x.w} input")
    return x.c * s * s, x.h // s, x.w // s


def _upsample(x: _Ctx) -> tuple[int, int, int]:
    s = int(x.layer["stride"])
    if s < 0:
        return x.c, x.h // -s, x.w // -s
    return x.c, x.h * s, x.w * s


def _detection_check(x: _Ctx) -> tuple[int, int, int]:
    L = x.layer
    if L.type in ("yolo", "Gaussian_yolo"):
        per = int(L["classes"]) + (5 if L.type == "yolo" else 9)
        want = len(yolo_masks(L)) * per
        rule = f"len(mask)*(classes+{per - int(L['classes'])})"
    elif L.type == "region":
        want = int(L["num"]) * (int(L["classes"]) + int(L["coords"]) + 1)
        rule = "num*(classes+coords+1)"
    else:
        return x.c, x.h, x.w
    if x.c != want:
        raise x.fail(f"the layer before has {x.c} filters but {rule} = {want}: set filters={want} "
                     f"in the [convolutional] before it")
    return x.c, x.h, x.w


def _check_share(x: _Ctx, network: Network, done: list[Shape]) -> None:
    """share_index reuses another conv's weights (make_convolutional_layer checks they fit)."""
    ref = int(x.layer["share_index"])
    j = ref if ref >= 0 else x.index + ref
    if not 0 <= j < x.index or network.layers[j].type != "convolutional":
        raise x.fail(f"share_index={ref} must name an earlier [convolutional] layer")
    other = network.layers[j]
    mine = (int(x.layer["size"]), int(x.layer["filters"]), x.c // int(x.layer["groups"]))
    theirs = (int(other["size"]), int(other["filters"]), done[j].in_c // int(other["groups"]))
    if mine != theirs:
        raise x.fail(f"share_index={ref}: layer {j} has size, filters, channels/groups {theirs}, this layer "
                     f"{mine}; they must match to share weights")


_SAME = ("dropout", "batchnorm", "normalization", "activation", "empty", "softmax", "cost", "contrastive")


def infer_shapes(network: Network) -> tuple[Shape, ...]:
    """Every layer's input and output shape; raises CfgError where darknet would build a broken net."""
    c, h, w = network.input_shape
    prev = (c, h, w, c * h * w)
    out: list[Shape] = []
    for i, L in enumerate(network.layers):
        check_layer(L, i)  # darknet's per-key ranges (designer/checks.py) before any rule divides by a key
        x = _Ctx(L, i, prev)
        srcs = references(L, i) if L.type in REFERENCE_KEYS else ()
        for s in srcs:
            if not 0 <= s < i:
                raise x.fail(f"refers to layer {s}, which {'does not exist yet' if s >= i else 'is before layer 0'} "
                             f"(valid: 0..{i - 1}, or -1..-{i})" if i else "refers to a layer, but it is the first layer")
        outputs = None
        t = L.type
        if t == "convolutional":
            oc, oh, ow = _conv(x)
            if L.get("share_index") is not None:
                _check_share(x, network, out)
        elif t in ("maxpool", "local_avgpool"):
            oc, oh, ow = _pool(x)
        elif t == "avgpool":
            oc, oh, ow = x.c, 1, 1
        elif t in ("connected", "rnn", "gru", "lstm"):
            if not x.inputs:
                raise x.fail("its input is empty")
            oc, oh, ow = int(L["output"]), 1, 1
        elif t == "local":
            x.need_image()
            size, st = int(L["size"]), int(L["stride"])
            oh = (x.h - (1 if L["pad"] else size)) // st + 1
            ow = (x.w - (1 if L["pad"] else size)) // st + 1
            oc = int(L["filters"])
        elif t in _SAME:
            oc, oh, ow = x.c, x.h, x.w
            outputs = x.inputs
        elif t == "route":
            groups, gid = int(L["groups"]), int(L["group_id"])
            if groups < 1 or not 0 <= gid < groups:
                raise x.fail(f"group_id={gid} is outside 0..{groups - 1}")
            first = out[srcs[0]]
            for s in srcs[1:]:
                if (out[s].h, out[s].w) != (first.h, first.w):
                    raise x.fail(f"its inputs differ in size: layer {srcs[0]} is {first.h}x{first.w}, "
                                 f"layer {s} is {out[s].h}x{out[s].w}")
            oc = sum(out[s].c for s in srcs) // groups
            oh, ow = first.h, first.w
            outputs = sum(out[s].outputs // groups for s in srcs)
        elif t == "shortcut":
            for s in srcs:
                if (out[s].h, out[s].w) != (x.h, x.w):
                    raise x.fail(f"adds layer {s} ({out[s].h}x{out[s].w}) to the previous layer ({x.h}x{x.w}): "
                                 "shortcut inputs must have the same width and height")
            oc, oh, ow = x.c, x.h, x.w
        elif t == "scale_channels":
            src = out[srcs[0]]
            if L["scale_wh"]:
                if (x.c, x.h, x.w) != (1, src.h, src.w):
                    raise x.fail(f"scale_wh=1 needs the previous layer to be {src.h}x{src.w}x1, it is "
                                 f"{x.h}x{x.w}x{x.c}")
            elif (x.h, x.w) != (1, 1) or x.c != src.c:
                raise x.fail(f"the previous layer must be 1x1x{src.c} (one gate per channel of layer {srcs[0]}), "
                             f"it is {x.h}x{x.w}x{x.c}")
            oc, oh, ow = src.c, src.h, src.w
        elif t == "sam":
            src = out[srcs[0]]
            if (x.c, x.h, x.w) != (src.c, src.h, src.w):
                raise x.fail(f"the previous layer ({x.c}x{x.h}x{x.w}) and layer {srcs[0]} "
                             f"({src.c}x{src.h}x{src.w}) must have the same shape")
            oc, oh, ow = src.c, src.h, src.w
        elif t == "upsample":
            x.need_image()
            oc, oh, ow = _upsample(x)
        elif t in ("reorg", "reorg3d"):
            x.need_image()
            oc, oh, ow = _reorg(x)
        elif t in ("yolo", "Gaussian_yolo", "region", "detection"):
            oc, oh, ow = _detection_check(x)
            outputs = x.inputs
        elif t == "crop":
            oc, oh, ow = x.c, int(L["crop_height"]), int(L["crop_width"])
        else:
            raise x.fail(f"[{t}] is read, but its shapes are not modelled by this tool")
        if outputs is None:
            outputs = oc * oh * ow
        shape = Shape(x.c, x.h, x.w, oc, oh, ow, outputs, srcs, x.inputs)
        out.append(shape)
        prev = (oc, oh, ow, outputs)
    return tuple(out)
