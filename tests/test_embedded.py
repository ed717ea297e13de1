"""A cfg exported by mixdesign carries its design; the design is used only while the file's layers are still
what it lowers to (designer.embedded). Regression: `stats x.cfg --size 160` re-lowered the embedded design of
a hand-edited cfg and silently dropped the edit."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import designer
from designer.api.sources import SourceError, load_source, to_network
from designer.cfg import with_net
from designer.cli import main
from designer.edits import prepare_network
from designer.embedded import embedded_design
from runtime.bundle.writer import _resized

EDITED_PARAMS_224 = 3_519_182  # mixnet-s with its head conv at 1024 filters instead of 1536


@pytest.fixture
def edited_cfg(tmp_path):
    text = designer.emit_cfg(designer.lower(designer.load_preset("mixnet-s")))
    assert text.count("filters=1536") == 1
    path = tmp_path / "x.cfg"
    path.write_text(text.replace("filters=1536", "filters=1024"))
    return path


def _params(capsys, *argv: str) -> int:
    assert main(["stats", *argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)["params"]


def test_exported_cfg_gives_back_its_design():
    arch = designer.gpu_variant(designer.load_preset("mixnet-m"), 4)
    got = embedded_design(designer.parse_cfg(designer.emit_cfg(designer.lower(arch))))
    assert got.arch == arch and not got.hand_edited


def test_hand_edited_cfg_is_treated_as_layers(edited_cfg):
    got = embedded_design(designer.parse_cfg(edited_cfg))
    assert got.arch is None and got.hand_edited and "edited by hand" in got.reason
    assert embedded_design(replace(designer.parse_cfg(edited_cfg), design=None)).reason == ""


def test_stats_of_a_hand_edited_cfg_keeps_the_edit_with_and_without_size(edited_cfg, capsys):
    assert _params(capsys, str(edited_cfg)) == EDITED_PARAMS_224
    at160 = _params(capsys, str(edited_cfg), "--size", "160")
    edited = designer.parse_cfg(edited_cfg)
    assert at160 == designer.count(with_net(edited, width=160, height=160)).params == EDITED_PARAMS_224
    # the exported design itself would have given 4,134,606 params at 160: the edit is not dropped
    assert designer.count(designer.lower(replace(designer.load_preset("mixnet-s"), input_size=160))).params != at160


@pytest.mark.parametrize(
    "flag, value", [("width_mult", 0.5), ("depth_mult", 1.2), ("dw_group_size", 4), ("classes", 10)]
)
def test_design_overrides_on_a_hand_edited_cfg_say_why_they_cannot_apply(edited_cfg, flag, value):
    with pytest.raises(SourceError, match=f"--{flag.replace('_', '-')} needs a design.*edited by hand.*as layers"):
        to_network(load_source(str(edited_cfg)), **{flag: value})


def test_training_and_bundling_keep_the_hand_edit(edited_cfg):
    net = designer.parse_cfg(edited_cfg)
    trained = prepare_network(net, 64, 10)
    assert any(L.type == "convolutional" and L["filters"] == 1024 for L in trained.layers)
    assert any(L.type == "convolutional" and L["filters"] == 1024 for L in _resized(net, 64).layers)
