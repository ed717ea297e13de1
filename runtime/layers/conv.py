"""Darknet's weighted layers as torch modules: [convolutional], [connected], [batchnorm].

Semantics from ../shared/darknet/NOTES.md sections 3 and 6 (convolutional_layer.c, connected_layer.c,
batchnorm_layer.c):
- conv: `pad=1` means padding size/2 (designer.shapes.conv_padding); darknet's im2col pads padding*dilation
  per side and dilation is forced to 1 for size 1. The output must be what darknet declares: a dilated conv
  whose real output differs from `(h + 2*padding - size)/stride + 1` is scrambled in darknet
  (cases/conv3x3_dil2_padding0_broken), so it is refused here.
- With batch_normalize the conv has no bias; darknet's stored "biases" are the BN beta. Both conv and connected
  BN are `nn.BatchNorm*(eps=1e-5)` (darknet's eps, NOTES.md section 3) with momentum 0.01, darknet's rolling
  update `rolling = .99*rolling + .01*batch` (batchnorm_layer.c), so the plain build trains like darknet.
- xnor / binary convs run darknet's float CPU path: weights binarized per filter to +-mean|w|
  (binarize_weights), xnor inputs to +-1 with x>0 -> 1 (binarize_cpu), zero padding after binarization.
  Darknet's bit-packed inference path (align_bit_weights) is not modelled.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from designer.ir import CfgError, Layer
from designer.shapes import Shape, conv_padding, strides
from runtime.layers.activations import Activation

BN_EPS = 1e-5  # darknet normalize_cpu: sqrt(variance + .00001f)
BN_MOMENTUM = 0.01  # darknet: rolling_mean = .99*rolling_mean + .01*mean


def running_stats(bn: nn.modules.batchnorm._BatchNorm) -> tuple[Tensor, Tensor]:
    """(running mean, running variance) of a BN layer: darknet's rolling_mean and rolling_variance, which every
    BN built here tracks (torch leaves them None only with track_running_stats=False)."""
    mean, var = bn.running_mean, bn.running_var
    if mean is None or var is None:
        raise ValueError(f"{type(bn).__name__} without running statistics (track_running_stats=False)")
    return mean, var


def _fail(layer: Layer, index: int, msg: str) -> CfgError:
    return CfgError(layer.line, f"layer {index} [{layer.type}]: {msg}")


class ConvolutionalLayer(nn.Module):
    """[convolutional]: act(BN(conv(x))) or act(conv(x) + bias)."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        filters, groups, size = int(layer["filters"]), int(layer["groups"]), int(layer["size"])
        if layer.get("share_index") is not None:
            raise _fail(layer, index, "share_index= (weights shared with another layer) is not supported")
        if filters % groups:
            raise _fail(
                layer,
                index,
                f"filters={filters} is not divisible by groups={groups}; darknet never "
                "computes the filters past groups*(filters/groups)",
            )
        if layer["xnor"]:
            groups = 1  # parse_convolutional: xnor forces groups=1
        pad = conv_padding(layer)
        sy, sx = strides(layer)
        dilation = int(layer["dilation"]) if size > 1 else 1
        real_h = (shape.in_h + 2 * pad * dilation - dilation * (size - 1) - 1) // sy + 1
        real_w = (shape.in_w + 2 * pad * dilation - dilation * (size - 1) - 1) // sx + 1
        if (real_h, real_w) != (shape.h, shape.w):
            raise _fail(
                layer,
                index,
                f"dilation={dilation} with padding {pad}: darknet declares a {shape.h}x{shape.w} "
                f"output but its im2col computes {real_h}x{real_w}, so darknet's result is "
                "scrambled (NOTES.md: use dilation only with odd size and pad=1)",
            )
        bn = bool(layer["batch_normalize"] or layer["cbn"])
        self.conv = nn.Conv2d(
            shape.in_c,
            filters,
            size,
            stride=(sy, sx),
            padding=pad * dilation,
            dilation=dilation,
            groups=groups,
            bias=not bn,
        )
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS, momentum=BN_MOMENTUM) if bn else None
        self.act = Activation(str(layer["activation"]), inplace=True)
        self.xnor = bool(layer["xnor"])
        self.binary = bool(layer["binary"]) or self.xnor

    def forward(self, x: Tensor) -> Tensor:
        if self.binary:
            y = self._binary_forward(x)
        else:
            y = self.conv(x)
        if self.bn is not None:
            y = self.bn(y)
        return self.act(y)

    def _binary_forward(self, x: Tensor) -> Tensor:
        w = self.conv.weight
        mean = w.abs().mean(dim=(1, 2, 3), keepdim=True)
        wb = torch.where(w > 0, mean, -mean)  # binarize_weights
        if self.xnor:
            x = torch.where(x > 0, torch.ones_like(x), -torch.ones_like(x))  # binarize_cpu
        return self.conv._conv_forward(x, wb, self.conv.bias)


class ConnectedLayer(nn.Module):
    """[connected]: act(W x + b) on the flat CHW input, or act(BN(W x)); output 1x1xoutput."""

    def __init__(self, layer: Layer, shape: Shape, index: int, inputs: int):
        super().__init__()
        out = int(layer["output"])
        bn = bool(layer["batch_normalize"])
        self.fc = nn.Linear(inputs, out, bias=not bn)
        self.bn = nn.BatchNorm1d(out, eps=BN_EPS, momentum=BN_MOMENTUM) if bn else None
        self.act = Activation(str(layer["activation"]), inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x.flatten(1))
        if self.bn is not None:
            y = self.bn(y)
        return self.act(y).view(y.shape[0], -1, 1, 1)


class BatchnormLayer(nn.Module):
    """[batchnorm]: (x - mean)/sqrt(var + 1e-5) * scale + bias per channel."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(shape.c, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(x)
