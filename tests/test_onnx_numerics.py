"""The exported ONNX model in onnxruntime and OpenVINO computes what the torch runtime computes.

Every preset (optimised build, the export default) and every cfg in ../shared/darknet/cfg that the runtime builds
(plain build: every darknet layer type as the runtime runs it, BN included), batch 1, random weights and
non-trivial BN statistics. onnxruntime must agree with torch to 1e-5 of the output's peak, OpenVINO at f32 to
1e-4, for every output (each [yolo] head of a detector).

To keep the suite short on two cores each network runs at a reduced input size: the smallest of 64, 96, ...
(multiples of 32) that its layers accept (vgg-16's 224x224 [crop] keeps it at 224). The large cfgs are marked
slow (each export writes and checks 100-500 MB of weights).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

import designer
from designer.api.sources import load_source, to_network
from designer.cfg import with_net
from designer.design_io import preset_names
from designer.ir import CfgError
from runtime.deploy.backends import BACKENDS
from runtime.deploy.onnx_export import detector_outputs, export_model
from runtime.model import build_model, randomize_bn

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CFG_DIR = SHARED / "darknet" / "cfg"
CFGS = sorted(p.name for p in CFG_DIR.glob("*.cfg")) if CFG_DIR.is_dir() else []
REJECTED = {"resnet50.cfg"}  # the core refuses it (tests/test_runtime_cfgs.py)
SLOW = {
    "alexnet.cfg",
    "vgg-16.cfg",
    "yolov2.cfg",
    "yolov3.cfg",
    "yolov3-spp.cfg",
    "yolov4.cfg",
    "yolov4-csp.cfg",
    "darknet53.cfg",
    "densenet201.cfg",
    "csdarknet53-omega.cfg",
}
TOL = {"onnxruntime": 1e-5, "openvino": 1e-4}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _small(network: designer.Network) -> designer.Network:
    """The network at the smallest input size (64, 96, ...) its layers accept and the runtime builds."""
    _, h, w = network.input_shape
    for size in range(64, max(h, w), 32):
        try:
            small = with_net(network, width=size, height=size)
            build_model(small)
            return small
        except CfgError:
            continue
    return network


@functools.lru_cache(maxsize=2)
def _exported(kind: str, name: str) -> tuple[designer.Network, bytes, np.ndarray, list[np.ndarray]]:
    """(network, ONNX bytes, input, torch outputs) of a preset or shared cfg, once per test module run."""
    if kind == "preset":
        network, optimized = to_network(load_source(name), size=64), True
    else:
        network, optimized = _small(designer.parse_cfg(CFG_DIR / name)), False
    torch.manual_seed(0)
    model = build_model(network, outputs=detector_outputs(network))
    randomize_bn(model, torch.Generator().manual_seed(1))
    x = torch.randn(1, *network.input_shape, generator=torch.Generator().manual_seed(2))
    proto = export_model(model, optimized=optimized)
    with torch.no_grad():
        y = model(x)
    ys = [t.numpy() for t in (y if isinstance(y, tuple) else (y,))]
    return network, proto.SerializeToString(), x.numpy(), ys


def _check(backend: str, kind: str, name: str) -> None:
    network, model, x, want = _exported(kind, name)
    runner = BACKENDS[backend].prepare(network, 1, "fp32", 1, "cpu", model=model)
    assert runner.precision == "fp32"
    got = runner.infer(x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        peak = max(float(np.abs(w).max()), 1e-12)
        err = float(np.abs(g.astype(np.float64) - w).max()) / peak
        assert err <= TOL[backend], f"{name} {backend}: {err:.2e} of the peak {peak:.3g}"


def _cfg_params() -> list:
    return [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW else []) for c in CFGS if c not in REJECTED]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("preset", preset_names())
def test_preset(preset: str, backend: str) -> None:
    _check(backend, "preset", preset)


@pytest.mark.skipif(not CFGS, reason=f"{CFG_DIR} is absent (shared reference data not checked out)")
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("cfg", _cfg_params())
def test_cfg(cfg: str, backend: str) -> None:
    _check(backend, "cfg", cfg)
