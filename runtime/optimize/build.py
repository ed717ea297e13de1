"""Inference optimisation of a plain DarknetModel, each step numerically equivalent to the plain build.

- BN folding (what darknet's fuse_conv_batchnorm does, in float64 with the same eps, NOTES.md section 3):
  w' = w*scale/sqrt(var+1e-5), b' = beta - scale*mean/sqrt(var+1e-5); for [connected] BN too.
- MixConv fusion (runtime.optimize.mixconv): each route-split / per-kernel conv / concat-route span found in the IR
  becomes one module: channel views instead of route copies ("split"), or one grouped conv with kernels
  zero-padded to the largest ("padded", the default: faster on CPU in benchmarks/RESULTS_runtime.md although
  it does more multiply-adds). mixconv="auto" times both on the model's device and keeps the faster one per
  span (torch.utils.benchmark, like runtime.bench); a span of the same geometry on the same device, dtype,
  memory format and threads takes the form chosen before in this process without timing again (on an H200
  timing every span of MixNet-M took 13-16 s of each build).
- squeeze-excitation fusion (runtime.optimize.squeeze_excite): avgpool / 1x1 conv / 1x1 conv / scale_channels spans run
  as mean, two matrix-vector products and one multiply.
- channels_last: NHWC weights, and the input converted once at the start; dense 1x1 stride-1 convs then run as
  one matrix product over the NHWC view (runtime.optimize.pointwise).
- freeze (optional): the runner traced per input signature (shape, dtype, device, memory format) with
  torch.jit.trace, then torch.jit.freeze (weights as constants, no Python between layers): what timm calls its
  best PyTorch inference mode. Without it, the runner's Python between its ~250 steps is a serial cost that a
  second thread cannot share. torch.jit.optimize_for_inference is not applied: it converts the graph to oneDNN's
  blocked layout, which was slower on CPU side by side (benchmarks/bench_vs_timm.py).
- torch.compile (optional): the whole runner traced by dynamo.

The result is a new model in eval mode (the plain one is left as it was); it is for inference only: weights
are loaded into and saved from the plain build.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal, TypedDict, overload

import torch
from torch import nn

from runtime.layers.conv import ConnectedLayer, ConvolutionalLayer, running_stats
from runtime.model import DarknetModel, Step
from runtime.optimize.mixconv import MixConvLayer, MixConvPattern, find_mixconv
from runtime.optimize.pointwise import PointwiseLinear, pointwise_eligible
from runtime.optimize.squeeze_excite import SEPattern, SqueezeExcite, find_squeeze_excite

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

MixMode = Literal["split", "padded", "auto", "none"]


@torch.no_grad()
def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) in float64 with y = x*scale + shift equal to eval-mode BN."""
    mean, var = running_stats(bn)
    inv = bn.weight.double() / torch.sqrt(var.double() + bn.eps)
    return inv, bn.bias.double() - mean.double() * inv


@torch.no_grad()
def fold_conv_bn(layer: ConvolutionalLayer) -> ConvolutionalLayer:
    """A copy of the layer with its BN folded into the conv (the layer itself is left untouched)."""
    new = copy.deepcopy(layer)
    if layer.bn is None or layer.binary:  # binarized weights: folding would change what is binarized
        return new
    scale, shift = _bn_affine(layer.bn)
    w = layer.conv.weight
    new.conv.weight.copy_((w.double() * scale.view(-1, 1, 1, 1)).to(w.dtype))
    new.conv.bias = nn.Parameter(shift.to(device=w.device, dtype=w.dtype))  # the conv had none: BN shifted it
    new.bn = None
    return new


@torch.no_grad()
def fold_connected_bn(layer: ConnectedLayer) -> ConnectedLayer:
    new = copy.deepcopy(layer)
    if layer.bn is None:
        return new
    scale, shift = _bn_affine(layer.bn)
    f = layer.fc
    fc = nn.Linear(f.in_features, f.out_features, bias=True, device=f.weight.device, dtype=f.weight.dtype)
    fc.weight.copy_((f.weight.double() * scale.view(-1, 1)).to(f.weight.dtype))
    fc.bias.copy_(shift.to(f.weight.dtype))
    new.fc, new.bn = fc, None
    return new


def _fold(module: nn.Module, fold_bn: bool) -> nn.Module:
    if fold_bn and isinstance(module, ConvolutionalLayer):
        return fold_conv_bn(module)
    if fold_bn and isinstance(module, ConnectedLayer):
        return fold_connected_bn(module)
    return copy.deepcopy(module)


def _span_conv(module: nn.Module, fold_bn: bool) -> ConvolutionalLayer:
    """A fused span's convolution, folded when asked (designer.spans matches [convolutional] layers only)."""
    if not isinstance(module, ConvolutionalLayer):
        raise TypeError(f"a fused span holds a {type(module).__name__}, not a ConvolutionalLayer")
    return fold_conv_bn(module) if fold_bn else copy.deepcopy(module)


def _mixconv_module(
    model: DarknetModel, p: MixConvPattern, fold_bn: bool, mode: str, channels_last: bool
) -> MixConvLayer:
    layers = [_span_conv(model.layers[i], fold_bn) for i in p.convs]
    split = model.shapes[p.source].c // len(p.convs)
    if mode != "auto":
        return MixConvLayer(p, layers, split, mode)
    candidates = [MixConvLayer(p, layers, split, "split"), MixConvLayer(p, layers, split, "padded")]
    if candidates[1].mode != "padded":
        return candidates[0]
    key = _span_key(layers, model.shapes[p.source], channels_last)
    if key not in _CHOSEN_FORM:
        _CHOSEN_FORM[key] = min(candidates, key=lambda m: _time_module(m, model, p, channels_last)).mode
    return candidates[0] if _CHOSEN_FORM[key] == "split" else candidates[1]


