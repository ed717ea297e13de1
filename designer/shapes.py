"""Shape inference: each layer's input and output (c, h, w) exactly as darknet's make_*_layer computes them.

Rules from ../shared/darknet/NOTES.md (conv: padding = size/2 when pad=1, dilation not in the formula;
maxpool: total padding size-1, window starting at -padding/2; route: channel sum / groups; shortcut: the
previous layer's shape; scale_channels: the from-layer's shape; ...). Where darknet would go on with a
broken network (0x0 route, mis-sized shortcut, yolo filters not matching classes/mask), this raises
CfgError naming the layer's line.

`outputs` is darknet's flat output count. For [softmax] and [cost] darknet leaves out_c/h/w at 0; here c,h,w
keep the input's dims (the tensor a runtime actually produces). Likewise a layer with `antialiasing=` runs at
stride 1 and darknet's struct out_w/out_h are those stride-1 dims, but its output buffer holds the blurred,
strided map (make_convolutional_layer / make_maxpool_layer: the `input_layer` blur conv), which is what the next
layer reads and what c,h,w,outputs say here.

What differs per layer type is one table, `SHAPE_RULES` (type -> rule), fvcore-style; cost.py's COST_RULES,
describe.py's DESCRIPTIONS and runtime.model's BUILDERS are keyed the same way (tests/test_layer_tables.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from designer.checks import check_layer
from designer.ir import CfgError, Layer, Network, references, resolve_index


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
    """What a shape rule sees: the layer, its index, its input dims and the shapes computed so far."""

    __slots__ = ("layer", "index", "c", "h", "w", "inputs", "srcs", "done", "network")

    def __init__(
        self,
        layer: Layer,
        index: int,
        prev: tuple[int, int, int, int],
        srcs: tuple[int, ...],
        done: list[Shape],
        network: Network,
    ):
        self.layer = layer
        self.index = index
        self.c, self.h, self.w, self.inputs = prev
        self.srcs = srcs
        self.done = done
        self.network = network

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


def antialias_blur(layer: Layer) -> tuple[int, int] | None:
    """(blur size, blur padding) of the depthwise blur conv darknet adds for `antialiasing=`, or None.

    make_convolutional_layer / make_maxpool_layer: antialiasing=2 is a 2x2 box blur with no padding, any other
    non-zero value a 3x3 [1 2 1]x[1 2 1]/16 blur with padding 1; the host layer runs at stride 1 and the blur
    applies the layer's stride. The blur's weights are constants: not stored in .weights, not trained.
    """
    aa = int(layer.get("antialiasing", 0))
    if not aa:
        return None
    return (2, 0) if aa == 2 else (3, 1)


def conv_host_hw(layer: Layer, h: int, w: int) -> tuple[int, int]:
    """(out_h, out_w) of a convolution before any antialiasing blur (darknet's l.out_h/l.out_w)."""
    size, pad = int(layer["size"]), conv_padding(layer)
    sy, sx = (1, 1) if antialias_blur(layer) else strides(layer)
    return (h + 2 * pad - size) // sy + 1, (w + 2 * pad - size) // sx + 1


def pool_host_hw(layer: Layer, h: int, w: int) -> tuple[int, int]:
    """(out_h, out_w) of [maxpool]/[local_avgpool] before any antialiasing blur."""
    if layer.type == "maxpool" and layer["maxpool_depth"]:
        return h, w
    size, sy, sx, padding = pool_geometry(layer)
    if antialias_blur(layer):
        sy = sx = 1
    return (h + padding - size) // sy + 1, (w + padding - size) // sx + 1


def _blurred(x: _Ctx, c: int, h: int, w: int) -> tuple[int, int, int]:
    """The map after the antialiasing blur (if any) of a host output c x h x w."""
    blur = antialias_blur(x.layer)
    if blur is None:
        return c, h, w
    size, pad = blur
    sy, sx = strides(x.layer)
    oh, ow = (h + 2 * pad - size) // sy + 1, (w + 2 * pad - size) // sx + 1
    if oh <= 0 or ow <= 0:
        raise x.fail(f"the {size}x{size} antialiasing blur does not fit its {h}x{w} map")
    return c, oh, ow


Out = tuple[int, int, int] | tuple[int, int, int, int]  # (c, h, w) or (c, h, w, outputs) where outputs != c*h*w
ShapeRule = Callable[[_Ctx], Out]


def _check_groups(x: _Ctx, groups: int, c_in: int, filters: int, what: str = "") -> None:
    if groups < 1 or c_in % groups:
        raise x.fail(f"groups={groups} does not divide {what}its {c_in} input channels")
    if filters % groups:
        raise x.fail(f"groups={groups} does not divide {what}its {filters} filters (darknet never computes the rest)")


def _conv(x: _Ctx) -> Out:
    L = x.layer
    x.need_image()
    _check_groups(x, conv_groups(L), x.c, int(L["filters"]))
    size = int(L["size"])
    pad = conv_padding(L)
    if int(L["dilation"]) > 1 and size > 1 and not (size % 2 and pad == size // 2):
        raise x.fail(
            f"dilation={L['dilation']} with size={size} and padding {pad}: darknet's output is scrambled "
            "unless the size is odd and pad=1 (NOTES.md section 3)"
        )
    oh, ow = conv_host_hw(L, x.h, x.w)
    if oh <= 0 or ow <= 0:
        raise x.fail(f"a {size}x{size} kernel with padding {pad} does not fit its {x.h}x{x.w} input")
    if L.get("share_index") is not None:
        _check_share(x)
    return _blurred(x, int(L["filters"]), oh, ow)


def _pool(x: _Ctx) -> Out:
    L = x.layer
    x.need_image()
    oh, ow = pool_host_hw(L, x.h, x.w)
    if oh <= 0 or ow <= 0:
        raise x.fail(f"a {pool_geometry(L)[0]}x{pool_geometry(L)[0]} window does not fit its {x.h}x{x.w} input")
    c = int(L["out_channels"]) if L.type == "maxpool" and L["maxpool_depth"] else x.c
    return _blurred(x, c, oh, ow)


def _same_size_convs(x: _Ctx, c_out: int, hidden: tuple[int, ...]) -> Out:
    """[crnn]/[conv_lstm]: gate convs on the input size whose state is fed back at that size, so the conv must keep
    it (make_crnn_layer asserts input_layer.outputs == output_layer.inputs; conv_lstm's W convs would read past
    their state buffer otherwise)."""
    L = x.layer
    x.need_image()
    groups = conv_groups(L)
    _check_groups(x, groups, x.c, hidden[0])
    for c in hidden:
        _check_groups(x, groups, c, c_out, what="the recurrent state's channels: ")
    oh, ow = conv_host_hw(L, x.h, x.w)
    if (oh, ow) != (x.h, x.w):
        raise x.fail(
            f"its {L['size']}x{L['size']} convs with stride {L['stride']} and padding {conv_padding(L)} give "
            f"{oh}x{ow} from {x.h}x{x.w}; the recurrent state needs the same size (stride=1, pad=1, odd size)"
        )
    return c_out, oh, ow


def _crnn(x: _Ctx) -> Out:
    """make_crnn_layer: input conv c->hidden, self conv hidden->hidden, output conv hidden->output."""
    return _same_size_convs(x, int(x.layer["output"]), (int(x.layer["hidden"]),))


def _conv_lstm(x: _Ctx) -> Out:
    """make_conv_lstm_layer: U convs c->output, W convs output->output (bottleneck: one 2*output->output)."""
    n = int(x.layer["output"])
    return _same_size_convs(x, n, (n, 2 * n) if x.layer["bottleneck"] else (n,))


def _history(x: _Ctx) -> Out:
    """make_history_layer: the last history_size inputs stacked along channels."""
    return x.c * int(x.layer["history_size"]), x.h, x.w


def _implicit(x: _Ctx) -> Out:
    """make_implicit_layer: a learned filters x atoms x 1 tensor (out_c=filters, out_h=atoms, out_w=1), no input."""
    return int(x.layer["filters"]), int(x.layer["atoms"]), 1


def _reorg(x: _Ctx) -> Out:
    x.need_image()
    s = int(x.layer["stride"])
    if x.layer["reverse"]:
        return x.c // (s * s), x.h * s, x.w * s
    if x.h % s or x.w % s:
        raise x.fail(f"stride {s} does not divide its {x.h}x{x.w} input")
    return x.c * s * s, x.h // s, x.w // s


def _upsample(x: _Ctx) -> Out:
    x.need_image()
    s = int(x.layer["stride"])
    if s < 0:
        return x.c, x.h // -s, x.w // -s
    return x.c, x.h * s, x.w * s


def _detection(x: _Ctx) -> Out:
    L = x.layer
    if L.type in ("yolo", "Gaussian_yolo"):
        per = int(L["classes"]) + (5 if L.type == "yolo" else 9)
        want = len(yolo_masks(L)) * per
        rule = f"len(mask)*(classes+{per - int(L['classes'])})"
    elif L.type == "region":
        want = int(L["num"]) * (int(L["classes"]) + int(L["coords"]) + 1)
        rule = "num*(classes+coords+1)"
    else:
        return x.c, x.h, x.w, x.inputs
    if x.c != want:
        raise x.fail(
            f"the layer before has {x.c} filters but {rule} = {want}: set filters={want} "
            f"in the [convolutional] before it"
        )
    return x.c, x.h, x.w, x.inputs


def _check_share(x: _Ctx) -> None:
    """share_index reuses another conv's weights (make_convolutional_layer checks they fit)."""
    ref = int(x.layer["share_index"])
    j = resolve_index(ref, x.index)
    if not 0 <= j < x.index or x.network.layers[j].type != "convolutional":
        raise x.fail(f"share_index={ref} must name an earlier [convolutional] layer")
    other = x.network.layers[j]
    mine = (int(x.layer["size"]), int(x.layer["filters"]), x.c // int(x.layer["groups"]))
    theirs = (int(other["size"]), int(other["filters"]), x.done[j].in_c // int(other["groups"]))
    if mine != theirs:
        raise x.fail(
            f"share_index={ref}: layer {j} has size, filters, channels/groups {theirs}, this layer "
            f"{mine}; they must match to share weights"
        )


def _flat(x: _Ctx) -> Out:
    """[connected]/[rnn]/[gru]/[lstm]: read the previous output flattened, give 1x1xoutput."""
    if not x.inputs:
        raise x.fail("its input is empty")
    return int(x.layer["output"]), 1, 1


def _local(x: _Ctx) -> Out:
    L = x.layer
    x.need_image()
    size, st = int(L["size"]), int(L["stride"])
    oh = (x.h - (1 if L["pad"] else size)) // st + 1
    ow = (x.w - (1 if L["pad"] else size)) // st + 1
    return int(L["filters"]), oh, ow


def _same(x: _Ctx) -> Out:
    """Layers whose output is their input's shape (and darknet's flat count)."""
    return x.c, x.h, x.w, x.inputs


def _route(x: _Ctx) -> Out:
    L, out, srcs = x.layer, x.done, x.srcs
    groups, gid = int(L["groups"]), int(L["group_id"])
    if groups < 1 or not 0 <= gid < groups:
        raise x.fail(f"group_id={gid} is outside 0..{groups - 1}")
    first = out[srcs[0]]
    for s in srcs[1:]:
        if (out[s].h, out[s].w) != (first.h, first.w):
            raise x.fail(
                f"its inputs differ in size: layer {srcs[0]} is {first.h}x{first.w}, layer {s} is {out[s].h}x{out[s].w}"
            )
    return sum(out[s].c for s in srcs) // groups, first.h, first.w, sum(out[s].outputs // groups for s in srcs)


def _shortcut(x: _Ctx) -> Out:
    out = x.done
    for s in x.srcs:
        if (out[s].h, out[s].w) != (x.h, x.w):
            raise x.fail(
                f"adds layer {s} ({out[s].h}x{out[s].w}) to the previous layer ({x.h}x{x.w}): "
                "shortcut inputs must have the same width and height"
            )
    return x.c, x.h, x.w


def _scale_channels(x: _Ctx) -> Out:
    src = x.done[x.srcs[0]]
    if x.layer["scale_wh"]:
        if (x.c, x.h, x.w) != (1, src.h, src.w):
            raise x.fail(f"scale_wh=1 needs the previous layer to be {src.h}x{src.w}x1, it is {x.h}x{x.w}x{x.c}")
    elif (x.h, x.w) != (1, 1) or x.c != src.c:
        raise x.fail(
            f"the previous layer must be 1x1x{src.c} (one gate per channel of layer {x.srcs[0]}), "
            f"it is {x.h}x{x.w}x{x.c}"
        )
    return src.c, src.h, src.w


def _sam(x: _Ctx) -> Out:
    src = x.done[x.srcs[0]]
    if (x.c, x.h, x.w) != (src.c, src.h, src.w):
        raise x.fail(
            f"the previous layer ({x.c}x{x.h}x{x.w}) and layer {x.srcs[0]} "
            f"({src.c}x{src.h}x{src.w}) must have the same shape"
        )
    return src.c, src.h, src.w


# layer type -> shape rule (every section type but [net]; tests/test_layer_tables.py keeps it complete)
SHAPE_RULES: dict[str, ShapeRule] = {
    "convolutional": _conv,
    "connected": _flat,
    "local": _local,
    "maxpool": _pool,
    "local_avgpool": _pool,
    "avgpool": lambda x: (x.c, 1, 1),
    "dropout": _same,
    "batchnorm": _same,
    "normalization": _same,
    "softmax": _same,
    "cost": _same,
    "contrastive": _same,
    "route": _route,
    "shortcut": _shortcut,
    "scale_channels": _scale_channels,
    "sam": _sam,
    "upsample": _upsample,
    "yolo": _detection,
    "Gaussian_yolo": _detection,
    "region": _detection,
    "detection": _detection,
    "reorg3d": _reorg,
    "reorg": _reorg,
    "crop": lambda x: (x.c, int(x.layer["crop_height"]), int(x.layer["crop_width"])),
    "activation": _same,
    "rnn": _flat,
    "gru": _flat,
    "lstm": _flat,
    "conv_lstm": _conv_lstm,
    "history": _history,
    "crnn": _crnn,
    "empty": _same,
    "implicit": _implicit,
}


def infer_shapes(network: Network) -> tuple[Shape, ...]:
    """Every layer's input and output shape; raises CfgError where darknet would build a broken net."""
    c, h, w = network.input_shape
    prev = (c, h, w, c * h * w)
    out: list[Shape] = []
    for i, L in enumerate(network.layers):
        check_layer(L, i)  # darknet's per-key ranges (designer/checks.py) before any rule divides by a key
        srcs = references(L, i)
        x = _Ctx(L, i, prev, srcs, out, network)
        for s in srcs:
            if not 0 <= s < i:
                raise x.fail(
                    f"refers to layer {s}, which {'does not exist yet' if s >= i else 'is before layer 0'} "
                    f"(valid: 0..{i - 1}, or -1..-{i})"
                    if i
                    else "refers to a layer, but it is the first layer"
                )
        rule = SHAPE_RULES.get(L.type)
        if rule is None:
            raise x.fail(f"[{L.type}] is read, but its shapes are not modelled by this tool")
        r = rule(x)
        oc, oh, ow = r[:3]
        outputs = r[3] if len(r) == 4 else oc * oh * ow
        out.append(Shape(x.c, x.h, x.w, oc, oh, ow, outputs, srcs, x.inputs))
        prev = (oc, oh, ow, outputs)
    return tuple(out)
