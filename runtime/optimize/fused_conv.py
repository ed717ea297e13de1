"""A convolution and its activation as one oneDNN primitive with a prepacked weight: fp32 CPU builds in
channels_last (what runtime.bench times on CPU).

torch runs a darknet [convolutional] as a convolution, then the activation as a second pass over its output
(for swish, SiLU over every element of every expanded map), and reorders the weight into oneDNN's layout on
each call. `torch.ops.mkldnn._convolution_pointwise` (the op TorchInductor's CPU freezing path emits) applies
the activation as a oneDNN post-op while the output is in cache, and takes a weight reordered once, here at
build time for the layer's input shape. Only activations whose oneDNN post-op computes darknet's formula
(NOTES.md section 3) are fused (POST_OPS); other layers are left as they are.

FusedConvAct is compiled with torch.jit.script so that the traced, frozen graph of the whole network
(runtime.optimize.build.FrozenModel) calls it: the tracer cannot record the op's list-of-optional-scalars
argument. Its weight is an opaque oneDNN tensor: the module is for CPU inference only and is never saved.
"""

# No `from __future__ import annotations`: TorchScript reads the class annotations below as objects.
from typing import List, Optional, Union  # noqa: UP035 - TorchScript's spelling of the op's argument types

import torch
from torch import Tensor, nn

from runtime.layers.conv import ConvolutionalLayer
from runtime.model import DarknetModel
from runtime.optimize.pointwise import PointwiseLinear

# darknet activation (designer/activations.py) -> oneDNN post-op and its scalars
POST_OPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "linear": ("none", ()),
    "relu": ("relu", ()),
    "leaky": ("leaky_relu", (0.1,)),
    "logistic": ("sigmoid", ()),
    "tanh": ("tanh", ()),
    "swish": ("swish", ()),
    "relu6": ("hardtanh", (0.0, 6.0)),
}


def available() -> bool:
    """This torch build has oneDNN on the CPU."""
    return bool(torch.backends.mkldnn.is_available())


class FusedConvAct(nn.Module):
    """act(conv(x) + b) as one oneDNN call, from a BN-folded conv of a ConvolutionalLayer (an nn.Conv2d, or the
    PointwiseLinear that stands in for a 1x1 one); `input_size` (N, C, H, W) chooses the weight's packed layout."""

    scalars: List[Optional[Union[int, float, complex]]]  # noqa: UP006, UP007, UP045 - the op's Scalar?[]
    padding: List[int]  # noqa: UP006
    stride: List[int]  # noqa: UP006
    dilation: List[int]  # noqa: UP006

    def __init__(self, conv: nn.Module, activation: str, input_size: tuple[int, int, int, int]):
        super().__init__()
        attr, scalars = POST_OPS[activation]
        self.attr = attr
        self.scalars = [float(s) for s in scalars]
        if isinstance(conv, PointwiseLinear):
            weight = conv.weight.detach().reshape(*conv.weight.shape, 1, 1)
            self.padding, self.stride, self.dilation, self.groups = [0, 0], [1, 1], [1, 1], 1
        elif isinstance(conv, nn.Conv2d) and isinstance(conv.padding, tuple):
            weight = conv.weight.detach()
            self.padding = [int(p) for p in conv.padding]
            self.stride = [int(s) for s in conv.stride]
            self.dilation = [int(d) for d in conv.dilation]
            self.groups = int(conv.groups)
        else:
            raise ValueError(f"not a convolution with explicit padding: {conv}")
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]  # the stub lacks input_size
            weight.float().contiguous().to_mkldnn(),
            self.padding,
            self.stride,
            self.dilation,
            self.groups,
            list(input_size),
        )
        self.register_buffer("weight", packed)
        bias = conv.bias
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x,
            self.weight,
            self.bias,
            self.padding,
            self.stride,
            self.dilation,
            self.groups,
            self.attr,
            self.scalars,
            "",
        )


def fusable(layer: ConvolutionalLayer, activation: str) -> bool:
    """A folded (BN-free), non-binary [convolutional] whose activation oneDNN computes as darknet does."""
    return (
        layer.bn is None
        and not layer.binary
        and activation in POST_OPS
        and isinstance(layer.conv, (nn.Conv2d, PointwiseLinear))
    )


def fuse_conv_activations(model: DarknetModel) -> int:
    """Replace, in place, every fusable [convolutional] step of an optimised fp32 CPU model by a scripted
    FusedConvAct; returns how many. The model must be final (on the CPU, in fp32, channels_last set): the packed
    weights do not follow `.to()`."""
    if not model.optimized:
        raise ValueError("fuse the optimised build (runtime.optimize), whose BN is folded")
    if not available():
        return 0
    fused = 0
    for k, step in enumerate(model.steps):
        layer = model.layers[k]
        if step.first != step.last or not isinstance(layer, ConvolutionalLayer):
            continue
        activation = str(model.network.layers[step.first]["activation"])
        if not fusable(layer, activation):
            continue
        s = model.shapes[step.first]
        model.layers[k] = torch.jit.script(FusedConvAct(layer.conv, activation, (1, s.in_c, s.in_h, s.in_w)))
        fused += 1
    return fused
