"""The CLI and the workspace: `bench` and `train` record (keyed by the cfg's hash, the same key the app uses),
`--no-record` does not, `history` shows measurements side by side, `workspace list|show|export|import|path`
work, and a bad workspace is one line on stderr (for bench: a note; the measurement itself still succeeds)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from designer import emit_cfg, load_preset, load_yaml, lower
from designer.cli.main import main
from designer.machine import Fingerprint, cpu_name
from designer.workspace import Workspace, cfg_sha256, default_path, layers_sha256

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "tests" / "data" / "tiny.yaml")
BENCH = ["bench", TINY, "--size", "32", "--min-run-time", "0.05", "--threads", "1"]


@pytest.fixture
def ws_path(tmp_path) -> str:
    return str(tmp_path / "ws.sqlite")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_records_and_history_shows_it(capsys, ws_path, one_torch_thread):
    code, out, err = _run(capsys, *BENCH, "--batch", "1,2", "--workspace", ws_path)
    assert code == 0, err
    assert f"recorded 2 measurement(s) in {ws_path}" in err
    with Workspace.open(ws_path) as ws:
        rows = ws.measurements()
    assert sorted(r.batch for r in rows) == [1, 2]
    # the key is the cfg text's hash: the same as the app's for the same design at the same size
    app_cfg = emit_cfg(lower(replace(load_yaml(Path(TINY)), input_size=32)))
    assert {r.cfg_sha256 for r in rows} == {cfg_sha256(app_cfg)}
    r = rows[0]
    assert (r.design_name, r.device, r.backend, r.dtype, r.threads, r.source) == (
        "tiny",
        "cpu",
        "torch",
        "fp32",
        1,
        "cli",
    )
    assert r.median_ms > 0 and r.fma == 209_024 * r.batch and r.params > 0 and "torch" in r.versions
    assert r.settings["optimized"] is True
    assert r.machine_key == Fingerprint.from_json(r.machine).key and r.machine["cpu"] == cpu_name()
    assert r.layers_sha256 == layers_sha256(app_cfg)

    for query in ([], ["tiny"], [TINY], ["--device", "cpu"]):
        code, out, err = _run(capsys, "history", *query, "--workspace", ws_path)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split()[:10] == "design machine device backend dtype batch threads median ms IQR".split()
        body = [ln for ln in lines[2:] if ln.startswith("tiny")]
        assert len(body) == 2 and all(f"{x.median_ms:.3f}" in out for x in rows)
        assert "GFMA/s" in lines[0] and "ms per batch" in out
    code, out, _ = _run(capsys, "history", "mixnet-m", "--workspace", ws_path)
    assert code == 0 and out.startswith("no measurements of mixnet-m")
    code, out, _ = _run(capsys, "history", "--backend", "onnxruntime", "--workspace", ws_path)
    assert out.startswith("no measurements")


def test_no_record_and_the_environment_variable(capsys, ws_path, monkeypatch, one_torch_thread):
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", ws_path)
    code, _, err = _run(capsys, *BENCH, "--no-record")
    assert code == 0 and "recorded" not in err
    assert not Path(ws_path).exists()
    code, _, err = _run(capsys, *BENCH, "--json")
    assert code == 0 and f"recorded 1 measurement(s) in {ws_path}" in err
    code, out, err = _run(capsys, "workspace", "path")
    assert out.strip() == ws_path and "MIXDESIGN_WORKSPACE" in err
    monkeypatch.delenv("MIXDESIGN_WORKSPACE")
    code, out, err = _run(capsys, "workspace", "path")
    assert out.strip() == str(default_path()) and "default" in err
    assert default_path().name == "workspace.sqlite" and "mixnet-designer" in str(default_path())


def test_bench_on_a_broken_workspace_measures_notes_and_leaves_it(capsys, tmp_path, one_torch_thread):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    code, out, err = _run(capsys, *BENCH, "--workspace", str(bad))
    assert code == 0 and "median ms" in out
    assert "not recorded in the workspace" in err and "not an SQLite database" in err
    code, out, err = _run(capsys, "history", "--workspace", str(bad))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"mixdesign history: error: {bad}: not a workspace")
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before


def test_train_records_the_run(capsys, tmp_path, ws_path, one_torch_thread):
    out_dir = tmp_path / "run"
    code, out, err = _run(
        capsys,
        "train",
        TINY,
        "--size",
        "32",
        "--epochs",
        "1",
        "--batch",
        "128",
        "--threads",
        "1",
        "--out",
        str(out_dir),
        "--no-progress",
        "--workspace",
        ws_path,
    )
    assert code == 0, err
    assert f"recorded the run of tiny in {ws_path}" in err
    with Workspace.open(ws_path) as ws:
        (run,) = ws.training_runs()
    assert (run.design_name, run.device, run.status, run.source) == ("tiny", "cpu", "finished", "cli")
    assert len(run.metrics) == 1 and run.metrics[0]["epoch"] == 1 and run.best_epoch in (0, 1)
    assert run.settings["epochs"] == 1 and run.settings["size"] == 32 and run.artifact_dir == str(out_dir)
    assert run.cfg_sha256 == cfg_sha256((out_dir / "model.cfg").read_text())
    assert run.started < run.finished


def test_workspace_list_show_export_import(capsys, tmp_path, ws_path):
    with Workspace.open(ws_path) as ws:
        ws.save_design("mine", load_preset("mixnet-s"), derived_from="preset:mixnet-s")
        ws.add_imported("tiny", "design-yaml", Path(TINY).read_text(), filename="tiny.yaml")
        ws.add_measurement(
            design_name="mine",
            cfg_sha256=ws.get_design("mine").row.cfg_sha256,
            device="cpu",
            dtype="fp32",
            batch=1,
            median_ms=20.0,
            iqr_ms=1.0,
            source="app",
        )
        ws.save_design("broken", load_preset("mixnet-m"))
        with ws.engine.begin() as c:
            c.exec_driver_sql("UPDATE designs SET design_yaml = 'blocks: 3' WHERE name = 'broken'")
    code, out, err = _run(capsys, "workspace", "list", "--workspace", ws_path)
    assert code == 0
    assert "mine" in out and "preset:mixnet-s" in out and "tiny" in out and "design-yaml" in out
    assert "1 design(s), 1 import(s), 1 measurement(s), 0 training run(s)" in out
    assert "warning: designs row" in err and "'broken'" in err and "skipped" in err

    code, out, err = _run(capsys, "workspace", "show", "mine", "--workspace", ws_path)
    assert code == 0 and "name: mixnet-s" in out and "1 measurement(s)" in err
    assert load_yaml(out.split("\n", 1)[1]) == load_preset("mixnet-s")
    code, out, err = _run(capsys, "workspace", "show", "nope", "--workspace", ws_path)
    assert code == 2 and "no saved design or import named 'nope'" in err

    shared = tmp_path / "shared.sqlite"
    code, out, err = _run(capsys, "workspace", "export", str(shared), "--workspace", ws_path)
    assert code == 0 and out.startswith(f"wrote {shared}: 2 designs, 1 imported cfgs, 1 measurements")
    code, _, err = _run(capsys, "workspace", "export", str(shared), "--workspace", ws_path)
    assert code == 2 and "exists already" in err
    other = str(tmp_path / "other.sqlite")
    code, out, _ = _run(capsys, "workspace", "import", str(shared), "--workspace", other)
    assert code == 0 and "2 designs, 1 imported cfgs, 1 measurements" in out
    code, out, _ = _run(capsys, "workspace", "import", str(shared), "--workspace", other)
    assert code == 0 and "nothing new (4 already present, skipped)" in out
    code, out, _ = _run(capsys, "history", "mine", "--workspace", other)
    assert "20.000" in out and "app" in out
    code, _, err = _run(capsys, "workspace", "import", str(tmp_path / "missing.sqlite"), "--workspace", other)
    assert code == 2 and "no such file" in err
    assert os.path.exists(shared)
