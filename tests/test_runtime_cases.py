"""The torch runtime against Darknet's own outputs: every hand-made net in ../shared/darknet/cases.

Each case holds net.cfg, net.weights, input.f32 (float32 CHW) and output.f32 (layer `output_layer`, as the
Darknet CPU build computed it). The runtime must reproduce it to 1e-4 of the output's peak. Cases marked
`darknet_cpu_output_is_correct: false` record a documented CPU bug (NOTES.md section 3: relu6, and swish /
mish / hard_mish outside conv, come out as 0): there the recorded zeros are checked, the runtime is checked
against an independent NumPy formula of the correct (GPU) activation, and the case is reported as xfail. The
dilation-with-padding-0 case is refused by the reader, and a NumPy model of darknet's mis-read reproduces its
recorded (scrambled) output, which shows why.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import designer
from designer.activations import cpu_gives_zero
from designer.ir import CfgError
from runtime import build_model, load_weights
from runtime.layers.merge import DARKNET_FUSED_RELU_FLOOR, ShortcutLayer
from tests.conftest import SHARED

CASES = SHARED / "darknet" / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir()) if CASES.is_dir() else []
TOL = 1e-4

# Correct activations, written independently of runtime/layers/activations.py.
NUMPY_ACT = {
    "relu6": lambda x: np.clip(x, 0, 6),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "hard_mish": lambda x: np.where(x > 0, x, np.where(x > -2, x * x / 2 + x, 0)),
}


pytestmark = [
    pytest.mark.skipif(not CASE_DIRS, reason=f"{CASES} is absent (shared reference data not checked out)"),
    pytest.mark.usefixtures("one_torch_thread"),
]


def _meta(d: Path) -> dict:
    return json.loads((d / "meta.json").read_text())


def _run(network: designer.Network, d: Path, meta: dict, relu_floor: float | None = None) -> np.ndarray:
    model = build_model(network, outputs=(meta["output_layer"],))
    load_weights(model, d / "net.weights")
    if relu_floor is not None:
        for m in model.modules():
            if isinstance(m, ShortcutLayer):
                m.relu_floor = relu_floor
    x = torch.from_numpy(np.fromfile(d / "input.f32", dtype="<f4")).view(1, *meta["input_shape_chw"])
    with torch.no_grad():
        return model(x).flatten().numpy().astype(np.float64)


def _close(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape, f"{got.shape} floats, darknet wrote {want.shape}"
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    meta = _meta(case)
    if case.name == "shortcut_weights_type_without_normalization":
        with pytest.raises(CfgError, match="weights_normalization"):
            designer.parse_cfg(case / "net.cfg")  # darknet exits on this cfg; the reader says why
        return
    if case.name == "conv3x3_dil2_padding0_broken":
        _scrambled_dilation(case, meta)
        return
    network = designer.parse_cfg(case / "net.cfg")
    if meta["darknet_exit_code"] != 0:
        _darknet_failed(case, meta, network)
        return
    if not (case / "output.f32").exists():
        _no_recorded_output(case, meta, network)
        return
    ref = np.fromfile(case / "output.f32", dtype="<f4").astype(np.float64)
    if case.name == "shortcut_per_feature_relu_fused":
        # darknet ran fuse_conv_batchnorm first, which pre-normalises with max(w, 0.001) (NOTES.md section 5)
        assert _close(_run(network, case, meta, relu_floor=DARKNET_FUSED_RELU_FLOOR), ref) < TOL
        return
    if meta["darknet_cpu_output_is_correct"]:
        out = network.layers[meta["output_layer"]]
        assert not cpu_gives_zero(out.get("activation", "linear"), out.type), "the CPU-gap table disagrees"
        assert _close(_run(network, case, meta), ref) < TOL
        return
    _cpu_activation_bug(case, meta, network, ref)


def _scrambled_dilation(case: Path, meta: dict) -> None:
    """dilation=2, padding=0: darknet declares a (H-2)x(W-2) output but its dilated im2col writes (H-4)x(W-4)
    columns, which the GEMM then reads with the declared row length. The reader refuses the cfg (line and
    reason); a NumPy model of exactly that mis-read reproduces darknet's recorded output, which shows the output
    is scrambled, not a dilated convolution of any shape, so there is nothing correct for the runtime to match."""
    with pytest.raises(CfgError, match="scrambled") as e:
        designer.parse_cfg(case / "net.cfg")
    assert e.value.line == 8  # the [convolutional] section
    c, h, w = meta["input_shape_chw"]
    filters, out_h, out_w = meta["output_shape_chw"]
    size, dil = 3, 2
    assert (out_h, out_w) == (h - size + 1, w - size + 1)  # darknet's output size ignores the dilation
    x = np.fromfile(case / "input.f32", dtype="<f4").astype(np.float64).reshape(c, h, w)
    raw = np.fromfile(case / "net.weights", dtype="<f4", offset=20).astype(np.float64)  # 20-byte header (v0.2)
    bias, weights = raw[:filters], raw[filters:].reshape(filters, c * size * size)
    real_h, real_w = h - dil * (size - 1), w - dil * (size - 1)  # what a dilated conv with padding 0 gives
    cols = np.array(
        [
            [x[ci, i + dil * ki, j + dil * kj] for i in range(real_h) for j in range(real_w)]
            for ci in range(c)
            for ki in range(size)
            for kj in range(size)
        ]
    )
    workspace = np.zeros(c * size * size * out_h * out_w)  # darknet's workspace, sized for the declared output
    workspace[: cols.size] = cols.ravel()
    scrambled = weights @ workspace.reshape(c * size * size, out_h * out_w) + bias[:, None]
    ref = np.fromfile(case / "output.f32", dtype="<f4").astype(np.float64)
    assert _close(scrambled.ravel(), ref) < TOL
    dilated = weights @ cols + bias[:, None]  # the real dilated conv: fewer values, and not darknet's first ones
    assert dilated.size < ref.size and _close(dilated.ravel(), ref[: dilated.size]) > 0.1


def _cpu_activation_bug(case: Path, meta: dict, network: designer.Network, ref: np.ndarray) -> None:
    i = meta["output_layer"]
    layer = network.layers[i]
    act = layer["activation"]
    assert cpu_gives_zero(act, layer.type), (
        f"{case.name}: designer.activations has no CPU gap for {act} in [{layer.type}]"
    )
    assert act in NUMPY_ACT, f"{case.name}: no NumPy formula for activation={act}"
    assert not ref.any(), "darknet's CPU build was expected to output zeros here"
    linear = dataclasses.replace(
        network, layers=network.layers[:i] + (layer.set(activation="linear"),) + network.layers[i + 1 :]
    )
    pre = _run(linear, case, meta)
    want = NUMPY_ACT[act](pre)
    assert np.abs(want).max() > 0
    assert _close(_run(network, case, meta), want) < TOL
    pytest.xfail(
        f"darknet's CPU build outputs 0 for {act} in [{layer.type}] (designer.activations cpu_ok, NOTES.md "
        "section 3); the runtime follows the GPU formula, checked against NumPy"
    )


def _darknet_failed(case: Path, meta: dict, network: designer.Network) -> None:
    # darknet crashed on a valid net (connected_only_net_crash: SIGFPE in its parser); there is no reference
    # output, but the runtime builds and runs it at the declared shape
    model = build_model(network)
    load_weights(model, case / "net.weights")
    x = torch.from_numpy(np.fromfile(case / "input.f32", dtype="<f4")).view(1, *meta["input_shape_chw"])
    with torch.no_grad():
        y = model(x)
    shape = designer.infer_shapes(network)[model.outputs[0]]
    assert tuple(y.shape[1:]) == shape.out and torch.isfinite(y).all()
    pytest.skip(f"darknet exited with {meta['darknet_exit_code']} ({meta['note'][:80]}...): no reference output")


def _no_recorded_output(case: Path, meta: dict, network: designer.Network) -> None:
    """shortcut_per_feature_relu_nofuse: darknet's unfused formula from the case note, in NumPy."""
    assert case.name == "shortcut_per_feature_relu_nofuse", f"{case.name}: no output.f32 and no rule for it"
    weights = np.fromfile(case / "net.weights", dtype="<f4")[5:]  # 20-byte header = 5 floats
    x = np.fromfile(case / "input.f32", dtype="<f4").astype(np.float64).reshape(3, -1)
    outs, at = [], 0
    for _ in range(3):  # three 1x1 linear convs: biases[3], weights[3x3]
        b, w = weights[at : at + 3], weights[at + 3 : at + 12].reshape(3, 3)
        at += 12
        outs.append(w @ (outs[-1] if outs else x) + b[:, None])
    sw = weights[at : at + 3]  # [prev, from -2, from -3]
    r = np.maximum(sw, 0)
    r = r / (1e-4 + r.sum())
    want = (r[0] * outs[2] + r[1] * outs[1] + r[2] * outs[0]).flatten()
    assert _close(_run(network, case, meta), want) < TOL
