"""IR edits that training and bundling make to a network, torch-free.

- `prepare_network(source, size, classes)`: the network to train at a size with a number of classes (a design
  is re-lowered; a cfg gets its [net] size and its classifier layer retargeted).
- `classifier_index` / `logits_index`: where a classifier cfg's class scores come from.
- `training_net(network, recipe)`: [net] with the training keys darknet reads (`TrainingRecipe`; the app's
  -train.cfg uses IMAGENET_RECIPE, `mixdesign bundle` its flags).

The YOLO head on a backbone is designer/yolo_head.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import designer
from designer.cfg import with_net
from designer.embedded import embedded_design
from designer.errors import EditError
from designer.shapes import infer_shapes

_TAIL_SKIP = ("avgpool", "dropout")


def classifier_index(network: designer.Network) -> int:
    """Index of the layer whose filters/outputs are the classes: the conv/connected before [softmax]."""
    layers = network.layers
    i = len(layers) - 1
    while i >= 0 and layers[i].type == "cost":
        i -= 1
    if i < 0 or layers[i].type != "softmax":
        raise EditError(
            "the cfg does not end in [softmax] (optionally followed by [cost]): quick-train needs a "
            "classifier; end it with a 1x1 [convolutional] filters=<classes> (or [connected]), "
            "[avgpool] and [softmax]"
        )
    i -= 1
    while i >= 0 and layers[i].type in _TAIL_SKIP:
        i -= 1
    if i < 0 or layers[i].type not in ("convolutional", "connected"):
        found = layers[i].type if i >= 0 else "nothing"
        raise EditError(
            f"before [softmax] (skipping [avgpool]/[dropout]) there is [{found}] at layer {i}; "
            "quick-train needs a [convolutional] or [connected] classifier layer there"
        )
    return i


def prepare_network(source: designer.Arch | designer.Network, size: int, classes: int) -> designer.Network:
    """The network to train at `size` x `size` with `classes` outputs.

    A design is re-lowered with input_size/classes replaced. A cfg gets [net] width/height set and its
    classifier layer's filters (or [connected] output) set to `classes`; a cfg exported by mixdesign (it
    carries its design) is re-lowered instead, so the embedded design stays true. Raises EditError saying
    what to change when the cfg has no recognisable classifier tail or the classes do not reach [softmax].
    """
    if classes < 2:
        raise EditError(f"classes={classes}: a classifier needs two or more")
    if isinstance(source, designer.Arch):
        return designer.lower(replace(source, input_size=size, classes=classes))
    arch = embedded_design(source).arch  # None for a hand-edited cfg: it is trained as its layers
    if arch is not None:
        return designer.lower(replace(arch, input_size=size, classes=classes))
    k = classifier_index(source)
    layer = source.layers[k]
    key = "filters" if layer.type == "convolutional" else "output"
    layers = list(source.layers)
    layers[k] = layer.set(**{key: classes})
    net = with_net(replace(source, layers=tuple(layers), design=None), width=size, height=size)
    shapes = infer_shapes(net)  # CfgError if the new size does not fit the strides
    soft = next(i for i in range(len(layers) - 1, -1, -1) if layers[i].type == "softmax")
    if shapes[soft].outputs != classes:
        s = shapes[k]
        raise EditError(
            f"[softmax] gets {shapes[soft].outputs} values at input {size}, not {classes}: layer {k} "
            f"outputs {s.c}x{s.h}x{s.w}; add an [avgpool] after it (global pooling) so the softmax "
            "sees one value per class"
        )
    return net


def logits_index(network: designer.Network) -> int:
    """The layer right before [softmax]: its output is the logits (1x1xK after the pool, or K flat)."""
    return max(i for i, L in enumerate(network.layers) if L.type == "softmax") - 1


@dataclass(frozen=True)
class TrainingRecipe:
    """The [net] keys darknet reads when training. None: the default for the kind of network, darknet19's recipe
    for a classifier (poly, lr 0.1, `epochs` over the training images), yolov3-tiny's for a detector (steps at
    80% and 90%, lr 0.001, burn-in, colour jitter)."""

    batch: int = 64
    subdivisions: int = 1
    learning_rate: float | None = None  # 0.1 classifier, 0.001 detector
    policy: str | None = None  # poly classifier, steps detector
    power: float = 4.0  # policy=poly
    steps: tuple[int, ...] | None = None  # policy=steps/sgdr; default 80% and 90% of max_batches
    scales: tuple[float, ...] | None = None  # default 0.1 per step
    max_batches: int | None = None  # default `epochs` over train_images (classifier), max(6000, 2000 x classes)
    burn_in: int | None = None  # default 0 (classifier), min(1000, max_batches / 10) (detector)
    momentum: float = 0.9
    decay: float = 0.0005
    flip: int | None = None  # None: darknet's default (1, random horizontal flips)
    crop_to_input: bool = False  # min_crop=max_crop=input size: no scale jitter (small, centred images)
    epochs: int = 30


# The ImageNet recipe of darknet's darknet53.cfg: what the app's -train.cfg starts from.
IMAGENET_RECIPE = TrainingRecipe(
    batch=128, subdivisions=4, learning_rate=0.1, policy="poly", max_batches=800000, burn_in=1000
)


def training_net(
    network: designer.Network, recipe: TrainingRecipe, *, detector: bool = False, train_images: int | None = None
) -> designer.Network:
    """The same network (layers and embedded design unchanged) with [net] training keys set from `recipe`."""
    r = recipe
    if r.batch < 1 or r.subdivisions < 1 or r.batch % r.subdivisions:
        raise EditError(f"batch={r.batch} must be a positive multiple of subdivisions={r.subdivisions}")
    max_batches = r.max_batches
    if not max_batches and detector:
        max_batches = max(6000, 2000 * int(network.layers[-1]["classes"]))
    elif not max_batches and train_images:
        max_batches = max(100, math.ceil(r.epochs * train_images / r.batch))
    if not max_batches or max_batches < 1:
        raise EditError("max_batches must be positive (darknet classifier train never stops on 0)")
    policy = r.policy or ("steps" if detector else "poly")
    keys: dict = {
        "batch": r.batch,
        "subdivisions": r.subdivisions,
        "momentum": r.momentum,
        "decay": r.decay,
        "learning_rate": r.learning_rate or (0.001 if detector else 0.1),
        "max_batches": max_batches,
        "policy": policy,
    }
    if r.flip is not None:
        keys["flip"] = r.flip
    burn_in = r.burn_in if r.burn_in is not None else (min(1000, max_batches // 10) if detector else 0)
    if burn_in:
        keys["burn_in"] = burn_in
    if policy == "poly":
        keys["power"] = r.power
    elif policy in ("steps", "sgdr"):
        steps = r.steps or (int(max_batches * 0.8), int(max_batches * 0.9))
        scales = r.scales or tuple(0.1 for _ in steps)
        if len(steps) != len(scales):
            raise EditError(f"steps={steps} and scales={scales} need the same number of values")
        keys.update(steps=steps, scales=scales)
    if detector:
        keys.update(saturation=1.5, exposure=1.5, hue=0.1)  # yolov3-tiny's colour jitter
    elif r.crop_to_input:
        # AlexeyAB's classifier loader scales the short side to a random size in [min_crop, max_crop]
        # (default w..2w) and crops w x h: on small, centred images that cuts the object. No scale jitter.
        size = network.input_shape[1]
        keys.update(min_crop=size, max_crop=size)
    return with_net(network, **keys)
