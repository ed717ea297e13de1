"""Darknet's weightless spatial layers: [maxpool], [local_avgpool], [avgpool], [upsample], [reorg],
[reorg3d], [crop].

Semantics from ../shared/darknet/NOTES.md section 6 and darknet's maxpool_layer.c, local_avgpool (in
maxpool_layer.c), avgpool_layer.c, upsample_layer.c, reorg_old_layer.c / reorg_layer.c + blas.c reorg_cpu,
crop_layer.c:
- maxpool / local_avgpool: the window starts at -padding/2 (padding = total padding, default size-1), so the
  left/top pad is floor(padding/2) and the rest goes right/bottom; padded cells never win the max (-inf) and
  are not counted in the local average.
- reorg: both [reorg] (old) and [reorg3d] run reorg_cpu, which permutes the flat buffer; the old one calls it
  with the *input* dims (the yolov2 "reorg" that is not a plain space-to-depth), the new one with the output
  dims. The permutation is computed once from reorg_cpu's index formulas and applied as a gather.
- crop at inference takes the centre crop and maps x -> 2x-1 unless noadjust=1 (forward_crop_layer's
  scale=2, trans=-1). In training mode the offset is random and flip=1 mirrors half the time, as darknet.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from designer.ir import CfgError, Layer
from designer.shapes import Shape, pool_geometry


def _window_pads(size: int, stride: int, padding: int, n_in: int, n_out: int) -> tuple[int, int]:
    """(before, after) padding so that a plain window sweep reproduces darknet's out-of-bounds rule."""
    before = padding // 2
    after = (n_out - 1) * stride + size - n_in - before  # may be negative: darknet never reads those cells
    return before, after


class _Pool(nn.Module):
    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        if layer.type == "maxpool" and (layer["maxpool_depth"] or layer["maxpool_zero_nonmax"]):
            raise CfgError(
                layer.line,
                f"layer {index} [maxpool]: maxpool_depth / maxpool_zero_nonmax are not supported by the runtime",
            )
        size, sy, sx, padding = pool_geometry(layer)
        self.size, self.stride = size, (sy, sx)
        self.pad_h = _window_pads(size, sy, padding, shape.in_h, shape.h)
        self.pad_w = _window_pads(size, sx, padding, shape.in_w, shape.w)
        t, b = self.pad_h
        l, r = self.pad_w
        # torch's own padding is symmetric and at most size/2: use it when darknet's happens to be that
        self.symmetric = t == b and l == r and 0 <= t <= size // 2 and 0 <= l <= size // 2

    def _padded(self, x: Tensor, value: float) -> Tensor:
        (t, b), (l, r) = self.pad_h, self.pad_w
        return F.pad(x, (l, r, t, b), value=value)


class MaxpoolLayer(_Pool):
    """[maxpool]: max over each window, padded cells never win."""

    def forward(self, x: Tensor) -> Tensor:
        if self.symmetric:
            return F.max_pool2d(x, self.size, self.stride, padding=(self.pad_h[0], self.pad_w[0]))
        return F.max_pool2d(self._padded(x, float("-inf")), self.size, self.stride)


class LocalAvgpoolLayer(_Pool):
    """[local_avgpool]: mean of the in-bounds cells of each window."""

    def forward(self, x: Tensor) -> Tensor:
        if self.symmetric:
            return F.avg_pool2d(
                x, self.size, self.stride, padding=(self.pad_h[0], self.pad_w[0]), count_include_pad=False
            )
        total = F.avg_pool2d(self._padded(x, 0.0), self.size, self.stride, divisor_override=1)
        ones = torch.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype, device=x.device)
        count = F.avg_pool2d(self._padded(ones, 0.0), self.size, self.stride, divisor_override=1)
        return total / count


class AvgpoolLayer(nn.Module):
    """[avgpool]: always a global average, 1x1xC (its size=/stride= keys are unused by darknet)."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class UpsampleLayer(nn.Module):
    """[upsample]: nearest-neighbour x stride, times scale; a negative stride sums |stride|^2 blocks."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.stride = int(layer["stride"])
        self.scale = float(layer["scale"])
        self.out_hw = (shape.h, shape.w)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 0:
            y = F.interpolate(x, scale_factor=self.stride, mode="nearest")
            return y * self.scale if self.scale != 1 else y
        # upsample_cpu(forward=0) into a zeroed output: out[i/s][j/s] += scale * in[i][j]
        s = -self.stride
        h, w = self.out_hw
        return F.avg_pool2d(x[:, :, : h * s, : w * s], s) * (s * s * self.scale)


def reorg_permutation(w: int, h: int, c: int, stride: int, forward: int) -> torch.Tensor:
    """Gather index g with out_flat = in_flat[g], for blas.c reorg_cpu(x, w, h, c, batch=1, stride, forward)."""
    s = stride
    in_c = c // (s * s)
    k, j, i = torch.meshgrid(torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    c2 = k % in_c
    offset = k // in_c
    w2 = i * s + offset % s
    h2 = j * s + offset // s
    out_index = (w2 + w * s * (h2 + h * s * c2)).flatten()
    if not forward:
        return out_index  # out[in_index] = x[out_index], in_index running 0..n-1 in loop order
    inv = torch.empty_like(out_index)  # out[out_index] = x[in_index]
    inv[out_index] = torch.arange(out_index.numel())
    return inv


class ReorgLayer(nn.Module):
    """[reorg] (old, reorg_old_layer.c) and [reorg3d] (reorg_layer.c)."""

    perm: Tensor  # a buffer: flat input index of each flat output element

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        s, reverse = int(layer["stride"]), int(layer["reverse"])
        if layer.type == "reorg":
            w, h, c = shape.in_w, shape.in_h, shape.in_c
        else:
            w, h, c = shape.w, shape.h, shape.c
        if s < 1 or c % (s * s) or w * h * c != shape.in_c * shape.in_h * shape.in_w:
            raise CfgError(
                layer.line,
                f"layer {index} [{layer.type}]: stride={s} does not fit its "
                f"{shape.in_c}x{shape.in_h}x{shape.in_w} input (darknet's reorg_cpu would "
                "read outside its buffer)",
            )
        perm = reorg_permutation(w, h, c, s, forward=1 if reverse else 0)
        self.register_buffer("perm", perm, persistent=False)
        self.out_shape = (shape.c, shape.h, shape.w)

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1).index_select(1, self.perm).view(x.shape[0], *self.out_shape)


class CropLayer(nn.Module):
    """[crop]: centre crop (random crop and flip in training), scaled to 2x-1 unless noadjust."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.ch, self.cw = int(layer["crop_height"]), int(layer["crop_width"])
        if self.ch > shape.in_h or self.cw > shape.in_w or self.ch < 1 or self.cw < 1:
            raise CfgError(
                layer.line,
                f"layer {index} [crop]: a {self.ch}x{self.cw} crop does not fit its {shape.in_h}x{shape.in_w} input",
            )
        self.flip = bool(layer["flip"])
        self.scale, self.trans = (1.0, 0.0) if layer["noadjust"] else (2.0, -1.0)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        if self.training:
            dh, dw = random.randint(0, h - self.ch), random.randint(0, w - self.cw)
        else:
            dh, dw = (h - self.ch) // 2, (w - self.cw) // 2
        if self.training and self.flip and random.random() < 0.5:
            # forward_crop_layer: col = w - dw - j - 1, the mirrored window counted from the right edge
            y = x[:, :, dh : dh + self.ch, w - dw - self.cw : w - dw].flip(3)
        else:
            y = x[:, :, dh : dh + self.ch, dw : dw + self.cw]
        return y * self.scale + self.trans
