"""Export a workspace to one file and import such a file into another workspace.

The file is an SQLite workspace at the current schema revision, in rollback-journal mode (one self-contained
file, no -wal/-shm beside it). Why SQLite rather than JSON: a colleague can open it as it is (`mixdesign
--workspace FILE ...`, MIXDESIGN_WORKSPACE=FILE for the app, or any SQLite browser / the `sqlite3` shell), it
keeps the column types and its schema revision, and an export from an older version is migrated on import by
the same Alembic revisions as any workspace. JSON would need a second reader and its own versioning.

Import merges: rows already present (same uid) are skipped, so importing the same file twice adds nothing; a
design or import whose name is taken by different content is added under "NAME (imported)". The file being
imported is never written: it is checked read-only, copied with SQLite's backup API, and the copy is migrated.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select

from designer.workspace.engine import WorkspaceError, preflight_sqlite
from designer.workspace.models import DesignRow, ImportedCfgRow, MeasurementRow, SweepTrialRow
from designer.workspace.store import MODELS, Workspace


@dataclass
class TransferReport:
    """Rows per table written (export) or added and skipped as already present (import); renamed names."""

    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    renamed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {t.replace('_', ' ')}" for t, n in self.added.items() if n]
        s = ", ".join(parts) or "nothing new"
        skipped = sum(self.skipped.values())
        if skipped:
            s += f" ({skipped} already present, skipped)"
        for old, new in self.renamed:
            s += f"; {old!r} added as {new!r} (the name was taken)"
        return s


def _rows(ws: Workspace, model) -> list[dict]:
    with ws.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(model.__table__).order_by(model.__table__.c.id))]


def export_workspace(ws: Workspace, dest: str | Path) -> TransferReport:
    """Write every row of `ws` into a new SQLite file `dest` (refused if it exists; never half-written)."""
    dest = Path(dest).expanduser().resolve()
    if dest.exists():
        raise WorkspaceError("exists already; export writes a new file (choose another name or delete it)",
                             file=str(dest))
    if ws.path is not None and dest == ws.path:
        raise WorkspaceError("that is the workspace itself", file=str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    report = TransferReport()
    try:
        out = Workspace.open(tmp)
        try:
            with out.engine.begin() as conn:
                for model in MODELS:
                    rows = _rows(ws, model)
                    if rows:
                        conn.execute(insert(model.__table__), rows)
                    report.added[model.__tablename__] = len(rows)
        finally:
            out.close()
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            con.close()
        os.replace(tmp, dest)
    finally:
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
    return report


def import_workspace(ws: Workspace, src: str | Path) -> TransferReport:
    """Merge the workspace file `src` into `ws` (src is read only; an older schema is migrated in a copy)."""
    src = Path(src).expanduser().resolve()
    if not src.is_file():
        raise WorkspaceError("no such file", file=str(src))
    preflight_sqlite(src)
    with tempfile.TemporaryDirectory(prefix="mixdesign-import-") as tmpdir:
        copy = Path(tmpdir) / "import.sqlite"
        ro = sqlite3.connect(f"{src.as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        try:
            ro.backup(dst)
        finally:
            dst.close()
            ro.close()
        other = Workspace.open(copy)
        try:
            return _merge(ws, other)
        finally:
            other.close()


def _free_name(name: str, taken: set[str]) -> str:
    new, k = f"{name} (imported)", 2
    while new in taken:
        new, k = f"{name} (imported {k})", k + 1
    return new


def _merge(ws: Workspace, other: Workspace) -> TransferReport:
    report = TransferReport()
    ids: dict[str, dict[int, int]] = {}
    with ws.engine.begin() as conn:
        for model in MODELS:
            table = model.__table__
            name = table.name
            added = skipped = 0
            ids[name] = {}
            have_uid = "uid" in table.c
            known = set(conn.execute(select(table.c.uid)).scalars()) if have_uid else set()
            names = ({r.name: r.content for r in conn.execute(
                select(table.c.name, (table.c.design_yaml if model is DesignRow else table.c.text).label("content")))}
                if model in (DesignRow, ImportedCfgRow) else {})
            for row in _rows(other, model):
                old_id = row.pop("id")
                if have_uid and row["uid"] in known:
                    skipped += 1
                    continue
                if names:
                    content = row["design_yaml"] if model is DesignRow else row["text"]
                    if names.get(row["name"]) == content:
                        skipped += 1
                        continue
                    if row["name"] in names:
                        new = _free_name(row["name"], set(names))
                        report.renamed.append((row["name"], new))
                        row["name"] = new
                    names[row["name"]] = content
                if model is SweepTrialRow:
                    if row["sweep_id"] not in ids["sweeps"]:
                        skipped += 1  # its sweep was already here, with its trials
                        continue
                    row["sweep_id"] = ids["sweeps"][row["sweep_id"]]
                    mid = row.get("measurement_id")
                    row["measurement_id"] = ids["measurements"].get(mid, _by_uid(conn, other, mid))
                new_id = conn.execute(insert(table).values(**row)).inserted_primary_key[0]
                ids[name][old_id] = new_id
                added += 1
            report.added[name] = added
            report.skipped[name] = skipped
    return report


def _by_uid(conn, other: Workspace, measurement_id: int | None) -> int | None:
    """A trial's measurement that was already in the target workspace: find it by its uid."""
    if measurement_id is None:
        return None
    t = MeasurementRow.__table__
    with other.engine.connect() as oc:
        uid = oc.execute(select(t.c.uid).where(t.c.id == measurement_id)).scalar()
    return conn.execute(select(t.c.id).where(t.c.uid == uid)).scalar() if uid else None
