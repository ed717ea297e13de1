"""Round trips define correctness: spec -> cfg -> IR -> cfg is byte-identical, IR -> cfg -> IR is equal."""

from __future__ import annotations

import json

import pytest

import designer
from designer.cfg import emit_cfg, parse_cfg
from designer.sections import SECTIONS
from tests.conftest import shared_cfgs, shared_path


@pytest.mark.parametrize("name", ["mixnet-s", "mixnet-m", "mixnet-l", "mixnet-m-gpu", "efficientnet-b0"])
def test_spec_cfg_ir_cfg_is_byte_identical(name):
    arch = designer.load_preset(name)
    net = designer.lower(arch)
    text = emit_cfg(net)
    back = parse_cfg(text)
    assert back == net
    assert emit_cfg(back) == text
    # the design travels in the cfg's comments and comes back block-editable
    assert designer.load_yaml(back.design) == arch


@pytest.mark.parametrize("name", shared_cfgs())
def test_shared_cfg_ir_cfg_ir(name, darknet_layers):
    path = shared_path("darknet", "cfg", name)
    if not darknet_layers.get(name, {}).get("parse_ok", True):
        pytest.skip(f"darknet rejects {name}")
    net = parse_cfg(path)
    text = emit_cfg(net)
    again = parse_cfg(text)
    assert again == net
    assert emit_cfg(again) == text
    assert designer.count(again).bflops == designer.count(net).bflops


@pytest.mark.parametrize("name", ["mixnet-m", "mixnet-m-gpu", "efficientnet-b0"])
def test_emitted_cfg_uses_only_keys_hank_ai_reads(name):
    """The writer stays inside what the strict hank-ai fork accepts (DIALECTS.md rule 3)."""
    allowed = json.loads(shared_path("darknet", "hank_allowed_keys.json").read_text())
    by_section = {n: set(s["keys"]) for s in allowed["sections"].values() for n in s["names"]}
    common = set(allowed["common_layer_keys"])
    text = emit_cfg(designer.lower(designer.load_preset(name)))
    section = None
    seen: set[str] = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert line == line.strip() and " " not in line and "#" not in line and ";" not in line
        if line.startswith("["):
            section, seen = line[1:-1], set()
            assert section in by_section, section
            continue
        key, value = line.split("=", 1)
        assert key in by_section[section] | (common if section != "net" else set()), (section, key)
        assert key not in seen, (section, key)
        seen.add(key)
        assert "e" not in value.lower() or not any(ch.isdigit() for ch in value), value  # no 1e-3 numbers
    assert text.isascii() and not text.startswith("\ufeff")


def test_conv_and_connected_always_write_activation():
    text = emit_cfg(designer.lower(designer.load_preset("mixnet-s")))
    blocks = text.split("\n\n")
    for b in blocks:
        if "[convolutional]" in b:
            assert "\nactivation=" in b


def test_common_keys_round_trip():
    text = "[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\ndontload=1\nlearning_rate=0.5\n"
    net = parse_cfg(text)
    assert net.layers[0]["dontload"] == 1 and net.layers[0]["learning_rate"] == 0.5
    assert parse_cfg(emit_cfg(net)) == net
    assert {k.name for k in SECTIONS["convolutional"].all_keys} >= {"dontload", "learning_rate"}
    assert "dontload" not in {k.name for k in SECTIONS["net"].all_keys}
