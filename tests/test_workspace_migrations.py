"""Schema versions: a workspace is created at the head revision, migrated from revision 1 with its rows kept,
and the models match what the migrations build (both backends); a corrupt or foreign SQLite file is refused
with a clear message and left byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from designer import dump_yaml, emit_cfg, load_preset, lower
from designer.workspace import (
    CorruptWorkspaceError,
    Workspace,
    WorkspaceError,
    cfg_sha256,
    head_revision,
    layers_sha256,
)
from designer.workspace.engine import known_revisions
from designer.workspace.models import Base


def _engine(url: str):
    return create_engine(url if "://" in url else f"sqlite:///{url}")


def test_revisions_are_a_line():
    assert known_revisions() == {"0001", "0002", "0003", "0004"} and head_revision() == "0004"


def test_from_an_empty_database_to_the_models(workspace_url):
    Workspace.open(workspace_url).close()
    eng = _engine(workspace_url)
    with eng.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0004"]
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata)
    eng.dispose()
    assert diff == []  # the models are exactly what the migrations made (tables, columns, indexes, constraints)


def test_from_revision_1_keeps_the_rows(workspace_url):
    Workspace.open(workspace_url, revision="0001").close()
    arch = load_preset("mixnet-s")
    sha = cfg_sha256(emit_cfg(lower(arch)))
    eng = _engine(workspace_url)
    with eng.begin() as c:  # rows as revision 1 wrote them
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        c.execute(
            text(
                "INSERT INTO designs (name, design_yaml, cfg_sha256, created, updated) "
                "VALUES ('old', :y, :s, '2026-11-20 10:00:00', '2026-11-20 10:00:00')"
            ),
            {"y": dump_yaml(arch), "s": sha},
        )
        for i, median in enumerate((12.5, 13.0)):
            c.execute(
                text(
                    "INSERT INTO measurements (design_name, cfg_sha256, device, device_name, dtype, batch, "
                    "threads, median_ms, iqr_ms, fma, source, measured_at) VALUES ('old', :s, 'cpu', 'x', "
                    "'fp32', 1, 2, :m, 0.5, 200000000, 'cli', :t)"
                ),
                {"s": sha, "m": median, "t": f"2026-11-20 10:0{i}:00"},
            )
    eng.dispose()

    with Workspace.open(workspace_url) as ws:
        (d,) = ws.designs().items
        assert d.name == "old" and d.arch == arch and d.row.derived_from is None and d.row.source == "app"
        rows = ws.measurements(cfg_sha256=sha)
        assert [r.median_ms for r in rows] == [13.0, 12.5]  # newest first
        assert all(r.backend == "torch" and r.settings == {} and r.per_layer is None for r in rows)
        assert len({r.uid for r in rows}) == 2 and all(len(r.uid) == 32 for r in rows)
        assert rows[1].fma_per_s == pytest.approx(200_000_000 / 0.0125)
        # revision 3 files them under the layers of the saved design that emits their cfg (history lines up)
        assert {r.layers_sha256 for r in rows} == {layers_sha256(emit_cfg(lower(arch)))}
        assert all(r.machine_key is None and r.runs is None and r.unstable is None for r in rows)
        ws.add_measurement(
            design_name="old", cfg_sha256=sha, device="cpu", dtype="fp32", batch=1, median_ms=1.0, iqr_ms=0.0
        )  # the new columns work after the upgrade
        ws.add_training_run(design_name="old")
        assert ws.counts()["measurements"] == 3 and ws.counts()["training_runs"] == 1


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _refused(path: Path, error: type, match: str) -> str:
    before = (_sha(path), path.stat().st_mtime_ns)
    with pytest.raises(error, match=match) as e:
        Workspace.open(path)
    assert (_sha(path), path.stat().st_mtime_ns) == before  # never written
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()
    msg = str(e.value)
    assert msg.startswith(str(path)) and "\n" not in msg and "--workspace" in msg
    return msg


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    p = tmp_path / "workspace.sqlite"
    p.write_bytes(os.urandom(8192))
    _refused(p, CorruptWorkspaceError, "not an SQLite database")


def _workspace_of_50_designs(p: Path) -> Path:
    with Workspace.open(p) as ws:
        for i in range(50):
            ws.save_design(f"d{i}", load_preset("mixnet-s"))
    return p


def test_a_damaged_database_is_refused_untouched(tmp_path):
    p = _workspace_of_50_designs(tmp_path / "workspace.sqlite")
    data = bytearray(p.read_bytes())
    assert len(data) > 16 * 4096
    data[5 * 4096 : 9 * 4096] = os.urandom(4 * 4096)  # wreck some pages; the header stays intact
    p.write_bytes(bytes(data))
    _refused(p, CorruptWorkspaceError, "damaged")


def test_a_truncated_database_is_refused_untouched(tmp_path):
    p = _workspace_of_50_designs(tmp_path / "workspace.sqlite")
    p.write_bytes(p.read_bytes()[: 3 * 4096])
    _refused(p, CorruptWorkspaceError, "damaged")


def test_someone_elses_sqlite_database_is_refused_untouched(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    con.commit()
    con.close()
    msg = _refused(p, WorkspaceError, "not a workspace's")
    assert "photos" in msg


def test_bad_urls_and_missing_drivers_are_one_line_errors(tmp_path):
    with pytest.raises(WorkspaceError, match="no SQLAlchemy driver"):
        Workspace.open("nosuchdb+nodriver://u@h/db")
    with pytest.raises(WorkspaceError, match="cannot open the workspace"):
        Workspace.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path):
    with Workspace.open(tmp_path / "ws.sqlite") as ws:
        with ws.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(WorkspaceError, match="refused the write.*FOREIGN KEY"):
            ws.add_trial(12345, "k", point={"width_mult": 1.0})  # no such sweep
