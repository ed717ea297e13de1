"""Measurements you can share and trust: two machines on one workspace and across an export/import keep every
trial apart and complete, nothing duplicated; a timed trial and its measurement are one transaction; migrations
keep trials (foreign keys off) and upgrade an older file the same way twice; an export's report counts the rows
in the file; history filters by machine, follows a renamed design by its layers and shows unstable figures; a
database URL error never shows the password. Fake trial functions: no torch."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from designer import count, emit_cfg, load_preset, lower, parse_cfg
from designer.cli.main import main
from designer.explore.runner import Settings
from designer.explore.space import parse_axes
from designer.explore.sweep import plan_sweep, run_sweep, summary
from designer.explore.workspace_store import WorkspaceTrialStore
from designer.machine import Fingerprint, fingerprint
from designer.workspace import Workspace, WorkspaceError, cfg_sha256, layers_sha256
from designer.workspace.store import bench_row
from designer.workspace.transfer import export_workspace, import_workspace

A = Fingerprint(cpu="Machine A CPU", cores=4, system="Linux x86_64", libraries=(("torch", "2.13.0"),))
B = Fingerprint(cpu="Machine B CPU", cores=8, system="Linux x86_64", libraries=(("torch", "2.13.0"),))
AXES = ["width-mult=0.75,1.0"]
SETTINGS = Settings(measure=("infer",), rounds=2)


def timed_as(machine: Fingerprint, ms_per_gfma: float):
    """A trial function for `machine`: latency = FMA x ms_per_gfma, with the machine the runtime would report."""
    calls = []

    def trial(cfg_text, kind, s):
        calls.append(cfg_text)
        return {
            "median_ms": count(parse_cfg(cfg_text)).fma / 1e9 * ms_per_gfma,
            "iqr_ms": 0.0,
            "device": "cpu",
            "device_name": machine.cpu,
            "threads": machine.cores,
            "backend": "torch",
            "mode": kind,
            "runs": 5,
            "load_before": 0.0,
            "load_during": 0.0,
            "unstable": None,
            "machine": machine.to_json(),
            "trial_s": 0.0,
        }

    trial.calls = calls
    return trial


def sweep_on(ws: Workspace, machine: Fingerprint, ms_per_gfma: float) -> list[dict]:
    plan = plan_sweep(load_preset("mixnet-m"), parse_axes(AXES), SETTINGS, machine=machine)
    trial = timed_as(machine, ms_per_gfma)
    rows = run_sweep(plan, WorkspaceTrialStore(ws), trial)
    return rows, plan, trial


def trial_machines(ws: Workspace) -> list[str]:
    (sweep,) = ws.sweeps()
    return sorted(t.machine_key for t in ws.trials(sweep.id))


def test_two_machines_share_one_workspace_and_merge_by_trial_key(tmp_path):
    shared = tmp_path / "shared.sqlite"
    with Workspace.open(shared) as ws:
        rows_a, plan_a, _ = sweep_on(ws, A, 1.0)
        rows_b, plan_b, trial_b = sweep_on(ws, B, 3.0)
        assert len(trial_b.calls) == 4  # B reused none of A's four timings
        assert trial_machines(ws) == sorted([A.key] * 4 + [B.key] * 4)
        assert sorted(m.machine_key for m in ws.measurements()) == sorted([A.key] * 4 + [B.key] * 4)
        assert [r["infer_ms"] for r in summary(plan_a, WorkspaceTrialStore(ws))] == [r["infer_ms"] for r in rows_a]
        assert all(rb["infer_ms"] == pytest.approx(3 * ra["infer_ms"]) for ra, rb in zip(rows_a, rows_b))

    # the same sweep run separately in two workspaces, then merged both ways
    with Workspace.open(tmp_path / "a.sqlite") as wa, Workspace.open(tmp_path / "b.sqlite") as wb:
        sweep_on(wa, A, 1.0)
        sweep_on(wb, B, 3.0)
        assert wa.sweeps()[0].uid != wb.sweeps()[0].uid  # random ids, one settings hash
        assert wa.sweeps()[0].settings_hash == wb.sweeps()[0].settings_hash
        export_workspace(wb, tmp_path / "from-b.sqlite")
        export_workspace(wa, tmp_path / "from-a.sqlite")
        first = import_workspace(wa, tmp_path / "from-b.sqlite")
        assert first.added["sweep_trials"] == 4 and first.added["measurements"] == 4  # not "already present"
        assert first.added["sweeps"] == 0 and first.skipped["sweeps"] == 1  # one sweep, now with both machines
        again = import_workspace(wa, tmp_path / "from-b.sqlite")
        assert sum(again.added.values()) == 0
        import_workspace(wb, tmp_path / "from-a.sqlite")
        for ws in (wa, wb):
            assert trial_machines(ws) == sorted([A.key] * 4 + [B.key] * 4)
            assert len(ws.measurements()) == 8 and len(ws.sweeps()) == 1
            (sweep,) = ws.sweeps()
            links = [t.measurement_id for t in ws.trials(sweep.id)]
            assert None not in links and len(set(links)) == 8  # every trial linked to its own measurement
        # each machine's summary comes from its own trials, whichever workspace holds them
        plan_b = plan_sweep(load_preset("mixnet-m"), parse_axes(AXES), SETTINGS, machine=B)
        assert summary(plan_b, WorkspaceTrialStore(wa)) == summary(plan_b, WorkspaceTrialStore(wb))
        resumed = timed_as(B, 3.0)
        run_sweep(plan_b, WorkspaceTrialStore(wa), resumed)
        assert resumed.calls == []  # B resumes from its own imported trials


def test_a_timed_trial_and_its_measurement_are_one_transaction(tmp_path):
    with Workspace.open(tmp_path / "ws.sqlite") as ws:
        row = bench_row(
            {"median_ms": 1.0, "machine": A.to_json()}, design_name="x", source="sweep", cfg_text="[net]\nwidth=8\n"
        )
        with pytest.raises(WorkspaceError, match="refused the write"):
            ws.add_trial(12345, "k", kind="infer", measurement=row)  # no such sweep: the trial cannot be written
        assert ws.counts()["measurements"] == 0  # ... and neither is its measurement


def _revision_2_with_a_sweep(path: Path) -> None:
    """A revision-2 workspace as `mixdesign sweep` wrote it: a sweep, two trials (key and record in `point`), one
    linked to its measurement."""
    Workspace.open(path, revision="0002").close()
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO measurements (id, design_name, cfg_sha256, device, device_name, backend, dtype, batch, "
        "threads, median_ms, iqr_ms, source, settings, versions, uid, measured_at) VALUES (1, 'd', :s, "
        "'cpu', 'x', 'torch', 'fp32', 1, 1, 2.5, 0.1, 'sweep', '{}', '{}', 'm1', '2026-12-01 10:00:00')",
        {"s": "a" * 64},
    )
    con.execute(
        "INSERT INTO sweeps (id, spec, uid, created) VALUES (1, '{}', '0123456789abcdef', '2026-12-01 10:00:00')"
    )
    for i, (status, mid) in enumerate((("done", 1), ("failed", None))):
        point = (
            f'{{"trial_key": "0123456789abcdef/aaaaaaaaaaaaaaaa/infer/ffff/r{i}", "record": {{"kind": "infer", '
            f'"round": {i}, "point": {{"width-mult": 1.0}}, "median_ms": 2.5}}}}'
        )
        con.execute(
            "INSERT INTO sweep_trials (sweep_id, measurement_id, point, status, created) VALUES "
            "(1, ?, ?, ?, '2026-12-01 10:00:00')",
            (mid, point, status),
        )
    con.commit()
    con.close()


def test_upgrading_keeps_every_trial_and_its_link(tmp_path):
    p = tmp_path / "old.sqlite"
    _revision_2_with_a_sweep(p)
    with Workspace.open(p) as ws:  # 0002 -> 0003 recreates sweeps and sweep_trials (SQLite batch mode)
        (sweep,) = ws.sweeps()
        trials = ws.trials(sweep.id)
        (m,) = ws.measurements()
    assert sweep.settings_hash == "0123456789abcdef" and len(sweep.uid) == 32
    assert [(t.kind, t.round, t.status, t.measurement_id) for t in trials] == [
        ("infer", 0, "ok", m.id),
        ("infer", 1, "failed", None),
    ]
    assert trials[0].trial_key.endswith("/r0") and trials[0].point == {"width-mult": 1.0}
    assert trials[0].result["median_ms"] == 2.5


def test_importing_the_same_older_file_twice_adds_nothing(tmp_path):
    old1 = tmp_path / "rev1.sqlite"
    Workspace.open(old1, revision="0001").close()
    con = sqlite3.connect(old1)
    for i in range(3):
        con.execute(
            "INSERT INTO measurements (design_name, cfg_sha256, device, device_name, dtype, batch, threads, "
            "median_ms, iqr_ms, fma, source, measured_at) VALUES ('old', :s, 'cpu', 'x', 'fp32', 1, 2, :m, "
            "0.5, 1000, 'cli', '2026-11-20 10:00:00')",
            {"s": "b" * 64, "m": 10.0 + i},
        )
    con.commit()
    con.close()
    old2 = tmp_path / "rev2.sqlite"
    _revision_2_with_a_sweep(old2)
    with Workspace.open(tmp_path / "ws.sqlite") as ws:
        for old in (old1, old2):
            first = import_workspace(ws, old)
            second = import_workspace(ws, old)
            assert sum(first.added.values()) >= 1 and sum(second.added.values()) == 0, (old, second)
        assert ws.counts()["measurements"] == 4 and ws.counts()["sweep_trials"] == 2


def test_export_report_counts_the_rows_in_the_file(tmp_path):
    with Workspace.open(tmp_path / "ws.sqlite") as ws:
        sweep_on(ws, A, 1.0)
        ws.save_design("mine", load_preset("mixnet-s"))
        report = export_workspace(ws, tmp_path / "out.sqlite")
        expected = ws.counts()
    con = sqlite3.connect(tmp_path / "out.sqlite")
    in_file = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in expected}
    con.close()
    assert in_file == expected == report.added
    assert in_file["sweep_trials"] == 4 and in_file["measurements"] == 4 and in_file["designs"] == 1


# ------------------------------------------------------------------ history


def test_history_by_machine_with_runs_and_the_unstable_verdict(tmp_path, capsys):
    ws_path = str(tmp_path / "ws.sqlite")
    here = fingerprint("cpu")
    cfg = emit_cfg(lower(load_preset("mixnet-s")))
    with Workspace.open(ws_path) as ws:
        for machine, ms, unstable in ((here, 1.25, "load 1.8 of 2 cores busy while timing"), (B, 7.5, None)):
            ws.add_bench_result(
                {"median_ms": ms, "iqr_ms": 0.0, "runs": 9, "machine": machine.to_json(), "unstable": unstable},
                design_name="s",
                source="cli",
                cfg_text=cfg,
            )
    assert main(["history", "--workspace", ws_path]) == 0  # default: every machine, told apart
    out = capsys.readouterr().out
    assert "1.250" in out and "7.500" in out and f"{here.key[:8]} (this)" in out and B.key[:8] in out
    assert "unstable: load 1.8 of 2 cores busy" in out and "measure it again when fewer cores are busy" in out
    assert main(["history", "--machine", "this", "--workspace", ws_path]) == 0
    out = capsys.readouterr().out
    assert "1.250" in out and "7.500" not in out
    assert main(["history", "--machine", B.key[:8], "--workspace", ws_path]) == 0
    out = capsys.readouterr().out
    assert "7.500" in out and "1.250" not in out
    assert main(["history", "--machine", "nonsense!", "--workspace", ws_path]) == 2
    assert "--machine nonsense!" in capsys.readouterr().err


def test_renaming_a_design_keeps_its_history(tmp_path, capsys):
    ws_path = str(tmp_path / "ws.sqlite")
    first = load_preset("mixnet-s")
    renamed = replace(first, name="my-small-net")
    assert cfg_sha256(emit_cfg(lower(first))) != cfg_sha256(emit_cfg(lower(renamed)))  # the header differs
    with Workspace.open(ws_path) as ws:
        ws.save_design("before", first)
        ws.add_bench_result(
            {"median_ms": 4.25, "iqr_ms": 0.0}, design_name="before", source="cli", cfg_text=emit_cfg(lower(first))
        )
        ws.save_design("after", renamed)
        assert len(ws.measurements(layers_sha256=layers_sha256(emit_cfg(lower(renamed))))) == 1
    assert main(["history", "after", "--workspace", ws_path]) == 0
    assert "4.250" in capsys.readouterr().out


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql+psycopg://me:hunter2@db.example:abc/ws", "port is not a number"),
        ("postgres ql://me:hunter2@db.example/ws", "not a database URL"),
    ],
)
def test_a_bad_url_is_one_line_without_the_password(url, says, capsys, tmp_path):
    with pytest.raises(WorkspaceError, match=says) as e:
        Workspace.open(url)
    assert "hunter2" not in str(e.value) and "me:***@" in str(e.value) and "\n" not in str(e.value)
    assert main(["history", "--workspace", url]) == 2
    err = capsys.readouterr().err
    assert says in err and "hunter2" not in err and "Traceback" not in err


def test_a_bad_url_on_an_app_page_is_a_message(monkeypatch):
    from tests.conftest import start_app

    monkeypatch.setenv("MIXDESIGN_WORKSPACE", "postgresql+psycopg://me:hunter2@db.example:abc/ws")
    at = start_app("latency.py")
    warning = " ".join(w.value for w in at.warning)
    assert "port is not a number" in warning and "hunter2" not in warning


def test_after_a_migration_foreign_keys_are_on_again(tmp_path):
    p = tmp_path / "old.sqlite"
    _revision_2_with_a_sweep(p)
    with Workspace.open(p) as ws, ws.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng = create_engine(f"sqlite:///{p}")
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM sweep_trials")).scalar() == 2
    eng.dispose()


def test_export_is_one_snapshot_while_another_writer_records(tmp_path):
    """A sweep records a trial and its measurement whenever the export lets a writer in between its reads: the
    file must hold both or neither (one transaction over all tables lets no writer in)."""
    import threading

    from sqlalchemy import event

    path = tmp_path / "ws.sqlite"
    with Workspace.open(path) as ws:
        sweep_on(ws, A, 1.0)
        sweep_pk = ws.sweeps()[0].id

    def record_one_more() -> None:
        with Workspace.open(path) as other:
            row = bench_row(
                {"median_ms": 1.0, "machine": B.to_json()},
                design_name="late",
                source="sweep",
                cfg_text="[net]\nwidth=8\n",
            )
            other.add_trial(sweep_pk, "late/trial", kind="infer", measurement=row)

    with Workspace.open(path) as ws:
        begins = []

        def writer_between_reads(conn) -> None:  # a connection checked out: no transaction (and no lock) yet
            begins.append(1)
            if len(begins) == 4:  # a read after designs, imports and measurements: the writer gets in now
                t = threading.Thread(target=record_one_more)
                t.start()
                t.join(60)

        event.listen(ws.engine, "engine_connect", writer_between_reads)
        report = export_workspace(ws, tmp_path / "out.sqlite")
        event.remove(ws.engine, "engine_connect", writer_between_reads)
    con = sqlite3.connect(tmp_path / "out.sqlite")
    linked = con.execute("SELECT count(*) FROM sweep_trials t JOIN measurements m ON m.id = t.measurement_id")
    assert linked.fetchone()[0] == report.added["sweep_trials"] == report.added["measurements"]
    con.close()
