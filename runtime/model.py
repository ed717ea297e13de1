"""Darknet IR -> torch module: one table from layer type to builder, and the runner that executes it.

`build_model(network)` reads only the parsed IR (designer.parse_cfg / designer.lower give a Network):
layer types and resolved keys, shapes from designer.infer_shapes (passed in when the caller has them: computed
once per network), what each layer reads from designer.ir.layer_inputs (the one reference rule).
Each IR layer becomes one module named after darknet's layer (ConvolutionalLayer, RouteLayer, ...).

The runner (`DarknetModel.forward`) keeps darknet's data flow: every layer reads the previous layer's output
and, for route/shortcut/scale_channels/sam, the layers it references. It keeps a layer's output only until its
last reader has run, and skips layers nothing needs (a trailing [cost], the other heads of a detector when
only the last is asked for). The network output is the last layer that is not [cost], as in darknet.

A `Step` runs one module over IR layers [first, last] and produces layer `last`'s output: one layer in the
plain build; the optimised build (runtime.optimize) runs a whole MixConv or squeeze-excitation span as one.
A `RunPlan` is the steps one pass runs, in order, with what each frees; `DarknetModel.execute` runs a plan and
calls an optional per-step hook (runtime.bench times layers with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from designer.ir import INPUT, CfgError, Layer, Network, layer_inputs
from designer.shapes import Shape, infer_shapes
from runtime.layers import conv as cl
from runtime.layers import head as hl
from runtime.layers import merge as ml
from runtime.layers import spatial as sl

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from runtime.optimize.build import Passes

View = tuple[int, int, int] | None  # (c,h,w) to view a flat (non-image) output as, or None


@dataclass(frozen=True)
class Step:
    first: int
    last: int  # the IR layer whose output this step produces
    reads: tuple[int, ...]  # IR layer indices read, INPUT for the network input
    views: tuple[View, ...]  # per read: view a flat route buffer as this image first


@dataclass(frozen=True)
class BuildArgs:
    layer: Layer
    shape: Shape
    index: int
    shapes: tuple[Shape, ...]

    @property
    def sources(self) -> list[Shape]:
        return [self.shapes[s] for s in self.shape.sources]

    @property
    def prev_outputs(self) -> int:
        s = self.shape
        return self.shapes[self.index - 1].outputs if self.index else s.in_c * s.in_h * s.in_w


Builder = Callable[[BuildArgs], nn.Module]


def _simple(cls) -> Builder:
    return lambda a: cls(a.layer, a.shape, a.index)


# layer type -> builder
BUILDERS: dict[str, Builder] = {
    "convolutional": _simple(cl.ConvolutionalLayer),
    "connected": lambda a: cl.ConnectedLayer(a.layer, a.shape, a.index, a.prev_outputs),
    "batchnorm": _simple(cl.BatchnormLayer),
    "route": lambda a: ml.RouteLayer(a.layer, a.shape, a.index, a.sources),
    "shortcut": lambda a: ml.ShortcutLayer(a.layer, a.shape, a.index, a.sources),
    "scale_channels": _simple(ml.ScaleChannelsLayer),
    "sam": _simple(ml.SamLayer),
    "maxpool": _simple(sl.MaxpoolLayer),
    "local_avgpool": _simple(sl.LocalAvgpoolLayer),
    "avgpool": _simple(sl.AvgpoolLayer),
    "upsample": _simple(sl.UpsampleLayer),
    "reorg": _simple(sl.ReorgLayer),
    "reorg3d": _simple(sl.ReorgLayer),
    "crop": _simple(sl.CropLayer),
    "softmax": _simple(hl.SoftmaxLayer),
    "yolo": _simple(hl.YoloLayer),
    "region": _simple(hl.RegionLayer),
    "cost": _simple(hl.CostLayer),
    "dropout": _simple(hl.DropoutLayer),
    "activation": _simple(hl.ActivationLayer),
}

# The section types the torch runtime does not build, and why: the one list (build_plain refuses these naming the
# layer; tests/test_layer_tables.py checks BUILDERS and this cover every section type).
UNBUILDABLE: dict[str, str] = {
    "local": "locally connected layers (unshared weights per position) are not implemented",
    "normalization": "darknet's LRN is not implemented",
    "contrastive": "a training-only loss layer",
    "Gaussian_yolo": "Gaussian YOLOv3 heads are not implemented",
    "detection": "YOLOv1 detection heads are not implemented",
    "rnn": "recurrent layers keep state across time steps; not implemented",
    "gru": "recurrent layers keep state across time steps; not implemented",
    "lstm": "recurrent layers keep state across time steps; not implemented",
    "crnn": "recurrent layers keep state across time steps; not implemented",
    "conv_lstm": "recurrent layers keep state across time steps; not implemented",
    "history": "keeps the inputs of earlier time steps; not implemented",
    "empty": "not implemented (darknet's pass-through)",
    "implicit": "YOLOR implicit-knowledge layers are not implemented",
}
# A layer with antialiasing= adds a fixed blur conv the runtime does not build (designer.shapes.antialias_blur).
ANTIALIASING = "antialiasing= (darknet's extra blur conv) is not implemented"

# Layers that read their inputs as flat darknet buffers (so a flat route output needs no image view).
_FLAT_READERS = frozenset({"route", "connected", "softmax", "dropout", "cost", "activation"})


def _view(consumer: Layer, read: int, shapes: tuple[Shape, ...], position: int) -> View:
    if read == INPUT or consumer.type in _FLAT_READERS or ml.is_image(shapes[read]):
        return None
    if consumer.type == "shortcut" and position > 0:
        return None  # from-layers are added in flat order
    s = shapes[read]
    return (s.c, s.h, s.w)


def default_outputs(network: Network) -> tuple[int, ...]:
    """Darknet's network output: the last layer that is not [cost]."""
    for i in range(len(network.layers) - 1, -1, -1):
        if network.layers[i].type != "cost":
            return (i,)
    raise CfgError(network.net.line, "the network has only [cost] layers")


