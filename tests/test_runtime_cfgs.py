"""Every real Darknet cfg in ../shared/darknet/cfg builds and runs, layer shapes as designer.infer_shapes says.

Random weights (torch's init), batch 1, no grad. Each layer's output must have the shape the core infers
(c,h,w, or the flat `outputs` for a non-divisible route). Parameters must match designer.count and the
.weights size must match what darknet itself wrote (layers.json weights_file_bytes).

Every cfg runs at its own [net] input size (yolov4 and yolov3-spp at 608x608, densenet201 at 256x256...):
with one intra-op thread the whole set takes ~15 s on this 2-core machine, so no resolution is reduced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import designer
from designer.ir import CfgError
from runtime import build_model
from runtime.layers.merge import is_image
from runtime.weights import expected_size
from tests.conftest import SHARED

CFG_DIR = SHARED / "darknet" / "cfg"
CFGS = sorted(CFG_DIR.glob("*.cfg")) if CFG_DIR.is_dir() else []
REJECTED = {"resnet50.cfg"}  # strided shortcuts: darknet asserts, the core raises CfgError (NOTES.md section 5)


pytestmark = [
    pytest.mark.skipif(not CFGS, reason=f"{CFG_DIR} is absent (shared reference data not checked out)"),
    pytest.mark.usefixtures("one_torch_thread"),
]


@pytest.fixture(scope="module")
def layers_json() -> dict:
    p = SHARED / "darknet" / "layers.json"
    return json.loads(p.read_text()) if p.exists() else {}


@pytest.mark.parametrize("cfg", [p for p in CFGS if p.name in REJECTED], ids=lambda p: p.name)
def test_rejected_cfg(cfg: Path, layers_json: dict) -> None:
    with pytest.raises(CfgError, match="same width and height"):
        designer.parse_cfg(cfg)
    if layers_json:
        assert layers_json[cfg.name]["parse_ok"] is False


@pytest.mark.parametrize("cfg", [p for p in CFGS if p.name not in REJECTED], ids=lambda p: p.name)
def test_cfg_builds_and_runs(cfg: Path, layers_json: dict) -> None:
    network = designer.parse_cfg(cfg)
    model = build_model(network)
    cost = designer.count(network)
    assert sum(p.numel() for p in model.parameters()) == cost.params
    assert expected_size(model) == 20 + 4 * cost.params_stored
    if cfg.name in layers_json:
        assert expected_size(model) == layers_json[cfg.name]["weights_file_bytes"]
    shapes = designer.infer_shapes(network)
    seen: dict[int, tuple[int, ...]] = {}

    def check(i: int, y: torch.Tensor) -> None:
        s = shapes[i]
        seen[i] = tuple(y.shape)
        want = (1, s.c, s.h, s.w) if is_image(s) else (1, s.outputs)
        assert tuple(y.shape) == want, f"layer {i} [{network.layers[i].type}]: {tuple(y.shape)} != {want}"

    with torch.no_grad():
        model.run_all(torch.randn(1, *network.input_shape), check)
    assert len(seen) == len(network.layers)
    assert network.layers[model.outputs[0]].type != "cost"
    assert all(layer.type == "cost" for layer in network.layers[model.outputs[0] + 1 :])
