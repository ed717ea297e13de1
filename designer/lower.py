"""Lowering: architecture spec -> flat Darknet layer list (the IR).

How each part is spelled in Darknet (../shared/reference/darknet_efficientnet_mapping.md, NOTES.md):
- MixConv with n kernel sizes: per kernel i, `[route] layers=<expanded> groups=n group_id=i` then a
  `[convolutional] size=k_i groups=C/n/N` (N channels per group; N=1 is depthwise), then a `[route]` that
  concatenates the n conv outputs in kernel order (TF/timm split order: no channel shuffle).
  A single kernel is one conv, no routes.
- Grouped 1x1 expand/project: `[convolutional] groups=G`.
- SE: `[avgpool]` (global) -> 1x1 conv with bias and the block activation -> 1x1 conv, logistic ->
  `[scale_channels] from=<depthwise output>`.
- Projection: 1x1 conv, BN, linear. Residual: `[shortcut] from=<block input> activation=linear`.
- Head: 1x1 conv BN act -> `[avgpool]` -> `[dropout]` -> 1x1 conv `filters=classes` linear with bias (the FC
  layer, as darknet's efficientnet_b0.cfg writes it) -> `[softmax]`.
All references are written relative (negative), computed from absolute indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from designer.ir import Layer, Network, make_layer
from designer.spec import Arch, Block, check, head_channels, resolve, round_filters, rounding_report


@dataclass(frozen=True)
class Span:
    """Layers [start, end) of the IR that one block (or the stem/head) lowered to."""

    label: str
    start: int
    end: int
    kind: str  # "stem", "block", "head"


class _Builder:
    def __init__(self) -> None:
        self.layers: list[Layer] = []

    @property
    def last(self) -> int:
        return len(self.layers) - 1

    def add(self, type_: str, **kw) -> int:
        self.layers.append(make_layer(type_, **kw))
        return self.last

    def rel(self, target: int) -> int:
        """Reference to absolute layer `target` from the layer about to be added."""
        return target - len(self.layers)

    def conv(
        self, filters: int, size: int, stride: int = 1, groups: int = 1, bn: bool = True, act: str = "linear"
    ) -> int:
        return self.add(
            "convolutional",
            batch_normalize=int(bn),
            filters=filters,
            size=size,
            stride=stride,
            pad=int(size > 1),
            groups=groups,
            activation=act,
        )


@lru_cache(maxsize=4096)
def _lower_block(spec: Block, mid: int, cout: int, stride: int, se: int, residual: bool) -> tuple[Layer, ...]:
    """One block's layers. References are relative, so a block lowers the same wherever it sits: cached."""
    b = _Builder()
    block_in = -1  # the layer before the block
    act = spec.activation
    x = block_in
    if spec.expand_ratio != 1:
        x = b.conv(mid, 1, groups=spec.expand_groups, act=act)
    n = len(spec.kernels)
    per = mid // n
    per_groups = per // spec.dw_group_size if spec.dw_group_size else per
    if n == 1:
        dw = b.conv(per, spec.kernels[0], stride, groups=per_groups, act=act)
    else:
        outs = []
        for i, k in enumerate(spec.kernels):
            b.add("route", layers=(b.rel(x),), groups=n, group_id=i)
            outs.append(b.conv(per, k, stride, groups=per_groups, act=act))
        dw = b.add("route", layers=tuple(b.rel(o) for o in outs))
    if se:
        b.add("avgpool")
        b.conv(se, 1, bn=False, act=act)
        b.conv(mid, 1, bn=False, act="logistic")
        b.add("scale_channels", **{"from": b.rel(dw)})
    b.conv(cout, 1, groups=spec.project_groups, act="linear")
    if residual:
        b.add("shortcut", **{"from": (b.rel(block_in),)}, activation="linear")
    return tuple(b.layers)


def lower_with_spans(arch: Arch, design_yaml: str | None = None) -> tuple[Network, tuple[Span, ...]]:
    check(arch)
    b = _Builder()
    spans: list[Span] = []
    stem_ch = round_filters(arch.stem.channels, arch.width_mult)
    b.conv(stem_ch, arch.stem.kernel, arch.stem.stride, act=arch.stem.activation)
    spans.append(Span("stem", 0, 1, "stem"))
    for rb in resolve(arch):
        start = len(b.layers)
        b.layers += _lower_block(rb.spec, rb.mid_channels, rb.out_channels, rb.stride, rb.se_channels, rb.residual)
        spans.append(Span(rb.label, start, len(b.layers), "block"))
    start = len(b.layers)
    b.conv(head_channels(arch), 1, act=arch.head.activation)
    b.add("avgpool")
    if arch.dropout > 0:
        b.add("dropout", probability=arch.dropout)
    b.conv(arch.classes, 1, bn=False, act="linear")
    b.add("softmax")
    spans.append(Span("head", start, len(b.layers), "head"))
    net = make_layer("net", width=arch.input_size, height=arch.input_size, channels=arch.input_channels)
    return Network(net, tuple(b.layers), design_yaml), tuple(spans)


def lower(arch: Arch, with_design: bool = True) -> Network:
    """Spec -> Darknet IR. With `with_design`, the design YAML travels in the cfg's leading comments."""
    design = None
    if with_design:
        from designer.design_io import dump_yaml

        check(arch)  # before the notes below resolve it
        design = dump_yaml(arch)
        # where width scaling had to round (spec.rounding_report): comment lines in the cfg's design header
        design += "".join(f"# rounded: {note}\n" for note in rounding_report(arch))
    return lower_with_spans(arch, design)[0]
