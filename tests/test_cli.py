"""The mixdesign CLI's core commands: presets, export, stats, lint."""

from __future__ import annotations

import json

import pytest

import designer
from designer.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    assert "mixnet-m " in out and "5,014,382" in out and "339,172,672" in out


def test_export_equals_api_and_is_atomic(tmp_path, capsys):
    out = tmp_path / "m.cfg"
    code, msg, err = run(capsys, "export", "mixnet-m", "-o", str(out), "--dw-group-size", "4")
    assert code == 0 and "wrote" in msg and "uses 3" in err
    arch = designer.gpu_variant(designer.load_preset("mixnet-m"), 4)
    assert out.read_text() == designer.emit_cfg(designer.lower(arch))
    assert [p.name for p in tmp_path.iterdir()] == ["m.cfg"]  # no temp file left behind


def test_export_overrides(tmp_path, capsys):
    out = tmp_path / "s.cfg"
    assert (
        run(
            capsys,
            "export",
            "mixnet-s",
            "-o",
            str(out),
            "--size",
            "64",
            "--classes",
            "10",
            "--depth-mult",
            "1.5",
            "--yaml",
            str(tmp_path / "s.yaml"),
        )[0]
        == 0
    )
    net = designer.parse_cfg(out)
    assert net.input_shape == (3, 64, 64) and designer.infer_shapes(net)[-1].c == 10
    assert designer.load_yaml(tmp_path / "s.yaml").depth_mult == 1.5


def test_export_scaled_design_rounds_and_says_so(tmp_path, capsys):
    """Issue 12: width 0.75 used to fail (528 channels, 5 kernel groups); now 528 -> 530, noted and commented."""
    code, _, err = run(capsys, "export", "mixnet-s", "-o", str(tmp_path / "x.cfg"), "--width-mult", "0.75")
    assert code == 0 and "note: row 9 (b9.0)" in err and "528 -> 530" in err
    text = (tmp_path / "x.cfg").read_text()
    assert "# # rounded: row 9 (b9.0)" in text.split(designer.cfg.DESIGN_END)[0]
    assert designer.parse_cfg(text).design is not None


def test_export_invalid_design_names_block(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("name: x\nblocks: [ir_r1_k3.5_s1_e1_c15]\nstem: {channels: 15}\n")
    code, _, err = run(capsys, "export", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "x.cfg"))
    assert code == 2 and "b0.0" in err and "15 expanded channels" in err and "Fix:" in err
    assert not (tmp_path / "x.cfg").exists()


def test_stats_json(capsys):
    code, out, _ = run(capsys, "stats", "mixnet-m", "--json")
    d = json.loads(out)
    assert code == 0
    assert (d["params"], d["fma"]) == (5014382, 339172672)
    assert d["params_stored"] == d["params"] + 2 * sum(
        L["filters"]
        for L in designer.lower(designer.load_preset("mixnet-m")).layers
        if L.type == "convolutional" and L["batch_normalize"]
    )
    assert abs(d["bflops"] - 0.679) < 1e-3
    first = d["layers"][0]
    assert {"index", "type", "out", "params_stored", "fma", "bflops"} <= set(first)
    assert first["out"] == [24, 112, 112]
    assert sum(layer["fma"] for layer in d["layers"]) == d["fma"]


def test_stats_table_and_cfg(tmp_path, capsys):
    cfg = tmp_path / "e.cfg"
    cfg.write_text(designer.emit_cfg(designer.lower(designer.load_preset("efficientnet-b0"))))
    code, out, _ = run(capsys, "stats", str(cfg), "--layers")
    assert code == 0 and "5,288,548" in out and "FMA (multiply-adds)" in out and "darknet BFLOPs" in out
    assert "route" not in out and "scale_channels" in out


def test_stats_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=x\n")
    code, out, err = run(capsys, "stats", str(bad))
    assert code == 2 and err.strip().count("\n") == 0 and "line 7" in err and "Traceback" not in err
    code, _, err = run(capsys, "stats", "no-such-preset")
    assert code == 2 and "preset" in err
    code, _, err = run(capsys, "stats", str(tmp_path / "missing.cfg"))
    assert code == 2 and "no such file" in err


def test_lint_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.cfg"
    good.write_text(designer.emit_cfg(designer.lower(designer.load_preset("mixnet-s"))))
    code, out, _ = run(capsys, "lint", str(good))
    assert code == 0 and "clean" in out
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\nsize=1\nactivation=leaky # x\n")
    code, out, _ = run(capsys, "lint", str(bad))
    assert code == 1 and ":line 9: error" in out


@pytest.mark.parametrize("argv", [["--help"], ["stats", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
