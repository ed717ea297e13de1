"""A YOLO head on a designed backbone: the detector variant of the Darknet bundle.

The backbone is the design's IR up to (not including) its classifier head: everything before the global
[avgpool] that starts the head, minus the head's 1x1 conv (the 1536-channel feature mixer of MixNet, which
only makes sense before global pooling). On it, yolov3-tiny's two-scale head (../shared/darknet/cfg/
yolov3-tiny.cfg), spelled with the rules of NOTES.md section 6 and checklist item 13:

    scale 1 (backbone stride S):   conv 3x3 F1 bn leaky -> conv 1x1 filters=(classes+5)*len(mask) linear -> [yolo]
    scale 2 (stride S/2):          [route] backbone -> conv 1x1 F2 bn leaky -> [upsample] 2
                                   -> [route] -1, <last stride-S/2 feature> -> conv 3x3 2*F2 bn leaky
                                   -> conv 1x1 filters=(classes+5)*len(mask) linear -> [yolo]

The stride-S/2 feature is the last layer at that resolution before the first stride-S layer, not counting
[route] channel slices: in an inverted-residual net that is the expansion conv of the first stride-S block
(the tap MobileNetV2-SSDLite uses), or the previous block's output when that block has no expansion.
Every [yolo] has the same classes, the full anchor list and num = number of anchors, and the last section
is a [yolo], so darknet's names/classes check cannot see classes=0.
"""

from __future__ import annotations

from dataclasses import replace

from designer.errors import EditError
from designer.ir import Layer, Network, make_layer
from designer.shapes import infer_shapes

HEAD_FILTERS = (256, 128)  # F1, F2: yolov3-tiny's widths
# yolov3-tiny's anchors (for 416x416), used when there are no boxes to cluster
TINY_ANCHORS = ((10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319))
DEFAULT_MASKS = ((3, 4, 5), (0, 1, 2))


def backbone_end(network: Network) -> int:
    """Index of the backbone's last layer: before the classifier tail's global [avgpool] and its 1x1 conv."""
    layers = network.layers
    shapes = infer_shapes(network)
    i = len(layers) - 1
    while i >= 0 and layers[i].type in ("softmax", "cost"):
        i -= 1
    k = i  # walk back over the classifier after the pool: [dropout], 1x1 convs on a 1x1 input, [connected]
    while k >= 0 and (
        layers[k].type in ("dropout", "connected")
        or (layers[k].type == "convolutional" and (shapes[k].in_h, shapes[k].in_w) == (1, 1))
    ):
        k -= 1
    if k >= 0 and layers[k].type == "avgpool":
        i = k - 1
        if i > 0 and layers[i].type == "convolutional" and layers[i]["size"] == 1:
            i -= 1  # the 1x1 conv feeding the global pool: MixNet's head mixer, or darknet19's classifier
    else:
        while i >= 0 and layers[i].type in ("dropout", "connected"):
            i -= 1
    if i < 0 or (shapes[i].h, shapes[i].w) == (1, 1) and layers[i].type == "avgpool":
        raise EditError("the network has no spatial backbone to put a detection head on")
    return i


def _stride16_tap(network: Network, end: int) -> int | None:
    """The last layer at twice the backbone's final resolution before the first layer at the final one."""
    shapes = infer_shapes(network)
    h_out = shapes[end].h
    first_final = next(i for i in range(end + 1) if shapes[i].h == h_out and shapes[i].w == shapes[end].w)
    for i in range(first_final - 1, -1, -1):
        L = network.layers[i]
        if L.type == "route" and L["groups"] > 1:
            continue
        if shapes[i].h == 2 * h_out and shapes[i].w == 2 * shapes[end].w:
            return i
        if shapes[i].h not in (1, 2 * h_out):
            return None
    return None


def _conv(filters: int, size: int, bn: bool, act: str) -> Layer:
    return make_layer(
        "convolutional", batch_normalize=int(bn), filters=filters, size=size, stride=1, pad=1, activation=act
    )


