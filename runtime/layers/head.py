"""Darknet's output-side and pass-through layers: [softmax], [yolo], [region], [cost], [dropout], [activation].

Semantics from ../shared/darknet/NOTES.md section 6 (softmax_layer.c, yolo_layer.c, region_layer.c,
cost_layer.c, dropout_layer.c, activation_layer.c):
- softmax runs over `groups` contiguous blocks of the flat CHW input (softmax_cpu), x/temperature.
- yolo, per anchor of the mask, layout [anchor][5+classes][H][W]: x,y -> sigmoid(t)*s - (s-1)/2 with
  s = scale_x_y, w,h raw, objectness and classes sigmoid; with new_coords=1 no sigmoid, only the x,y scale.
- region (yolov2): darknet first transposes the buffer to [H*W][anchor][coords+classes+1] (flatten), then
  applies a sigmoid to entry 4 and, with softmax=1, a softmax over the classes starting at entry 5. The
  output tensor keeps darknet's flat buffer (viewed as the layer's CxHxW).
- cost does nothing at inference; its output buffer stays 0.
- dropout is the identity at inference (it shares the previous layer's buffer) and nn.Dropout in training.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from designer.ir import CfgError, Layer
from designer.shapes import Shape, yolo_masks
from runtime.layers.activations import Activation


class SoftmaxLayer(nn.Module):
    """[softmax]: softmax(x/temperature) over each of `groups` contiguous blocks of the flat input."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        if layer["tree"] is not None or layer["spatial"]:
            raise CfgError(layer.line, f"layer {index} [softmax]: tree= and spatial= are not supported by the runtime")
        self.groups = int(layer["groups"])
        self.temperature = float(layer["temperature"])

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        n = flat.shape[1]
        per = n // self.groups  # softmax_cpu: n = inputs/groups, the tail (if any) is left at 0
        head = flat[:, : per * self.groups].reshape(flat.shape[0], self.groups, per)
        if self.temperature != 1:
            head = head / self.temperature
        y = torch.softmax(head, dim=-1).reshape(flat.shape[0], per * self.groups)
        if per * self.groups < n:
            y = torch.cat([y, y.new_zeros(flat.shape[0], n - per * self.groups)], dim=1)
        return y.view(x.shape)


class YoloLayer(nn.Module):
    """[yolo] inference output transform (forward_yolo_layer, CPU and GPU agree)."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.n = len(yolo_masks(layer))
        self.classes = int(layer["classes"])
        self.scale_x_y = float(layer["scale_x_y"])
        self.new_coords = bool(layer["new_coords"])

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        t = x.reshape(b, self.n, 5 + self.classes, h, w)
        s = self.scale_x_y
        if self.new_coords:
            xy, rest = t[:, :, :2], t[:, :, 2:]
        else:
            xy = torch.sigmoid(t[:, :, :2])
            rest = torch.cat([t[:, :, 2:4], torch.sigmoid(t[:, :, 4:])], dim=2)
        xy = xy * s - 0.5 * (s - 1) if s != 1 else xy
        return torch.cat([xy, rest], dim=2).view(x.shape)


class RegionLayer(nn.Module):
    """[region] (yolov2) inference output, in darknet's transposed [H*W][anchor][entry] buffer order."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        if layer["tree"] is not None:
            raise CfgError(layer.line, f"layer {index} [region]: tree= (softmax tree) is not supported by the runtime")
        self.n = int(layer["num"])
        self.classes = int(layer["classes"])
        self.size = int(layer["coords"]) + self.classes + 1
        self.softmax = bool(layer["softmax"])

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        # flatten(output, w*h, size*n, batch, 1): (size*n, h*w) -> (h*w, size*n)
        t = x.reshape(b, c, h * w).transpose(1, 2).reshape(b, h * w * self.n, self.size)
        parts = [t[:, :, :4], torch.sigmoid(t[:, :, 4:5])]  # darknet hard-codes entry 4 and entries 5..
        if self.softmax:
            parts.append(torch.softmax(t[:, :, 5 : 5 + self.classes], dim=-1))
            parts.append(t[:, :, 5 + self.classes :])
        else:
            parts.append(t[:, :, 5:])
        return torch.cat(parts, dim=2).reshape(b, c, h, w)


class CostLayer(nn.Module):
    """[cost]: no-op at inference; a layer reading it gets darknet's untouched (zero) buffer."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)


class DropoutLayer(nn.Module):
    """[dropout]: identity at inference; scaled dropout with `probability` in training."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.drop = nn.Dropout(float(layer["probability"]))

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(x) if self.training else x


class ActivationLayer(nn.Module):
    """[activation]: the activation alone (not in place: the input is another layer's output)."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.act = Activation(str(layer["activation"]))

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x)
