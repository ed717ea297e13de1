"""Sweeps recorded in the workspace (designer/explore/workspace_store.py): every trial as it finishes, a rerun
resumes from it, timed trials are measurements that `mixdesign history` lists; on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from designer.cli.main import main
from designer.explore.workspace_store import WorkspaceTrialStore
from designer.machine import fingerprint
from designer.workspace import Workspace
from tests.conftest import TINY_YAML


@pytest.mark.usefixtures("one_torch_thread")
def test_sweep_trials_are_kept_in_the_workspace_resume_and_show_in_history(
    workspace_url, tmp_path, monkeypatch, stable_timings, capsys
):
    monkeypatch.delenv("MIXDESIGN_SWEEPS", raising=False)  # the default store: the workspace
    design = tmp_path / "tiny.yaml"
    design.write_text(TINY_YAML)
    argv = [
        "sweep",
        str(design),
        "--vary",
        "size=32",
        "--measure",
        "count,infer",
        "--rounds",
        "2",
        "--min-run-time",
        "0.02",
        "--threads",
        "1",
        "--workspace",
        workspace_url,
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "came from the store" not in capsys.readouterr().out
    with Workspace.open(workspace_url) as ws:
        (sweep,) = ws.sweeps()
        trials = ws.trials(sweep.id)
        rows = ws.measurements(source="sweep")
        store = WorkspaceTrialStore(ws)
        assert [s["sweep_id"] for s in store.sweeps()] == [sweep.settings_hash]
        recs = store.list(sweep.settings_hash)
    assert len(trials) == 2 and len(rows) == 2  # one design, two interleaved rounds, each one measurement
    assert {t.measurement_id for t in trials} == {r.id for r in rows}
    assert [r["round"] for r in recs] == [0, 1] and {r["kind"] for r in recs} == {"infer"}
    assert all(r.median_ms > 0 and r.settings["sweep_id"] == sweep.settings_hash and r.backend == "torch" for r in rows)
    this = fingerprint("cpu").key
    assert [(t.kind, t.round, t.status, t.machine_key) for t in trials] == [
        ("infer", 0, "ok", this),
        ("infer", 1, "ok", this),
    ]
    assert all(this in t.trial_key and r.layers_sha256 is not None for t, r in zip(trials, rows))

    assert main(argv) == 0  # the same sweep again: both trials come from the workspace, nothing is re-measured
    assert "2 trials came from the store" in capsys.readouterr().out
    with Workspace.open(workspace_url) as ws:
        assert len(ws.trials(ws.sweeps()[0].id)) == 2 and len(ws.measurements(source="sweep")) == 2

    assert main(["history", "--workspace", workspace_url]) == 0
    out = capsys.readouterr().out
    assert out.count("size=32") == 2, out


@pytest.mark.usefixtures("one_torch_thread")
def test_a_design_that_cannot_train_at_batch_1_fails_alone_and_the_sweep_finishes(
    tmp_path, capsys, monkeypatch, stable_timings
):
    """The issue's case: at input 32 MixNet-S ends in a 1x1 map, so BatchNorm cannot train at batch 1."""
    monkeypatch.delenv("MIXDESIGN_SWEEPS", raising=False)  # the default store: the workspace
    ws = str(tmp_path / "ws.sqlite")
    argv = [
        "sweep",
        "mixnet-s",
        "--vary",
        "size=32,64",
        "--vary",
        "width-mult=0.35",
        "--measure",
        "train",
        "--train-batch",
        "1",
        "--rounds",
        "1",
        "--min-run-time",
        "0.02",
        "--threads",
        "1",
        "--workspace",
        ws,
        "--no-progress",
    ]
    assert main(argv) == 1  # finished, with a failure
    err = capsys.readouterr().err
    assert "1 trial(s) failed" in err
    assert "size=32, width-mult=0.35: train round 1: a training step at batch 1" in err
    with Workspace.open(ws) as w:
        (sweep,) = w.sweeps()
        trials = w.trials(sweep.id)
        assert sorted(t.status for t in trials) == ["failed", "ok"]
        (failed,) = [t for t in trials if t.status == "failed"]
        assert "use a larger batch" in failed.message and failed.measurement_id is None
        assert len(w.measurements(source="sweep")) == 1
    assert main(argv) == 1  # a rerun measures nothing twice: both trials come from the workspace
    assert "2 trials came from the store" in capsys.readouterr().out
    with Workspace.open(ws) as w:
        assert len(w.trials(w.sweeps()[0].id)) == 2 and len(w.measurements(source="sweep")) == 1


def test_estimate_trials_are_kept_in_the_workspace_and_are_not_measurements(tmp_path, monkeypatch, capsys):
    from designer.latency.store import save_model
    from tests.conftest import falling_latency_model

    monkeypatch.delenv("MIXDESIGN_SWEEPS", raising=False)  # the default store: the workspace
    url = str(tmp_path / "ws.sqlite")
    with Workspace.open(url) as ws:
        save_model(ws, falling_latency_model())
    argv = ["sweep", "mixnet-s", "--vary", "width-mult=0.5,1.0", "--measure", "estimate", "--threads", "1"]
    argv += ["--workspace", url, "--no-progress"]
    assert main(argv) == 0
    assert "estimated 2 designs" in capsys.readouterr().out
    with Workspace.open(url) as ws:
        trials = ws.trials(ws.sweeps()[0].id)
        assert [(t.kind, t.round, t.status) for t in trials] == [("estimate", 0, "ok")] * 2
        assert ws.measurements(source="sweep") == []  # an estimate is not a measurement: history never shows it
    assert main(argv) == 0  # the same sweep again: nothing is estimated twice
    out = capsys.readouterr().out
    assert "estimated 2 designs" not in out and "2 trials came from the store" in out
