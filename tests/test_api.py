"""designer.api on its own (no `mixdesign` process, no AppTest): what load, measure, the recording, export_cfg
and estimate promise, and that their errors are MixdesignErrors with the message a user reads."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

import designer
from designer import api
from designer.errors import MixdesignError
from tests.conftest import REPO, TINY_YAML

TINY_CFG = (  # 3x16x16 -> 4 filters -> avgpool -> softmax: a forward pass of microseconds
    "[net]\nwidth=16\nheight=16\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nstride=2\nactivation=relu\n\n"
    "[avgpool]\n\n[softmax]\n"
)


def _rows(path: Path) -> list:
    with api.open_workspace(path) as ws:
        return ws.measurements()


# ------------------------------------------------------------------ load


@pytest.mark.parametrize(
    "group_size,rows",
    # tiny.yaml by hand: row 0 expands the 8-channel stem x2 to 16, split over kernels 3 and 5: groups of 8;
    # row 1 expands 16 x3 to 48, one kernel: one group of 48. A note for each row whose groups N does not divide.
    [(1, set()), (8, set()), (16, {0}), (24, {0}), (32, {0, 1})],
)
def test_load_notes_name_the_rows_the_group_size_does_not_divide(group_size, rows):
    loaded = api.load(designer.load_yaml(TINY_YAML), dw_group_size=group_size)
    assert {int(n.split(":")[0].removeprefix("row ")) for n in loaded.notes} == rows
    assert all(f"{group_size} channels per group does not divide" in n for n in loaded.notes)


def test_load_takes_an_arch_and_sets_the_size():
    tiny = designer.load_yaml(TINY_YAML)
    loaded = api.load(tiny, size=32)
    assert loaded.network.input_shape == (3, 32, 32) and loaded.design == replace(tiny, input_size=32)
    assert designer.emit_cfg(loaded.network) == designer.emit_cfg(designer.lower(replace(tiny, input_size=32)))


def test_load_errors_are_mixdesign_errors_with_the_fix(tmp_path):
    with pytest.raises(MixdesignError, match=r"'no-such-net' is neither a \.cfg, a design \.yaml nor a preset"):
        api.load("no-such-net")
    cfg = tmp_path / "plain.cfg"
    cfg.write_text(TINY_CFG)
    with pytest.raises(api.SourceError, match=r"--width-mult needs a design .*\(only --size applies"):
        api.load(str(cfg), width_mult=0.5)
    with pytest.raises(api.SourceError, match=r"--size: .*"):
        api.load("mixnet-s", size=100_000)


# ------------------------------------------------------------------ export_cfg


def test_export_cfg_is_emit_cfg_and_writes_the_file(tmp_path):
    arch = designer.load_preset("mixnet-s")
    out = tmp_path / "s.cfg"
    text = api.export_cfg(arch, out=out)
    assert text == designer.emit_cfg(designer.lower(arch)) == out.read_text()
    net = designer.parse_cfg(TINY_CFG)
    assert api.export_cfg(net) == designer.emit_cfg(net)


# ------------------------------------------------------------------ measure and its record


def test_measure_records_each_batch_in_the_workspace(tmp_path, one_torch_thread):
    pytest.importorskip("torch")
    net = designer.parse_cfg(TINY_CFG)
    ws_file = tmp_path / "ws.sqlite"
    m = api.measure(net, batch=(1, 2), threads=1, min_run_time=0.05, workspace=ws_file, design_name="tiny")
    assert [r.batch for r in m.results] == [1, 2] and m.result is m.results[0]
    assert m.not_recorded is None and m.recorded_in is not None and str(ws_file) in m.recorded_in
    rows = sorted(_rows(ws_file), key=lambda r: r.batch)
    sha = hashlib.sha256(designer.emit_cfg(net).encode()).hexdigest()  # the key, computed here independently
    assert [(r.batch, r.design_name, r.backend, r.source, r.cfg_sha256) for r in rows] == [
        (1, "tiny", "torch", "api", sha),
        (2, "tiny", "torch", "api", sha),
    ]
    assert [r.median_ms for r in rows] == [r.median_ms for r in m.results]
    assert rows[0].params == 3 * 3 * 3 * 4 + 4  # weights and biases of the one convolution (BN off), by hand
    assert rows[0].threads == 1


def test_measure_without_workspace_records_nothing(tmp_path, one_torch_thread, monkeypatch):
    pytest.importorskip("torch")
    default = tmp_path / "default.sqlite"
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(default))
    m = api.measure(designer.parse_cfg(TINY_CFG), threads=1, min_run_time=0.05)
    assert (m.recorded_in, m.not_recorded) == (None, None) and not default.exists()


def test_measure_refuses_before_measuring_and_records_nothing(tmp_path):
    net = designer.parse_cfg(TINY_CFG)
    ws_file = tmp_path / "ws.sqlite"
    with pytest.raises(MixdesignError, match="the openvino backend runs on the CPU here"):
        api.measure(net, backend="openvino", device="cuda", workspace=ws_file)
    with pytest.raises(MixdesignError, match="measured with the torch backend, not onnxruntime"):
        api.measure(net, backend="onnxruntime", mode="train", workspace=ws_file)
    big = designer.lower(designer.load_preset("mixnet-l"))
    with pytest.raises(MixdesignError, match="batch"):
        api.measure(big, batch=1_000_000, workspace=ws_file)
    assert not ws_file.exists() or _rows(ws_file) == []


def test_a_workspace_problem_is_reported_not_raised(tmp_path, one_torch_thread):
    pytest.importorskip("torch")
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    m = api.measure(designer.parse_cfg(TINY_CFG), threads=1, min_run_time=0.05, workspace=broken)
    assert m.recorded_in is None and m.not_recorded and len(m.results) == 1


def test_record_training_maps_a_run_to_its_row(tmp_path):
    cfg = tmp_path / "model.cfg"
    cfg.write_text(TINY_CFG)
    run = SimpleNamespace(
        history=[{"epoch": 1, "elapsed_s": 30.0, "val_top1": 0.5}, {"epoch": 2, "elapsed_s": 60.0, "val_top1": 0.75}],
        best_top1=0.75,
        best_epoch=2,
        stopped=True,
        interrupted=True,
        out_dir=tmp_path,
        cfg_path=cfg,
    )
    before = datetime.now(timezone.utc)
    done = api.record_training(
        tmp_path / "ws.sqlite", run, design_name="tiny", device="cpu", settings={"epochs": 3}, source="api"
    )
    assert done.problem is None and done.rows == 1
    with api.open_workspace(tmp_path / "ws.sqlite") as ws:
        (row,) = ws.training_runs()
    assert (row.design_name, row.status, row.best_epoch, row.settings, row.source) == (
        "tiny", "stopped", 2, {"epochs": 3}, "api",
    )  # fmt: skip
    assert row.cfg_sha256 == hashlib.sha256(TINY_CFG.encode()).hexdigest()
    started = row.started if row.started.tzinfo else row.started.replace(tzinfo=timezone.utc)
    assert before - timedelta(seconds=61) <= started <= before - timedelta(seconds=59)  # 60 s before it ended


# ------------------------------------------------------------------ estimate


def test_estimate_refuses_without_a_model(tmp_path):
    net = designer.parse_cfg(TINY_CFG)
    with pytest.raises(MixdesignError, match=r"no latency model for this machine .* Make one: mixdesign calibrate"):
        api.estimate(net, threads=1, workspace=tmp_path / "empty.sqlite")


# ------------------------------------------------------------------ the package


def test_importing_the_api_loads_no_runtime():
    code = "import sys, designer.api; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'runtime', 'streamlit'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
