"""IR edits that training and bundling make to a network, torch-free.

- `prepare_network(source, size, classes)`: the network to train at a size with a number of classes (a design
  is re-lowered; a cfg gets its [net] size and its classifier layer retargeted).
- `classifier_index` / `logits_index`: where a classifier cfg's class scores come from.

The YOLO head on a backbone is designer/yolo_head.py.
"""

from __future__ import annotations

from dataclasses import replace

import designer
from designer.cfg import with_net
from designer.shapes import infer_shapes

_TAIL_SKIP = ("avgpool", "dropout")


def classifier_index(network: designer.Network) -> int:
    """Index of the layer whose filters/outputs are the classes: the conv/connected before [softmax]."""
    layers = network.layers
    i = len(layers) - 1
    while i >= 0 and layers[i].type == "cost":
        i -= 1
    if i < 0 or layers[i].type != "softmax":
        raise ValueError("the cfg does not end in [softmax] (optionally followed by [cost]): quick-train needs a "
                         "classifier; end it with a 1x1 [convolutional] filters=<classes> (or [connected]), "
                         "[avgpool] and [softmax]")
    i -= 1
    while i >= 0 and layers[i].type in _TAIL_SKIP:
        i -= 1
    if i < 0 or layers[i].type not in ("convolutional", "connected"):
        found = layers[i].type if i >= 0 else "nothing"
        raise ValueError(f"before [softmax] (skipping [avgpool]/[dropout]) there is [{found}] at layer {i}; "
                         "quick-train needs a [convolutional] or [connected] classifier layer there")
    return i


def prepare_network(source: designer.Arch | designer.Network, size: int, classes: int) -> designer.Network:
    """The network to train at `size` x `size` with `classes` outputs.

    A design is re-lowered with input_size/classes replaced. A cfg gets [net] width/height set and its
    classifier layer's filters (or [connected] output) set to `classes`; a cfg exported by mixdesign (it
    carries its design) is re-lowered instead, so the embedded design stays true. Raises ValueError saying
    what to change when the cfg has no recognisable classifier tail or the classes do not reach [softmax].
    """
    if classes < 2:
        raise ValueError(f"classes={classes}: a classifier needs two or more")
    if isinstance(source, designer.Arch):
        return designer.lower(replace(source, input_size=size, classes=classes))
    if source.design:
        try:
            arch = designer.load_yaml(source.design)
            same = replace(designer.lower(arch), design=None) == replace(source, design=None)
        except (designer.DesignFormatError, designer.DesignError):
            same = False  # a hand-edited cfg whose design comment no longer lowers: treat it as a plain cfg
        if same:  # a DesignError here (e.g. a size below the total stride) is the user's: it propagates
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
        raise ValueError(f"[softmax] gets {shapes[soft].outputs} values at input {size}, not {classes}: layer {k} "
                         f"outputs {s.c}x{s.h}x{s.w}; add an [avgpool] after it (global pooling) so the softmax "
                         "sees one value per class")
    return net


def logits_index(network: designer.Network) -> int:
    """The layer right before [softmax]: its output is the logits (1x1xK after the pool, or K flat)."""
    return max(i for i, L in enumerate(network.layers) if L.type == "softmax") - 1
