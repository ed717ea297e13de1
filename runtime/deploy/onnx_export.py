"""A darknet network (IR, optionally with darknet .weights) as an ONNX model whose node names say which darknet
layer each node computes.

Exporter: torch.onnx's TorchScript exporter (`dynamo=False`). With torch 2.13 both exporters produce a valid
model, but the dynamo exporter takes ~4 s for MixNet-M against ~0.3 s, and the TorchScript exporter already
names every node after the module that emitted it (`/layers.17/conv/Conv`), which is what maps it back to a
darknet layer. The model is the runtime's own DarknetModel (plain or optimised build), so ONNX computes what the
runtime computes.

Node names: `/layers.K/<path>/<Op>` (step K of the model) becomes `L<first>_<type>/<path>/<Op>`, or
`L<first>-<last>_<kind>/...` for a fused span of the optimised build (`L12-18_mixconv`, `L25-28_squeeze_excite`).
`layer_of(name)` reads that prefix back (onnxruntime's profiler and OpenVINO keep it in their node names).

Outputs: darknet's network output (the last layer that is not [cost]), or every [yolo] layer of a detector,
each as darknet computes it; named like the nodes (`L30_yolo`). The input is `input`, NCHW float32, fixed batch
or a symbolic `batch` dimension.

Every model is checked with `onnx.checker.check_model(full_check=True)` and strict ONNX shape inference before it
is returned; what the exporter cannot express is refused as an ExportError naming the darknet layer.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from designer.errors import MixdesignError
from designer.ir import Network
from runtime.model import DarknetModel, build_model

DEFAULT_OPSET = 17
OPSETS = range(13, 21)  # what the TorchScript exporter writes (13: Split/Squeeze with inputs; 20: its newest)
INPUT_NAME = "input"
_SCOPE = re.compile(r"^/?layers\.(\d+)([/.].*)?$")  # node / value names, initializers
LAYER_NAME = re.compile(r"L(\d+)(?:-(\d+))?_([a-z0-9_]+?)(?=/|$)")


def _expm1(g, x):
    """aten::expm1 (darknet's elu and selu) has no ONNX symbolic in torch 2.13: exp(x) - 1, equal in float32 to
    well under the tests' 1e-5 of the output's peak."""
    return g.op("Sub", g.op("Exp", x), g.op("Constant", value_t=torch.tensor(1.0, dtype=torch.float32)))


torch.onnx.register_custom_op_symbolic("aten::expm1", _expm1, OPSETS.start)


class ExportError(MixdesignError):
    """A network (or one of its layers) that cannot be written as ONNX, or an export option out of range."""


@dataclass(frozen=True)
class StepName:
    """What one exported step computes: darknet layers first..last, of this type (or fused kind)."""

    first: int
    last: int
    kind: str

    def __str__(self) -> str:
        span = f"{self.first}" if self.first == self.last else f"{self.first}-{self.last}"
        return f"L{span}_{self.kind}"


def step_names(model: DarknetModel) -> list[StepName]:
    """One name per step of the model (index k = model.layers[k])."""
    out = []
    for layer, st in zip(model.layers, model.steps):
        kind = getattr(layer, "kind", None) or model.network.layers[st.first].type
        out.append(StepName(st.first, st.last, kind))
    return out


def layer_of(node_name: str) -> StepName | None:
    """The darknet layer(s) an exported node (or a runtime's node derived from it) belongs to, from its name."""
    m = LAYER_NAME.search(node_name)
    if m is None:
        return None
    first = int(m.group(1))
    return StepName(first, int(m.group(2) or first), m.group(3))


def detector_outputs(network: Network) -> tuple[int, ...] | None:
    """Every [yolo] layer of a detector (darknet returns them all), None for darknet's single output."""
    yolo = tuple(i for i, layer in enumerate(network.layers) if layer.type == "yolo")
    return yolo or None


def export_network(
    network: Network,
    *,
    weights: str | Path | None = None,
    batch: int | None = 1,
    opset: int = DEFAULT_OPSET,
    optimized: bool = True,
) -> onnx.ModelProto:
    """The checked ONNX model of `network` (random weights unless a darknet .weights file is given).

    `batch=None` exports a symbolic batch dimension. Raises ExportError / WeightsError / CfgError (user errors).
    """
    from runtime.weights import load_weights

    model = build_model(network, outputs=detector_outputs(network))
    if weights is not None:
        load_weights(model, weights)
    return export_model(model, batch=batch, opset=opset, optimized=optimized)


def export_model(
    model: DarknetModel, *, batch: int | None = 1, opset: int = DEFAULT_OPSET, optimized: bool = True
) -> onnx.ModelProto:
    """A plain-build DarknetModel (weights as loaded) as a checked ONNX model; optimised first if asked."""
    if opset not in OPSETS:
        raise ExportError(
            f"opset {opset} is not supported (use {OPSETS.start}..{OPSETS.stop - 1}; default {DEFAULT_OPSET})"
        )
    if batch is not None and batch < 1:
        raise ExportError(f"batch must be at least 1, got {batch}")
    if model.optimized:
        raise ExportError("export takes the plain build (weights load into it); it is optimised here")
    model = model.eval()
    if optimized:
        from runtime.optimize.build import optimize

        model = optimize(model, mixconv="padded")
    names = step_names(model)
    outputs = [str(StepName(o, o, model.network.layers[o].type)) for o in model.outputs]
    x = torch.randn(batch or 1, *model.network.input_shape)
    dynamic = None if batch is not None else {n: {0: "batch"} for n in (INPUT_NAME, *outputs)}
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings (Python ints baked in) and the exporter's notice
            torch.onnx.export(
                model,
                (x,),
                buf,  # type: ignore[arg-type]  # the TorchScript exporter (dynamo=False) writes to a file object too
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=outputs,
                dynamic_axes=dynamic,
                do_constant_folding=True,
            )
    except Exception as e:  # noqa: BLE001 (the exporter raises many types; find the layer and say why)
        raise _unexportable(model, names, x, opset, e) from None
    proto = onnx.load_from_string(buf.getvalue())
    _drop_weight_identities(proto.graph)
    _rename_nodes(proto.graph, names)
    proto.doc_string = (
        f"darknet network with {len(model.network.layers)} layers exported by mixnet-designer "
        f"({'optimised' if optimized else 'plain'} build); node names L<layer>_<type>"
    )
    check(proto)
    return proto


def check(proto: onnx.ModelProto) -> None:
    """onnx.checker with full_check, which includes ONNX shape inference in strict mode with type checks (the
    C++ checker runs InferShapes(check_type=true, error_mode=1)); an ExportError naming the problem on failure."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ExportError(f"the exported model fails ONNX's checks: {str(e).splitlines()[0]}") from None


def _drop_weight_identities(graph: onnx.GraphProto) -> None:
    """Remove `Identity(initializer)` nodes the exporter leaves for constant-folded weights: readers use the
    initializer directly (they carry no scope, so they would be the only nodes without a layer name)."""
    inits = {t.name for t in graph.initializer}
    outs = {o.name for o in graph.output}
    alias = {}
    keep = []
    for n in graph.node:
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in outs:
            alias[n.output[0]] = n.input[0]
        else:
            keep.append(n)
    if not alias:
        return
    for n in keep:
        for i, name in enumerate(n.input):
            if name in alias:
                n.input[i] = alias[name]
    del graph.node[:]
    graph.node.extend(keep)


def _rename_nodes(graph: onnx.GraphProto, names: list[StepName]) -> None:
    """`/layers.K/...` -> `L<first>_<type>/...` in node, value and initializer names (runtimes name the nodes
    they create after the values: onnxruntime's `<value>_nchwc`); an unscoped node takes the name of the step
    that reads its output."""

    def rename(name: str) -> str:
        m = _SCOPE.match(name)
        return f"{names[int(m.group(1))]}{m.group(2) or ''}" if m else name

    for t in graph.initializer:
        t.name = rename(t.name)
    for v in (*graph.value_info, *graph.output):
        v.name = rename(v.name)
    consumer: dict[str, str] = {}
    for n in graph.node:
        n.name = rename(n.name)
        for i, v in enumerate(n.input):
            n.input[i] = rename(v)
        for i, v in enumerate(n.output):
            n.output[i] = rename(v)
        if LAYER_NAME.match(n.name):
            for v in n.input:
                consumer.setdefault(v, n.name.split("/", 1)[0])
    for k, n in enumerate(graph.node):
        if not LAYER_NAME.match(n.name):
            owner = next((consumer[o] for o in n.output if o in consumer), "graph")
            n.name = f"{owner}/{n.name or n.op_type}_{k}"


def _unexportable(
    model: DarknetModel, names: list[StepName], x: torch.Tensor, opset: int, error: Exception
) -> ExportError:
    """Export each step alone on its real inputs to find the layer the exporter refuses."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    inputs: dict[int, tuple[torch.Tensor, ...]] = {}  # step -> its inputs in a real forward pass
    hooks = [
        layer.register_forward_pre_hook(lambda m, args, k=k: inputs.setdefault(k, args) and None)
        for k, layer in enumerate(model.layers)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    for k, ins in inputs.items():
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    _Step(model.layers[k]),
                    ins,
                    io.BytesIO(),  # type: ignore[arg-type]  # as in export_model: a file object works
                    dynamo=False,
                    opset_version=opset,
                )
        except Exception as e:  # noqa: BLE001
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            n = names[k]
            return ExportError(
                f"[{n.kind}] cannot be exported to ONNX opset {opset}: {msg}",
                layer=n.first,
                line=model.network.layers[n.first].line,
            )
    return ExportError(f"the network cannot be exported to ONNX opset {opset}: {reason}")


class _Step(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.layer(*xs)
