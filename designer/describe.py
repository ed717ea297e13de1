"""One line of text per darknet layer: what it computes, with references as written and as resolved.

One table, `DESCRIPTIONS` (layer type -> detail text), used by the CLI's per-layer table (`mixdesign stats
--layers`, which shows the type in its own column) and by the app's graph and layer table (`describe`, which
puts a short type name in front). Keyed like shapes.SHAPE_RULES and cost.COST_RULES
(tests/test_layer_tables.py).
"""

from __future__ import annotations

from collections.abc import Callable

from designer.ir import Layer, layer_refs
from designer.shapes import conv_groups, pool_geometry, yolo_masks

Detail = Callable[[Layer, int], str]


def refs_text(layer: Layer, index: int) -> str:
    """`layers=-7,-5 (= L19,21)`: the references as written, then the absolute layers they resolve to."""
    refs = layer_refs(layer, index)
    if not refs:
        return ""
    return f"{refs[0].key}={','.join(str(r.written) for r in refs)} (= L{','.join(str(r.absolute) for r in refs)})"


def _kernel(layer: Layer) -> str:
    stride = int(layer["stride"])
    sx, sy = layer.get("stride_x"), layer.get("stride_y")
    st = f"{sx if sx is not None else stride}x{sy if sy is not None else stride}" if sx or sy else str(stride)
    return f"{layer['size']}x{layer['size']}/{st}"


def _conv(layer: Layer, index: int) -> str:
    parts = [_kernel(layer), f"{layer['filters']}f"]
    if conv_groups(layer) > 1:
        parts.append(f"groups={conv_groups(layer)}")
    if int(layer["dilation"]) > 1:
        parts.append(f"dilation={layer['dilation']}")
    if layer["batch_normalize"] or layer["cbn"]:
        parts.append("bn")
    if layer["xnor"]:
        parts.append("xnor")
    if layer["antialiasing"]:
        parts.append(f"antialiasing={layer['antialiasing']}")
    if layer.get("share_index") is not None:
        parts.append(f"share_index={layer['share_index']}")
    return " ".join(parts + [str(layer["activation"])])


def _route(layer: Layer, index: int) -> str:
    txt = refs_text(layer, index)
    if int(layer["groups"]) > 1:
        txt += f" groups={layer['groups']} id={layer['group_id']}"
    return txt


def _shortcut(layer: Layer, index: int) -> str:
    txt = refs_text(layer, index)
    if layer["weights_type"] != "none":
        txt += f" weights={layer['weights_type']}/{layer['weights_normalization']}"
    return txt + ("" if layer["activation"] == "linear" else f" {layer['activation']}")


def _pool(layer: Layer, index: int) -> str:
    if layer.type == "maxpool" and layer["maxpool_depth"]:
        return f"depth -> {layer['out_channels']} channels"
    size, sy, sx, _ = pool_geometry(layer)
    txt = f"{size}x{size}/{sx if sx == sy else f'{sx}x{sy}'}"
    return txt + (f" antialiasing={layer['antialiasing']}" if layer.get("antialiasing") else "")


def _recurrent_conv(layer: Layer, index: int) -> str:
    hidden = f" hidden={layer['hidden']}" if layer.type == "crnn" else ""
    extra = "".join(f" {k}" for k in ("peephole", "bottleneck") if layer.get(k))
    bn = " bn" if layer["batch_normalize"] else ""
    return f"{_kernel(layer)} {layer['output']}f{hidden}{extra}{bn} {layer['activation']}"


def _key(fmt: str) -> Detail:
    """A detail made of the layer's keys, e.g. _key('p={probability}')."""
    return lambda layer, index: fmt.format(**dict(layer.params))


def _masks(layer: Layer, index: int) -> str:
    return f"classes={layer['classes']} mask={','.join(str(m) for m in yolo_masks(layer))}"


def _nothing(layer: Layer, index: int) -> str:
    return ""


# layer type -> detail text (every section type but [net]; tests/test_layer_tables.py keeps it complete)
DESCRIPTIONS: dict[str, Detail] = {
    "convolutional": _conv,
    "connected": _key("{output} {activation}"),
    "local": _key("{size}x{size}/{stride} {filters}f {activation}"),
    "maxpool": _pool,
    "local_avgpool": _pool,
    "avgpool": lambda layer, index: "(global)",
    "dropout": _key("p={probability}"),
    "batchnorm": _nothing,
    "normalization": _key("size={size}"),
    "softmax": lambda layer, index: f"groups={layer['groups']}" if int(layer["groups"]) > 1 else "",
    "cost": _key("{type}"),
    "contrastive": _key("classes={classes}"),
    "route": _route,
    "shortcut": _shortcut,
    "scale_channels": lambda layer, index: refs_text(layer, index) + (" wh" if layer["scale_wh"] else ""),
    "sam": refs_text,
    "upsample": lambda layer, index: f"x{layer['stride']}" if int(layer["stride"]) > 0 else f"/{-int(layer['stride'])}",
    "yolo": _masks,
    "Gaussian_yolo": _masks,
    "region": _key("classes={classes} num={num}"),
    "detection": _key("classes={classes} side={side}"),
    "reorg3d": _key("stride={stride}"),
    "reorg": _key("stride={stride}"),
    "crop": _key("{crop_width}x{crop_height}"),
    "activation": _key("{activation}"),
    "rnn": _key("{output} hidden={hidden} {activation}"),
    "gru": _key("{output}"),
    "lstm": _key("{output}"),
    "conv_lstm": _recurrent_conv,
    "history": _key("size={history_size}"),
    "crnn": _recurrent_conv,
    "empty": _nothing,
    "implicit": _key("{filters}x{atoms}"),
}

# Short names where the section name is long (the graph's node labels).
SHORT = {"convolutional": "conv"}


def detail(layer: Layer, index: int) -> str:
    """The layer's keys that matter, without its type (the CLI's per-layer table has a type column)."""
    return DESCRIPTIONS[layer.type](layer, index)


def describe(layer: Layer, index: int) -> str:
    """Short type name and detail: `conv 3x3/2 32f bn leaky`, `route layers=-7,-5 (= L19,21)`."""
    return f"{SHORT.get(layer.type, layer.type)} {detail(layer, index)}".rstrip()
