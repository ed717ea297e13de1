"""Darknet's layers that read other layers: [route], [shortcut], [scale_channels], [sam].

Semantics from ../shared/darknet/NOTES.md sections 4-6 (route_layer.c, shortcut_layer.c / blas.c
shortcut_multilayer_cpu, scale_channels_layer.c, sam_layer.c). Darknet works on flat CHW buffers; where
that matters it is reproduced exactly:
- route groups: each source contributes its flat slice [part*group_id, part*(group_id+1)), part =
  outputs/groups. When groups divides the channels this is a channel range (taken as a view, no copy);
  otherwise the slice cuts through a channel and the route's output is the flat buffer of `outputs` floats.
- shortcut with a channel mismatch adds in flat CHW order up to the shorter of the two buffers.

A layer output is a (B, c, h, w) tensor when c*h*w equals darknet's `outputs`, else a (B, outputs) flat
tensor (only a route whose groups do not divide a source's channels produces one).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from designer.ir import CfgError, Layer
from designer.shapes import Shape
from runtime.layers.activations import Activation

# blas.c shortcut_multilayer_cpu and network.c fuse_conv_batchnorm: eps added to the normalisation sum.
_SHORTCUT_EPS = 0.0001
# utils.c lrelu, used only by fuse_conv_batchnorm's pre-normalisation of relu-normalised shortcut weights.
DARKNET_FUSED_RELU_FLOOR = 0.001


def is_image(s: Shape) -> bool:
    """Whether darknet's flat output is exactly the c x h x w image (not a non-divisible route slice)."""
    return s.c * s.h * s.w == s.outputs


class RouteLayer(nn.Module):
    """[route]: concatenation of the sources (or of each source's group slice) in the listed order."""

    def __init__(self, layer: Layer, shape: Shape, index: int, sources: list[Shape]):
        super().__init__()
        self.groups = int(layer["groups"])
        self.group_id = int(layer["group_id"])
        self.out_shape = (shape.c, shape.h, shape.w)
        self.out_image = is_image(shape)
        # per source: (channel start, channel count) for a channel slice, or None for a flat slice
        self.channel_slices: list[tuple[int, int] | None] = []
        self.flat_slices: list[tuple[int, int]] = []
        for s in sources:
            part = s.outputs // self.groups
            self.flat_slices.append((part * self.group_id, part))
            if is_image(s) and s.c % self.groups == 0:
                per = s.c // self.groups
                self.channel_slices.append((per * self.group_id, per))
            else:
                self.channel_slices.append(None)
        self.all_channels = all(cs is not None for cs in self.channel_slices) and self.out_image

    def forward(self, *xs: Tensor) -> Tensor:
        if self.all_channels:
            if self.groups == 1:
                pieces = list(xs)
            else:
                pieces = [x.narrow(1, cs[0], cs[1]) for x, cs in zip(xs, self.channel_slices)]  # type: ignore[index]
            return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
        flat = torch.cat([x.flatten(1).narrow(1, a, n) for x, (a, n) in zip(xs, self.flat_slices)], dim=1)
        if self.out_image:
            return flat.view(flat.shape[0], *self.out_shape)
        return flat


class ShortcutLayer(nn.Module):
    """[shortcut]: act(w0*prev + sum_k wk*from_k), weights optional (weights_type) and normalised.

    `relu_floor` is 0 (darknet's forward). Darknet's fuse_conv_batchnorm, which its detector and classifier
    run before inference, pre-normalises relu-normalised weights with max(w, 0.001) instead
    (cases/shortcut_per_feature_relu_fused); set it to DARKNET_FUSED_RELU_FLOOR to reproduce that path.
    """

    def __init__(self, layer: Layer, shape: Shape, index: int, sources: list[Shape]):
        super().__init__()
        wt, wn = str(layer["weights_type"]), str(layer["weights_normalization"])
        n = len(sources)
        if wt != "none" and wn == "none":
            raise CfgError(
                layer.line,
                f"layer {index} [shortcut]: weights_type={wt} without weights_normalization: "
                'darknet exits ("Incorrect weights_normalization")',
            )
        self.c = shape.c
        self.outputs = shape.outputs
        self.hw = shape.h * shape.w
        self.normalization = {"avg_relu": "relu"}.get(wn, wn)
        self.weights: nn.Parameter | None = None
        if wt in ("per_feature", "per_layer"):
            self.weights = nn.Parameter(torch.ones(n + 1, 1))  # make_shortcut_layer fills weights with 1
        elif wt == "per_channel":
            self.weights = nn.Parameter(torch.ones(n + 1, shape.c))
        self.relu_floor = 0.0
        self.from_outputs = [s.outputs for s in sources]
        self.same = [is_image(s) and (s.c, s.h, s.w) == (shape.c, shape.h, shape.w) for s in sources]
        self.act = Activation(str(layer["activation"]), inplace=True)

    def normalized_weights(self) -> Tensor:
        """(n+1, C or 1) weights after darknet's normalisation over the n+1 inputs."""
        w = self.weights
        if w is None:
            raise RuntimeError("this shortcut has no weights (weights_type=none)")
        if self.normalization == "relu":
            r = torch.clamp(w, min=self.relu_floor)
            return r / (_SHORTCUT_EPS + r.sum(dim=0, keepdim=True))
        if self.normalization == "softmax":
            e = torch.exp(w - w.amax(dim=0, keepdim=True))
            return e / (_SHORTCUT_EPS + e.sum(dim=0, keepdim=True))
        return w

    def forward(self, x: Tensor, *froms: Tensor) -> Tensor:
        if self.weights is None:
            out = x
            for k, f in enumerate(froms):
                out = out + f if self.same[k] else self._add_flat(out, f, k, None)
        else:
            ws = self.normalized_weights()
            out = x * ws[0].view(1, -1, 1, 1)
            for k, f in enumerate(froms):
                w = ws[k + 1]
                out = out + f * w.view(1, -1, 1, 1) if self.same[k] else self._add_flat(out, f, k, w)
        return self.act(out)  # `out` is a fresh sum (from= is never empty), so the in-place act is safe

    def _add_flat(self, out: Tensor, f: Tensor, k: int, w: Tensor | None) -> Tensor:
        # shortcut_multilayer_cpu: element i of the from-layer is added to element i of the output while
        # i < from.outputs; a per-channel weight is indexed by the output channel i / (h*w)
        n = min(self.from_outputs[k], self.outputs)
        o = out.flatten(1)
        ff = f.flatten(1)[:, :n]
        if w is not None:
            ff = ff * (w.repeat_interleave(self.hw)[:n] if w.numel() > 1 else w)
        summed = o[:, :n] + ff
        if n < o.shape[1]:
            summed = torch.cat([summed, o[:, n:]], dim=1)
        return summed.view(out.shape)


class ScaleChannelsLayer(nn.Module):
    """[scale_channels]: from-layer * prev per channel (or per position with scale_wh=1), then act."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.act = Activation(str(layer["activation"]), inplace=True)

    def forward(self, gates: Tensor, x: Tensor) -> Tensor:
        return self.act(x * gates)  # gates is (B,C,1,1) or, with scale_wh, (B,1,H,W): broadcasting does both


class SamLayer(nn.Module):
    """[sam]: from-layer * prev elementwise, then act (sam_layer.c)."""

    def __init__(self, layer: Layer, shape: Shape, index: int):
        super().__init__()
        self.act = Activation(str(layer["activation"]), inplace=True)

    def forward(self, prev: Tensor, x: Tensor) -> Tensor:
        return self.act(x * prev)