# the form mixconv="auto" chose per span geometry in this process (_span_key -> "split" | "padded")
_CHOSEN_FORM: dict[tuple, str] = {}


def _span_key(layers: list[ConvolutionalLayer], source, channels_last: bool) -> tuple:
    """What the timing of a span's two forms depends on: the device, dtype, memory format and threads it runs
    under, its input's shape, and each conv's geometry and activation (not its weights' values)."""
    w = layers[0].conv.weight
    convs = tuple(
        (tuple(m.conv.weight.shape), m.conv.stride, m.conv.padding, m.conv.dilation, m.conv.groups, m.act.name)
        for m in layers
    )
    return (str(w.device), w.dtype, channels_last, torch.get_num_threads(), (source.c, source.h, source.w), convs)


def _time_module(module: nn.Module, model: DarknetModel, p: MixConvPattern, channels_last: bool) -> float:
    from torch.utils import benchmark

    param = next(model.parameters())
    s = model.shapes[p.source]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(1, s.c, s.h, s.w, device=param.device, dtype=param.dtype).contiguous(memory_format=fmt)
    module = module.to(memory_format=fmt).eval()  # type: ignore[call-overload]  # torch's stub omits Module.to(memory_format=)
    with torch.no_grad():
        module(x)  # warm-up (oneDNN builds its kernels on the first call)
        t = benchmark.Timer("m(x)", globals={"m": module, "x": x}, num_threads=torch.get_num_threads())
        return t.blocked_autorange(min_run_time=0.05).median


class FrozenModel(nn.Module):
    """An eager DarknetModel run through a traced, frozen TorchScript graph per input signature."""

    def __init__(self, model: DarknetModel):
        super().__init__()
        self.model = model
        self._graphs: dict[tuple, torch.jit.ScriptModule] = {}

    def forward(self, x: torch.Tensor):
        if self.model.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        key = (tuple(x.shape), x.dtype, x.device, x.is_contiguous(memory_format=torch.channels_last))
        graph = self._graphs.get(key)
        if graph is None:
            import warnings

            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python values baked into the graph
                graph = torch.jit.freeze(torch.jit.trace(self.model.eval(), x, check_trace=False))
            self._graphs[key] = graph
        return graph(x)


class Passes(TypedDict, total=False):
    """optimize()'s options that keep the result a DarknetModel (freeze and compile wrap it)."""

    fold_bn: bool
    mixconv: MixMode
    squeeze_excite: bool
    channels_last: bool


@overload
def optimize(
    model: DarknetModel, *, freeze: Literal[False] = False, compile: Literal[False] = False, **passes: Unpack[Passes]
) -> DarknetModel: ...


@overload
def optimize(
    model: DarknetModel, *, freeze: bool = False, compile: bool = False, **passes: Unpack[Passes]
) -> nn.Module: ...


def optimize(
    model: DarknetModel,
    *,
    fold_bn: bool = True,
    mixconv: MixMode = "padded",
    squeeze_excite: bool = True,
    channels_last: bool = False,
    freeze: bool = False,
    compile: bool = False,
) -> nn.Module:
    """An inference-only copy of a plain model: BN folded, MixConv and SE spans fused, optionally NHWC, frozen or
    compiled. Returns a DarknetModel unless `freeze` (FrozenModel) or `compile` (torch.compile's wrapper) is set.
    """
    if model.optimized:
        raise ValueError("the model is already optimised; optimise the plain build")
    if freeze and compile:
        raise ValueError("choose freeze or compile, not both")
    spans: dict[int, MixConvPattern | SEPattern] = {}
    if mixconv != "none":
        spans.update((p.first, p) for p in find_mixconv(model.network, model.shapes, keep=model.outputs))
    if squeeze_excite:
        spans.update((p.first, p) for p in find_squeeze_excite(model.network, model.shapes, keep=model.outputs))
    modules: list[nn.Module] = []
    steps: list[Step] = []
    plain = {st.first: (k, st) for k, st in enumerate(model.steps)}
    i = 0
    while i < len(model.network.layers):
        p = spans.get(i)
        if isinstance(p, MixConvPattern):
            modules.append(_mixconv_module(model, p, fold_bn, mixconv, channels_last))
        elif isinstance(p, SEPattern):
            reduce, expand = (_span_conv(model.layers[plain[c][0]], fold_bn) for c in p.convs)
            act = str(model.network.layers[p.last]["activation"])
            modules.append(SqueezeExcite(p, reduce, expand, act))
        if p is not None:
            steps.append(Step(p.first, p.last, (p.source,), (None,)))
            i = p.last + 1
            continue
        k, st = plain[i]
        module = _fold(model.layers[k], fold_bn)
        if channels_last and isinstance(module, ConvolutionalLayer) and not module.binary:
            if pointwise_eligible(module.conv):
                module.conv = PointwiseLinear(module.conv)  # type: ignore[assignment]  # a stand-in with the conv's call contract
        modules.append(module)
        steps.append(st)
        i = st.last + 1
    out = DarknetModel(model.network, modules, steps, model.outputs, optimized=True, shapes=model.shapes)
    out.weights_header = model.weights_header
    out.eval().requires_grad_(False)
    if channels_last:
        out.set_channels_last()
    if freeze:
        return FrozenModel(out)
    if compile:
        return torch.compile(out)  # type: ignore[return-value]  # an OptimizedModule (an nn.Module); the stub says Callable
    return out