def plain_steps(network: Network, shapes: tuple[Shape, ...]) -> list[Step]:
    steps = []
    for i, layer in enumerate(network.layers):
        reads = layer_inputs(layer, i)
        views = tuple(_view(layer, r, shapes, p) for p, r in enumerate(reads))
        steps.append(Step(i, i, reads, views))
    return steps


@dataclass(frozen=True)
class PlannedStep:
    """Step `k` of a model (module `layers[k]`) in a run, and the outputs that can be let go after it."""

    k: int
    step: Step
    free: tuple[int, ...]


@dataclass(frozen=True)
class RunPlan:
    """The steps one forward pass runs, in order: pruned to what the outputs need, or every step."""

    steps: tuple[PlannedStep, ...]

    @classmethod
    def schedule(cls, steps: list[Step], outputs: tuple[int, ...], prune: bool = True) -> RunPlan:
        needed = set(outputs)
        run = []
        for k in range(len(steps) - 1, -1, -1):
            if prune and steps[k].last not in needed:
                continue
            run.append(k)
            needed.update(steps[k].reads)
        run.reverse()
        last_use: dict[int, int] = {}
        for k in run:
            for r in steps[k].reads:
                last_use[r] = k
        planned = []
        for k in run:
            st = steps[k]
            free = tuple(sorted({r for r in st.reads if last_use[r] == k and r not in outputs}))
            if st.last not in last_use and st.last not in outputs:
                free += (st.last,)  # computed but never read (only in the unpruned plan)
            planned.append(PlannedStep(k, st, free))
        return cls(tuple(planned))

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[PlannedStep]:
        return iter(self.steps)


# Called after each step with the planned step, its module, the inputs it got and its output.
StepHook = Callable[[PlannedStep, nn.Module, list[Tensor], Tensor], None]


def _as_image(t: Tensor, v: tuple[int, int, int]) -> Tensor:
    c, h, w = v
    return t.flatten(1)[:, : c * h * w].reshape(t.shape[0], c, h, w)


