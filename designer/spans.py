"""The fused spans a backend runs as one kernel, found in the IR without torch.

The optimised torch build (runtime.optimize) and the ONNX models exported from it run two darknet spellings as one
step each: MixConv (`[route] groups=n group_id=k` + conv, n times, then a concatenating `[route]`) and squeeze-
excitation (`[avgpool]`, two 1x1 `[convolutional]` on the pooled vector, `[scale_channels] from=X`). These are
the one set of rules: runtime.optimize fuses what `mixconv_spans` and `se_spans` find, and the latency model
(torch-free) groups layers into kernels with the same functions, so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.ir import Network, layer_inputs, references
from designer.shapes import Shape, conv_padding, strides


@dataclass(frozen=True)
class FusedSpan:
    """IR layers first..last run as one step of kind "mixconv" or "squeeze_excite"; `source` is what it reads."""

    kind: str
    first: int
    last: int
    source: int
    convs: tuple[int, ...]  # the conv layers inside the span, in order


def readers(network: Network) -> dict[int, set[int]]:
    """For each layer index (and INPUT), the layers that read its output."""
    out: dict[int, set[int]] = {}
    for i, layer in enumerate(network.layers):
        for r in layer_inputs(layer, i):
            out.setdefault(r, set()).add(i)
    return out


def _is_image(s: Shape) -> bool:
    """runtime.layers.merge.is_image: darknet's flat output is exactly the c x h x w image."""
    return s.c * s.h * s.w == s.outputs


def _mixconv_at(
    network: Network, shapes: tuple[Shape, ...], rd: dict[int, set[int]], keep: tuple[int, ...], r0: int
) -> FusedSpan | None:
    layers = network.layers
    first = layers[r0]
    if first.type != "route" or int(first["groups"]) < 2 or int(first["group_id"]) != 0:
        return None
    refs = references(first, r0)
    if len(refs) != 1:
        return None
    x, n = refs[0], int(first["groups"])
    if not _is_image(shapes[x]) or shapes[x].c % n:
        return None
    last = r0 + 2 * n
    if last >= len(layers):
        return None
    convs = []
    for k in range(n):
        r, c = layers[r0 + 2 * k], layers[r0 + 2 * k + 1]
        if (
            r.type != "route"
            or references(r, r0 + 2 * k) != (x,)
            or int(r["groups"]) != n
            or int(r["group_id"]) != k
            or c.type != "convolutional"
            or c["xnor"]
            or c["binary"]
        ):
            return None
        convs.append(r0 + 2 * k + 1)
    cat = layers[last]
    if cat.type != "route" or int(cat["groups"]) != 1 or references(cat, last) != tuple(convs):
        return None
    allowed = {r: {r + 1} for r in range(r0, last, 2)} | {c: {last} for c in convs}
    if any(rd.get(j, set()) != ok or j in keep for j, ok in allowed.items()):
        return None
    return FusedSpan("mixconv", r0, last, x, tuple(convs))


def _plain_1x1(network: Network, shapes: tuple[Shape, ...], i: int) -> bool:
    layer = network.layers[i]
    return (
        layer.type == "convolutional"
        and int(layer["size"]) == 1
        and int(layer["groups"]) == 1
        and strides(layer) == (1, 1)
        and conv_padding(layer) == 0
        and not layer["xnor"]
        and not layer["binary"]
        and (shapes[i].h, shapes[i].w) == (1, 1)
    )


def _se_at(
    network: Network, shapes: tuple[Shape, ...], rd: dict[int, set[int]], keep: tuple[int, ...], i: int
) -> FusedSpan | None:
    layers = network.layers
    if not 1 <= i < len(layers) - 3 or layers[i].type != "avgpool" or layers[i + 3].type != "scale_channels":
        return None
    x, sc = i - 1, layers[i + 3]
    if sc["scale_wh"] or references(sc, i + 3) != (x,) or not _plain_1x1(network, shapes, i + 1):
        return None
    if not _plain_1x1(network, shapes, i + 2) or shapes[i + 2].c != shapes[x].c:
        return None
    if any(rd.get(j, set()) != {j + 1} or j in keep for j in (i, i + 1, i + 2)):
        return None
    return FusedSpan("squeeze_excite", i, i + 3, x, (i + 1, i + 2))


def mixconv_spans(network: Network, shapes: tuple[Shape, ...], keep: tuple[int, ...] = ()) -> list[FusedSpan]:
    """Every route-split -> per-split conv -> concat-route span whose intermediates nothing else reads (`keep`:
    layers the model returns, which a span may not hide), in order, none overlapping."""
    rd = readers(network)
    found: list[FusedSpan] = []
    i = 0
    while i < len(network.layers):
        p = _mixconv_at(network, shapes, rd, keep, i)
        if p is None:
            i += 1
        else:
            found.append(p)
            i = p.last + 1
    return found


def se_spans(network: Network, shapes: tuple[Shape, ...], keep: tuple[int, ...] = ()) -> list[FusedSpan]:
    """Every avgpool -> 1x1 conv -> 1x1 conv -> scale_channels span on a plain 1x1 pooled vector."""
    rd = readers(network)
    return [p for i in range(len(network.layers)) if (p := _se_at(network, shapes, rd, keep, i)) is not None]


def fused_spans(network: Network, shapes: tuple[Shape, ...], outputs: tuple[int, ...]) -> dict[int, FusedSpan]:
    """First layer -> span, for every MixConv and SE span the optimised build fuses (`outputs`: the layers the
    model returns, which a span may not hide). MixConv spans are found first, as runtime.optimize does."""
    spans = {p.first: p for p in mixconv_spans(network, shapes, outputs)}
    spans.update((p.first, p) for p in se_spans(network, shapes, outputs))
    return spans
