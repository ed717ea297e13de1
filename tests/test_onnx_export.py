"""`mixdesign onnx` and runtime.deploy.onnx_export: sources, weights, node names, outputs, checks, bad input.

Every export is checked by onnx.checker (full check) and strict shape inference inside export_model; these tests
check that again on the written file, and that errors are one line with no .onnx left behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import designer
from designer.api.sources import load_source, to_network
from designer.cli import main
from runtime.deploy.onnx_export import (
    ExportError,
    export_model,
    export_network,
    layer_of,
)
from runtime.model import build_model
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[1]
NODE = r"^L\d+(-\d+)?_[a-z0-9_]+/"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _checked(path: Path) -> onnx.ModelProto:
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    return proto


def test_preset_node_names_carry_darknet_layers(tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.onnx"
    code, msg, err = run(capsys, "onnx", "mixnet-s", "--size", "64", "-o", str(out))
    assert code == 0 and "wrote" in msg and "opset 17" in msg and err == ""
    proto = _checked(out)
    net = to_network(load_source("mixnet-s"), size=64)
    names = [n.name for n in proto.graph.node]
    import re

    assert all(re.match(NODE, n) for n in names), [n for n in names if not re.match(NODE, n)][:5]
    steps = {layer_of(n) for n in names}
    for s in steps:  # the type in the name is the darknet layer's (or the fused span's kind)
        assert s.kind in ("mixconv", "squeeze_excite") or net.layers[s.first].type == s.kind
    kinds = {s.kind for s in steps}
    assert {"convolutional", "mixconv", "squeeze_excite", "softmax"} <= kinds
    assert [o.name for o in proto.graph.output] == [f"L{len(net.layers) - 1}_softmax"]
    assert [p.name for p in tmp_path.iterdir()] == ["s.onnx"]


def test_plain_build_names_every_layer(tmp_path: Path, capsys) -> None:
    out = tmp_path / "t.onnx"
    assert run(capsys, "onnx", str(REPO / "tests/data/tiny.yaml"), "--plain", "-o", str(out))[0] == 0
    proto = _checked(out)
    net = designer.lower(designer.load_yaml(REPO / "tests/data/tiny.yaml"))
    seen = {layer_of(n.name).first for n in proto.graph.node}
    # every layer that computes something has a node (routes that only forward a whole tensor may vanish)
    computing = {
        i
        for i, L in enumerate(net.layers)
        if L.type in ("convolutional", "shortcut", "scale_channels", "avgpool", "softmax", "connected")
    }
    assert computing <= seen
    assert all(layer_of(n.name).first == layer_of(n.name).last for n in proto.graph.node)  # no fused spans


def test_dynamic_batch_and_opset(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.onnx"
    assert run(capsys, "onnx", "mixnet-s", "--size", "32", "--dynamic-batch", "--opset", "13", "-o", str(out))[0] == 0
    proto = _checked(out)
    assert proto.opset_import[0].version == 13
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    import onnxruntime as ort

    s = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32), dtype=np.float32)
    y = s.run(None, {"input": x})[0]
    assert y.shape[0] == 3  # exported at batch 1 with a symbolic batch, run at batch 3
    assert np.allclose(y.reshape(3, -1).sum(axis=1), 1, atol=1e-5)  # three softmax rows, one per image


def test_yolo_heads_are_all_outputs(tmp_path: Path, capsys) -> None:
    cfg = shared_path("darknet", "cfg", "yolov3-tiny.cfg")
    out = tmp_path / "y.onnx"
    assert run(capsys, "onnx", str(cfg), "--size", "64", "--plain", "-o", str(out))[0] == 0
    proto = _checked(out)
    net = designer.parse_cfg(cfg)
    yolo = [i for i, L in enumerate(net.layers) if L.type == "yolo"]
    assert [o.name for o in proto.graph.output] == [f"L{i}_yolo" for i in yolo] and len(yolo) == 2


def test_cfg_with_darknet_weights(tmp_path: Path, capsys) -> None:
    case = shared_path("darknet", "cases", "conv_bn_leaky")
    out = tmp_path / "c.onnx"
    code, msg, _ = run(capsys, "onnx", str(case / "net.cfg"), "--weights", str(case / "net.weights"), "-o", str(out))
    assert code == 0 and "weights from" in msg
    proto = _checked(out)
    net = designer.parse_cfg(case / "net.cfg")
    from runtime.weights import load_weights

    model = load_weights(build_model(net), case / "net.weights")
    x = np.fromfile(case / "input.f32", dtype="<f4").reshape(1, *net.input_shape)
    import onnxruntime as ort

    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.abs(got[0] - want).max() <= 1e-5 * np.abs(want).max()


def test_truncated_weights_one_line_no_file(tmp_path: Path, capsys) -> None:
    case = shared_path("darknet", "cases", "conv_bn_leaky")
    short = tmp_path / "short.weights"
    short.write_bytes((case / "net.weights").read_bytes()[:100])
    out = tmp_path / "c.onnx"
    code, msg, err = run(capsys, "onnx", str(case / "net.cfg"), "--weights", str(short), "-o", str(out))
    assert code == 2 and msg == ""
    assert err.count("\n") == 1 and "layer 0 [convolutional]" in err and "too short" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.weights"]


def test_unexportable_layer_is_named(tmp_path: Path, capsys, monkeypatch) -> None:
    # no darknet layer is unexportable today; an activation built on an op the exporter lacks stands in for one
    import runtime.layers.activations as acts

    monkeypatch.setitem(acts.ACTIVATION_FNS, "relu", lambda x: torch.special.i1e(x))
    monkeypatch.delitem(acts._INPLACE, "relu")
    out = tmp_path / "m.onnx"
    code, msg, err = run(capsys, "onnx", "mixnet-s", "--size", "32", "-o", str(out))
    assert code == 2 and msg == "" and err.count("\n") == 1
    assert "layer 0" in err and "[convolutional] cannot be exported" in err and "i1e" in err
    assert not list(tmp_path.iterdir())


def test_unexportable_layer_api_names_fused_span() -> None:
    net = to_network(load_source("mixnet-s"), size=32)
    model = build_model(net)
    model.layers[5].conv.forward = lambda x: torch.special.i1e(x)  # layer 5 is in the first MixConv span
    with pytest.raises(ExportError, match=r"layer 5: \[convolutional\] cannot be exported"):
        export_model(model, optimized=False)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--opset", "9"], "opset 9 is not supported (use 13..20"),
        (["--batch", "0"], "batch must be at least 1"),
    ],
)
def test_bad_options_one_line(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, "onnx", "mixnet-s", "--size", "32", "-o", str(tmp_path / "x.onnx"), *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_unknown_source_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "onnx", "nope.cfg", "-o", str(tmp_path / "x.onnx"))
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_export_network_api_matches_cli_defaults() -> None:
    net = to_network(load_source("mixnet-s"), size=32)
    proto = export_network(net)
    assert proto.opset_import[0].version == 17
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 32, 32]