def _yolo(classes: int, mask: tuple[int, ...], anchors: tuple[tuple[int, int], ...]) -> Layer:
    flat = tuple(v for wh in anchors for v in wh)
    return make_layer(
        "yolo", mask=mask, anchors=flat, classes=classes, num=len(anchors), jitter=0.3, ignore_thresh=0.7, random=0
    )


def attach_yolo_head(
    network: Network,
    classes: int,
    anchors: tuple[tuple[int, int], ...],
    masks: tuple[tuple[int, ...], ...] = DEFAULT_MASKS,
) -> Network:
    """The backbone of `network` with one or two YOLO scales (one per mask group, coarsest first)."""
    if classes < 1:
        raise EditError(f"classes={classes}: a detector needs one or more")
    if not 1 <= len(masks) <= 2:
        raise EditError(f"{len(masks)} mask groups: this head has one or two scales")
    used = sorted(i for m in masks for i in m)
    if not used or min(used) < 0 or max(used) >= len(anchors):
        raise EditError(f"masks {masks} must index the {len(anchors)} anchors (0..{len(anchors) - 1})")
    _, h, w = network.input_shape[0], network.input_shape[1], network.input_shape[2]
    if h % 32 or w % 32:
        raise EditError(
            f"detector input {w}x{h}: use a multiple of 32 (darknet warns otherwise and the "
            "upsampled scale can miss its route partner)"
        )
    end = backbone_end(network)
    layers = list(network.layers[: end + 1])
    f1, f2 = HEAD_FILTERS
    layers += [
        _conv(f1, 3, True, "leaky"),
        _conv((classes + 5) * len(masks[0]), 1, False, "linear"),
        _yolo(classes, masks[0], anchors),
    ]
    if len(masks) == 2:
        tap = _stride16_tap(network, end)
        if tap is None:
            raise EditError(
                "the backbone has no layer at twice its final resolution for a second YOLO scale; "
                "give one mask group (e.g. --masks 0,1,2)"
            )
        n = len(layers)
        layers.append(make_layer("route", layers=(end - n,)))
        layers += [_conv(f2, 1, True, "leaky"), make_layer("upsample", stride=2)]
        n = len(layers)
        layers.append(make_layer("route", layers=(-1, tap - n)))
        layers += [
            _conv(2 * f2, 3, True, "leaky"),
            _conv((classes + 5) * len(masks[1]), 1, False, "linear"),
            _yolo(classes, masks[1], anchors),
        ]
    det = replace(network, layers=tuple(layers), design=None)
    infer_shapes(det)  # raises CfgError if a filters rule or a route size does not hold
    return det


def parse_anchors(text: str) -> tuple[tuple[int, int], ...]:
    vals = [v for v in text.replace(" ", "").split(",") if v]
    if len(vals) % 2 or not vals:
        raise EditError(f"anchors {text!r}: give w,h pairs")
    try:
        nums = [int(round(float(v))) for v in vals]
    except ValueError:
        raise EditError(f"anchors {text!r}: not numbers") from None
    if min(nums) < 1:
        raise EditError(f"anchors {text!r}: sizes must be positive pixels")
    return tuple((nums[i], nums[i + 1]) for i in range(0, len(nums), 2))


def parse_masks(text: str) -> tuple[tuple[int, ...], ...]:
    try:
        return tuple(tuple(int(v) for v in grp.split(",") if v.strip()) for grp in text.split(";") if grp.strip())
    except ValueError:
        raise EditError(f"masks {text!r}: comma lists of anchor indices, scales separated by ';'") from None


def scaled_tiny_anchors(size: int) -> tuple[tuple[int, int], ...]:
    s = size / 416.0
    return tuple((max(1, round(w * s)), max(1, round(h * s))) for w, h in TINY_ANCHORS)
