"""Preset totals equal the reference architectures exactly (params and conv+FC multiply-adds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import designer
from designer.spec import resolve
from tests.conftest import shared_path

TOTALS = json.loads((Path(__file__).parent / "data" / "preset_totals.json").read_text())
PRESETS = [k for k in TOTALS if not k.startswith("_")]
TIMM_NAME = {
    "mixnet-s": "mixnet_s",
    "mixnet-m": "mixnet_m",
    "mixnet-l": "mixnet_l",
    "efficientnet-b0": "efficientnet_b0",
}


def test_every_preset_has_expected_totals():
    assert sorted(designer.preset_names()) == sorted(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_totals(name):
    cost = designer.count(designer.lower(designer.load_preset(name)))
    assert cost.params == TOTALS[name]["params"]
    assert cost.fma == TOTALS[name]["fma"]
    assert cost.flops == 2 * cost.fma


@pytest.mark.parametrize("name", sorted(TIMM_NAME))
def test_preset_totals_match_shared_reference(name):
    models = json.loads(shared_path("reference", "models.json").read_text())["models"]
    ref = next(m for m in models if m["model"] == TIMM_NAME[name])
    cost = designer.count(designer.lower(designer.load_preset(name)))
    assert (cost.params, cost.fma) == (ref["params"], ref["fma_conv_fc"])


def test_mixnet_m_block_table():
    """Per-block channel counts of MixNet-M (mixnet_arch.md section 6), and MixNet-L's width rounding."""
    m = resolve(designer.load_preset("mixnet-m"))
    assert [(b.in_channels, b.mid_channels, b.out_channels, b.se_channels) for b in m[:5]] == [
        (24, 24, 24, 0),
        (24, 144, 32, 0),
        (32, 96, 32, 0),
        (32, 192, 40, 16),
        (40, 240, 40, 20),
    ]
    assert [b.residual for b in m] == [
        True,
        False,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    L = resolve(designer.load_preset("mixnet-l"))
    assert sorted({b.out_channels for b in L}) == [32, 40, 56, 104, 160, 264]
    assert L[-1].mid_channels == 1584 and L[-1].se_channels == 132


def test_mixnet_m_gpu_is_mixnet_m_with_grouped_mixconv():
    m, g = designer.load_preset("mixnet-m"), designer.load_preset("mixnet-m-gpu")
    from dataclasses import replace

    assert replace(designer.gpu_variant(m, 4), name="mixnet-m-gpu") == g
    net_m, net_g = designer.lower(m), designer.lower(g)
    # only the depthwise convs' groups change: same layer count, same shapes
    assert len(net_m) == len(net_g)
    assert [s.out for s in designer.infer_shapes(net_m)] == [s.out for s in designer.infer_shapes(net_g)]


@pytest.mark.parametrize("name", PRESETS)
def test_committed_preset_cfgs_are_current(name):
    """cfg_templates/<preset>.cfg is exactly what `mixdesign export <preset>` writes."""
    path = Path(designer.design_io.PRESET_DIR) / f"{name}.cfg"
    assert path.read_text() == designer.emit_cfg(designer.lower(designer.load_preset(name)))
