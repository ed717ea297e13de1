"""MixConv as darknet spells it, found in the IR, and run as one fused module.

Darknet has no MixConv layer; designer.lower (and ../shared/reference/darknet_efficientnet_mapping.md) spells
one with n kernel sizes as
    [route] layers=X groups=n group_id=0 ; [convolutional] size=k0 ...
    [route] layers=X groups=n group_id=1 ; [convolutional] size=k1 ...
    ...
    [route] layers=<the n convs, in order>
`find_mixconv` recognises that from the IR alone (any cfg spelling it so qualifies, hand-written or lowered),
requiring that nothing else reads the intermediate routes and convs, so one module may replace the span.

`MixConvLayer` runs it either way:
- "split": each conv reads its channel range of X as a view (no route copy), one concatenation at the end;
- "padded": one grouped conv with every kernel zero-padded, centred, to the largest one (same result:
  the extra taps multiply zeros), possible when the convs differ only in kernel size and filter count.
Which is faster depends on the device and shapes; runtime.optimize picks by flag or by measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from designer.ir import Network
from designer.shapes import Shape
from designer.spans import mixconv_spans
from runtime.layers.activations import Activation
from runtime.layers.conv import ConvolutionalLayer


@dataclass(frozen=True)
class MixConvPattern:
    first: int  # the first [route]
    last: int  # the concatenating [route]
    source: int  # X
    convs: tuple[int, ...]  # the n conv layers, in split order


def find_mixconv(network: Network, shapes: tuple[Shape, ...], keep: tuple[int, ...] = ()) -> list[MixConvPattern]:
    """Every route-split -> per-split conv -> concat-route span whose intermediates nothing else reads
    (designer.spans.mixconv_spans: the rules the latency model uses too)."""
    return [MixConvPattern(p.first, p.last, p.source, p.convs) for p in mixconv_spans(network, shapes, keep)]


def _conv_bias(conv: nn.Conv2d) -> Tensor:
    return conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)


def _square(c: nn.Conv2d) -> tuple[int, int] | None:
    """(kernel, padding) of a conv with a square odd kernel, equal numeric padding and no dilation; else None."""
    k, p = c.kernel_size, c.padding
    if isinstance(p, str) or k[0] != k[1] or p[0] != p[1] or k[0] % 2 == 0 or c.dilation != (1, 1):
        return None
    return k[0], p[0]


def padded_conv(convs: list[nn.Conv2d]) -> nn.Conv2d | None:
    """One grouped conv equal to the channel-split convs, kernels zero-padded to the largest; None if impossible."""
    c0 = convs[0]
    squares = [sq for sq in map(_square, convs) if sq is not None]
    excess = {p - k // 2 for k, p in squares}  # padding beyond "same"
    per_group = {(c.in_channels // c.groups, c.out_channels // c.groups) for c in convs}
    if (
        len(squares) != len(convs)
        or len(excess) != 1
        or len(per_group) != 1
        or any(c.stride != c0.stride for c in convs)
    ):
        return None
    kmax = max(k for k, _ in squares)
    pad = kmax // 2 + excess.pop()
    sy, sx = c0.stride
    fused = nn.Conv2d(
        sum(c.in_channels for c in convs),
        sum(c.out_channels for c in convs),
        kmax,
        stride=(sy, sx),
        padding=pad,
        groups=sum(c.groups for c in convs),
        bias=True,
        device=c0.weight.device,
        dtype=c0.weight.dtype,
    )
    weight = torch.zeros_like(fused.weight)
    at = 0
    with torch.no_grad():
        for c in convs:
            k = c.kernel_size[0]
            o = (kmax - k) // 2
            weight[at : at + c.out_channels, :, o : o + k, o : o + k] = c.weight
            at += c.out_channels
        fused.weight.copy_(weight)
        fused.bias = nn.Parameter(torch.cat([_conv_bias(c) for c in convs]))
    return fused


class MixConvLayer(nn.Module):
    """A whole darknet MixConv span (split routes + convs + concat route) as one module.

    `layers` are the span's ConvolutionalLayer modules (BN folded or not). "padded" needs them BN-free (folded)
    with one activation; otherwise the split form is used, whatever was asked.
    """

    kind = "mixconv"

    def __init__(self, pattern: MixConvPattern, layers: list[ConvolutionalLayer], split: int, mode: str = "split"):
        super().__init__()
        self.pattern = pattern
        self.split = split  # channels of X per conv
        self.kernels = tuple(m.conv.kernel_size[0] for m in layers)
        self.fused: nn.Conv2d | None = None
        self.act: Activation | None = None
        acts = {m.act.name for m in layers}
        if mode == "padded" and len(acts) == 1 and all(m.bn is None and not m.binary for m in layers):
            self.fused = padded_conv([m.conv for m in layers])
            self.act = Activation(acts.pop(), inplace=True)
        self.layers = nn.ModuleList(layers if self.fused is None else [])
        self.mode = "padded" if self.fused is not None else "split"

    def forward(self, x: Tensor) -> Tensor:
        if self.fused is not None and self.act is not None:  # set together in __init__
            return self.act(self.fused(x))
        s = self.split
        return torch.cat([m(x.narrow(1, i * s, s)) for i, m in enumerate(self.layers)], dim=1)

    def extra_repr(self) -> str:
        ks = ",".join(map(str, self.kernels))
        return f"layers {self.pattern.first}..{self.pattern.last}, kernels {ks}, mode={self.mode}"
