"""Random designs across the design space, for calibration and for checking a model on designs it never saw.

The axes are the sweep's (designer.explore.space: width and depth multipliers, input size, channels per group in
the MixConv convs, and per row the kernel set, expand ratio and SE ratio), each point applied with
`space.apply`, so a calibration design is exactly what a sweep over the same values would build. Values span
what MixNet / EfficientNet designs use; invalid combinations are drawn again. Reproducible from a seed.

A MixNet has dense 3x3 convs only in its stem (3 input channels), no [maxpool] and no leaky activations, so a
model calibrated on MixNets alone would guess at a darknet53 or a yolov4-tiny. `random_plain_net` draws a darknet-
style classifier (dense 3x3 and 1x1 convs of 16-256 channels, residual [shortcut]s, [maxpool], leaky or mish)
and calibration measures one in every PLAIN_EVERY designs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from designer.cfg import parse_cfg
from designer.design_io import load_preset
from designer.explore.space import apply
from designer.ir import Network
from designer.lower import lower
from designer.spec import Arch

BASES = ("mixnet-s", "mixnet-m")
GLOBAL_VALUES: dict[str, tuple] = {
    "width-mult": (0.5, 0.75, 1.0, 1.25),
    "depth-mult": (0.5, 0.75, 1.0),
    "size": (96, 128, 160, 192, 224),
    "dw-group-size": (1, 1, 1, 2, 4, 8, 16),  # depthwise most often, as the presets are
}
ROW_VALUES: dict[str, tuple] = {
    "kernels": ((3,), (3, 5), (3, 5, 7), (3, 5, 7, 9), (5,), (3, 5, 7, 9, 11)),
    "expand": (1.0, 3.0, 6.0),
    "se": (0.0, 0.25, 0.5),
}
ROW_CHANGE = 0.4  # chance that a row's value of one row axis differs from the base design's
PLAIN_EVERY = 4  # one darknet-style plain net among this many calibration designs
# darknet's own range (darknet53, yolov3/v4-tiny: up to 1024 channels, 18.9 MB of weights in one 3x3 conv): a dense
# conv whose weights outgrow the caches costs more per multiply-add, which calibration must have seen to estimate
PLAIN_CHANNELS = (16, 32, 64, 128, 256, 512, 1024)
MAX_STEP_FMA = 800_000_000  # one conv step at most (yolov3-tiny's 512 -> 1024 3x3 at 13x13: 797M)
MAX_PLAIN_FMA = 2_000_000_000


def random_point(rng: random.Random, base: Arch, sizes: tuple[int, ...] | None = None) -> tuple:
    """One point of the space (the sweep's (key, value) pairs) around `base`."""
    values = [(k, rng.choice(sizes if k == "size" and sizes else v)) for k, v in GLOBAL_VALUES.items()]
    for r in range(len(base.blocks)):
        for key, options in ROW_VALUES.items():
            if rng.random() < ROW_CHANGE:
                values.append((f"row{r}.{key}", rng.choice(options)))
    return tuple(values)


def random_designs(
    seed: int = 0,
    *,
    bases: tuple[Arch, ...] | None = None,
    sizes: tuple[int, ...] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, Arch, Network]]:
    """Endless distinct valid designs: (label, design, network). `exclude`: labels not to produce (a check set
    disjoint from a calibration's)."""
    rng = random.Random(seed)
    bases = bases or tuple(load_preset(b) for b in BASES)
    seen = set(exclude)
    misses = 0
    while misses < 10_000:
        base = rng.choice(bases)
        point = apply(base, random_point(rng, base, sizes))
        label = f"{base.name}: {point.label}"
        if point.arch is None or label in seen:
            misses += 1
            continue
        seen.add(label)
        misses = 0
        yield label, point.arch, lower(point.arch)


def _conv(filters: int, size: int, stride: int, act: str) -> str:
    return (
        f"[convolutional]\nbatch_normalize=1\nfilters={filters}\nsize={size}\nstride={stride}\npad=1\n"
        f"activation={act}\n\n"
    )


def random_plain_net(rng: random.Random, sizes: tuple[int, ...] | None = None) -> tuple[str, Network]:
    """A darknet-style classifier: a 3x3 stem, then 4-10 random steps (dense 3x3 conv, stride 1 or 2; 1x1 conv;
    residual pair + [shortcut]; 2x2 [maxpool]), a 1x1 conv to 10 classes, [avgpool], [softmax]. A conv step's
    width is any of PLAIN_CHANNELS that keeps it within MAX_STEP_FMA, so wide convs come at small sizes, as in
    darknet's own nets; drawn again above MAX_PLAIN_FMA multiply-adds (seconds per pass on one core would eat the
    budget)."""
    from designer.cost import count

    while True:
        label, net = _plain_net(rng, sizes)
        if count(net).fma <= MAX_PLAIN_FMA:
            return label, net


def _plain_net(rng: random.Random, sizes: tuple[int, ...] | None) -> tuple[str, Network]:
    size = rng.choice(sizes or GLOBAL_VALUES["size"])
    act = rng.choice(("leaky", "leaky", "mish", "relu"))
    c, hw = rng.choice(PLAIN_CHANNELS[:3]), size
    text = [f"[net]\nwidth={size}\nheight={size}\nchannels=3\n\n", _conv(c, 3, 2, act)]
    hw //= 2
    steps = []
    for _ in range(rng.randint(4, 10)):
        op = rng.choice(("conv3", "conv3", "conv1", "residual", "maxpool"))
        if op in ("conv3", "conv1"):
            stride = 2 if op == "conv3" and hw >= 8 and rng.random() < 0.3 else 1
            k = 3 if op == "conv3" else 1
            out_hw = hw // stride
            fits = [v for v in PLAIN_CHANNELS if out_hw * out_hw * c * v * k * k <= MAX_STEP_FMA]
            c = rng.choice(fits or PLAIN_CHANNELS[:1])
            text.append(_conv(c, k, stride, act))
            hw //= stride
        elif op == "residual":
            if hw * hw * max(8, c // 2) * c * 9 > MAX_STEP_FMA:
                continue
            text += [
                _conv(max(8, c // 2), 1, 1, act),
                _conv(c, 3, 1, act),
                "[shortcut]\nfrom=-3\nactivation=linear\n\n",
            ]
        elif hw >= 8:
            text.append("[maxpool]\nsize=2\nstride=2\n\n")
            hw //= 2
        else:
            continue
        steps.append(op)
    text += [_conv(10, 1, 1, "linear"), "[avgpool]\n\n", "[softmax]\ngroups=1\n"]
    return f"plain {size}px {act}: {' '.join(steps)}", parse_cfg("".join(text))