class DarknetModel(nn.Module):
    """A darknet network as torch: `layers[k]` runs `steps[k]`. forward(x) -> the output layer(s)."""

    def __init__(
        self,
        network: Network,
        modules: list[nn.Module],
        steps: list[Step],
        outputs: tuple[int, ...] | None = None,
        optimized: bool = False,
        shapes: tuple[Shape, ...] | None = None,
    ):
        super().__init__()
        self.network = network
        self.shapes = shapes if shapes is not None else infer_shapes(network)
        self.layers = nn.ModuleList(modules)
        self.steps = steps
        self.outputs = tuple(outputs) if outputs else default_outputs(network)
        self.optimized = optimized
        self.channels_last = False  # convert the input to NHWC at the start (set_channels_last)
        self.weights_header = (0, 2, 5, 0)  # major, minor, revision, seen: what darknet's save_weights writes
        self.plan = RunPlan.schedule(steps, self.outputs, prune=True)  # what forward() runs
        self.full_plan = RunPlan.schedule(steps, self.outputs, prune=False)  # every step (run_all)

    def set_channels_last(self) -> DarknetModel:
        """NHWC weights and input: often faster for convolutions on CPU (oneDNN) and on tensor cores."""
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub omits Module.to(memory_format=)
        self.channels_last = True
        return self

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        outs = self.execute(x)
        if len(self.outputs) == 1:
            return outs[self.outputs[0]]
        return tuple(outs[o] for o in self.outputs)

    def run_all(self, x: Tensor, on_output: Callable[[int, Tensor], None]) -> None:
        """Run every layer (nothing pruned) and call on_output(layer index, output) as each is produced."""
        self.execute(x, self.full_plan, lambda p, module, ins, y: on_output(p.step.last, y))

    def execute(self, x: Tensor, plan: RunPlan | None = None, on_step: StepHook | None = None) -> dict[int, Tensor]:
        """Run `plan` (default: the pruned plan forward() runs); outputs still held at the end, by layer index.
        `on_step` sees each step's module, inputs and output before anything is freed (per-layer timing)."""
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        outs: dict[int, Tensor] = {INPUT: x}
        layers = self.layers
        for p in plan if plan is not None else self.plan:
            st = p.step
            ins = [outs[r] if v is None else _as_image(outs[r], v) for r, v in zip(st.reads, st.views)]
            module = layers[p.k]
            y = module(*ins)
            outs[st.last] = y
            if on_step is not None:
                on_step(p, module, ins, y)
            for r in p.free:
                del outs[r]
        return outs

    def extra_repr(self) -> str:
        return f"layers={len(self.network.layers)}, outputs={self.outputs}, optimized={self.optimized}"


def _refuse(layer: Layer, index: int, why: str) -> CfgError:
    return CfgError(layer.line, f"layer {index} [{layer.type}] cannot be built by the torch runtime: {why}")


def build_plain(
    network: Network, outputs: tuple[int, ...] | None = None, shapes: tuple[Shape, ...] | None = None
) -> DarknetModel:
    """`shapes`: infer_shapes(network) when the caller has it already (shapes are computed once per network)."""
    if shapes is None:
        shapes = infer_shapes(network)
    modules: list[nn.Module] = []
    for i, (layer, shape) in enumerate(zip(network.layers, shapes)):
        builder = BUILDERS.get(layer.type)
        if builder is None:
            raise _refuse(layer, i, UNBUILDABLE.get(layer.type, "unknown layer type"))
        if layer.get("antialiasing"):
            raise _refuse(layer, i, ANTIALIASING)
        modules.append(builder(BuildArgs(layer, shape, i, shapes)))
    if outputs is not None:
        for o in outputs:
            if not 0 <= o < len(network.layers):
                raise ValueError(f"output layer {o} does not exist (0..{len(network.layers) - 1})")
    return DarknetModel(network, modules, plain_steps(network, shapes), outputs, shapes=shapes)


def build_model(
    network: Network,
    *,
    optimize: bool = False,
    outputs: tuple[int, ...] | None = None,
    shapes: tuple[Shape, ...] | None = None,
    **optimize_options: Unpack[Passes],
) -> DarknetModel:
    """Darknet semantics as an nn.Module (in eval mode). `optimize=True` returns runtime.optimize(plain build)
    with `optimize_options` (its passes: a DarknetModel still; freeze and compile are optimize's own).
    `shapes`: infer_shapes(network) if the caller has it (else computed here, once)."""
    model = build_plain(network, outputs, shapes).eval()
    if optimize:
        from runtime.optimize.build import optimize as _optimize

        model = _optimize(model, **optimize_options)
    return model


@torch.no_grad()
def randomize_bn(model: nn.Module, generator: torch.Generator | None = None) -> None:
    """Non-trivial BN statistics and affine parameters (for tests: fresh BN layers are the identity)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            mean, var = cl.running_stats(m)
            mean.copy_(torch.randn(n, generator=generator) * 0.1)
            var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)
            m.weight.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)
            m.bias.copy_(torch.randn(n, generator=generator) * 0.1)
