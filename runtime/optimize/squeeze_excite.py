"""Squeeze-and-excitation as darknet spells it, found in the IR, and run as one fused module.

Darknet's SE (NOTES.md section 6, efficientnet_b0.cfg, designer.lower) is four layers:
    [avgpool]                          global average of X (the layer before it)
    [convolutional] size=1 ...         reduce, with the block activation
    [convolutional] size=1 ...         expand to X's channels, logistic
    [scale_channels] from=X            X * gates, per channel
On a 1x1 map the two convolutions are matrix-vector products; torch would run them as convolutions (at one
thread and batch 1 through its im2col path, ~100 us each). `SqueezeExcite` runs the span as one step: mean,
two `F.linear`s, the activations, one multiply. It applies only where nothing else reads the pooled vector or
the gates, so the span's intermediate outputs can disappear.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from designer.ir import Network
from designer.shapes import Shape
from designer.spans import se_spans
from runtime.layers.activations import Activation
from runtime.layers.conv import ConvolutionalLayer


@dataclass(frozen=True)
class SEPattern:
    first: int  # the [avgpool]
    last: int  # the [scale_channels]
    source: int  # X, pooled and scaled
    convs: tuple[int, int]


def find_squeeze_excite(network: Network, shapes: tuple[Shape, ...], keep: tuple[int, ...] = ()) -> list[SEPattern]:
    """Every avgpool -> 1x1 conv -> 1x1 conv -> scale_channels span (designer.spans.se_spans: the rules the
    latency model uses too)."""
    return [SEPattern(p.first, p.last, p.source, (p.convs[0], p.convs[1])) for p in se_spans(network, shapes, keep)]


class SqueezeExcite(nn.Module):
    """avgpool -> 1x1 conv -> 1x1 conv -> scale_channels, as mean -> linear -> linear -> multiply.

    `reduce` and `expand` are the span's ConvolutionalLayer modules; with BN folded they run as F.linear,
    otherwise (BN kept) as the modules themselves on the 1x1 map.
    """

    kind = "squeeze_excite"

    def __init__(self, pattern: SEPattern, reduce: ConvolutionalLayer, expand: ConvolutionalLayer, act: str):
        super().__init__()
        self.pattern = pattern
        self.reduce = reduce
        self.expand = expand
        self.act = Activation(act, inplace=True)
        self.linear = reduce.bn is None and expand.bn is None

    def forward(self, x: Tensor) -> Tensor:
        if self.linear:
            p = x.mean(dim=(2, 3))
            h = self.reduce.act(F.linear(p, self.reduce.conv.weight.flatten(1), self.reduce.conv.bias))
            g = self.expand.act(F.linear(h, self.expand.conv.weight.flatten(1), self.expand.conv.bias))
            g = g[:, :, None, None]
        else:
            g = self.expand(self.reduce(x.mean(dim=(2, 3), keepdim=True)))
        return self.act(x * g)

    def extra_repr(self) -> str:
        return f"layers {self.pattern.first}..{self.pattern.last}"
