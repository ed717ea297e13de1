"""Export a workspace to one file and import such a file into another workspace.

The file is an SQLite workspace at the current schema revision, in rollback-journal mode (one self-contained
file, no -wal/-shm beside it). Why SQLite rather than JSON: a colleague can open it as it is (`mixdesign
--workspace FILE ...`, MIXDESIGN_WORKSPACE=FILE for the app, or any SQLite browser / the `sqlite3` shell), it
keeps the column types and its schema revision, and an export from an older version is migrated on import by
the same Alembic revisions as any workspace. JSON would need a second reader and its own versioning.

Export reads every table in ONE transaction (a consistent snapshot even while another process records), and
its report counts the rows in the written file, not the rows it meant to write.

Import merges: rows already present (same uid) are skipped, so importing the same file twice adds nothing; a
design or import whose name is taken by different content is added under "NAME (imported)". A sweep is the
same sweep when its uid or its settings hash matches one already here: its trials are merged by trial key (a
colleague's trials of the same sweep, on their machine, are added; the trials already here are skipped). The
file being imported is never written: it is checked read-only, copied with SQLite's backup API, and the copy is
migrated. A database error on either side is one WorkspaceError line.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from designer.workspace.engine import WorkspaceError, preflight_sqlite
from designer.workspace.models import Base, DesignRow, ImportedCfgRow, SweepRow, SweepTrialRow
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


@contextmanager
def _one_line(what: str, where: str) -> Iterator[None]:
    """Database errors of an export or import as one WorkspaceError line."""
    try:
        yield
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise WorkspaceError(f"{what} failed ({first}); nothing was changed", file=where) from None


def _table(model: type[Base]) -> Table:
    """A model's Core table (its `__table__`, typed as the Table it is)."""
    return Base.metadata.tables[model.__tablename__]


def _rows(conn: Connection, model: type[Base]) -> list[dict]:
    t = _table(model)
    return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def snapshot(ws: Workspace) -> dict[str, list[dict]]:
    """Every row of every table, read in one transaction (repeatable read on a server database)."""
    with _one_line("reading the workspace", ws.location), ws.engine.connect() as conn:
        if conn.dialect.name != "sqlite":  # SQLite's transaction (BEGIN IMMEDIATE) is a snapshot already
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return {m.__tablename__: _rows(conn, m) for m in MODELS}


def export_workspace(ws: Workspace, dest: str | Path) -> TransferReport:
    """Write every row of `ws` into a new SQLite file `dest` (refused if it exists; never half-written). The report
    counts the rows of each table in the written file."""
    dest = Path(dest).expanduser().resolve()
    if dest.exists():
        raise WorkspaceError(
            "exists already; export writes a new file (choose another name or delete it)", file=str(dest)
        )
    if ws.path is not None and dest == ws.path:
        raise WorkspaceError("that is the workspace itself", file=str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tables = snapshot(ws)
    report = TransferReport()
    try:
        out = Workspace.open(tmp)
        try:
            with _one_line("writing the export", str(dest)), out.engine.begin() as conn:
                for model in MODELS:
                    rows = tables[model.__tablename__]
                    if rows:
                        conn.execute(insert(_table(model)), rows)
            report.added = out.counts()
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
    tables = snapshot(other)
    with _one_line(f"importing {other.location}", ws.location), ws.engine.begin() as conn:
        ids: dict[str, dict[int, int]] = {}
        for model in MODELS:
            name = model.__tablename__
            ids[name] = {}
            merge = _merge_trials if model is SweepTrialRow else _merge_sweeps if model is SweepRow else _merge_rows
            report.added[name], report.skipped[name] = merge(conn, model, tables[name], ids, report)
    return report


def _insert(conn: Connection, model: type[Base], row: dict) -> int:
    key = conn.execute(insert(_table(model)).values(**row)).inserted_primary_key
    if key is None:  # only an executemany has none, and this inserts one row
        raise RuntimeError(f"no primary key came back from an insert into {model.__tablename__}")
    return int(key[0])


def _merge_rows(
    conn: Connection, model: type[Base], rows: list[dict], ids: dict[str, dict[int, int]], report: TransferReport
) -> tuple[int, int]:
    """Designs, imports, measurements, training runs: by uid; a name taken by other content gets a new name."""
    table = _table(model)
    added = skipped = 0
    known = {uid: i for i, uid in conn.execute(select(table.c.id, table.c.uid))}
    named = model in (DesignRow, ImportedCfgRow)
    content_col = "design_yaml" if model is DesignRow else "text"
    names = (
        {r.name: r.content for r in conn.execute(select(table.c.name, table.c[content_col].label("content")))}
        if named
        else {}
    )
    for row in rows:
        old_id = row.pop("id")
        if row["uid"] in known:
            ids[table.name][old_id] = known[row["uid"]]
            skipped += 1
            continue
        if named:
            if names.get(row["name"]) == row[content_col]:
                skipped += 1
                continue
            if row["name"] in names:
                new = _free_name(row["name"], set(names))
                report.renamed.append((row["name"], new))
                row["name"] = new
            names[row["name"]] = row[content_col]
        ids[table.name][old_id] = _insert(conn, model, row)
        added += 1
    return added, skipped


def _merge_sweeps(
    conn: Connection, model: type[Base], rows: list[dict], ids: dict[str, dict[int, int]], report: TransferReport
) -> tuple[int, int]:
    """A sweep already here (same uid, or same settings hash: the same sweep run elsewhere) takes the trials."""
    t = _table(SweepRow)
    by_uid = {u: i for i, u in conn.execute(select(t.c.id, t.c.uid))}
    by_hash = {h: i for i, h in conn.execute(select(t.c.id, t.c.settings_hash))}
    added = skipped = 0
    for row in rows:
        old_id = row.pop("id")
        here = by_uid.get(row["uid"], by_hash.get(row["settings_hash"]))
        if here is not None:
            ids["sweeps"][old_id] = here
            skipped += 1
            continue
        ids["sweeps"][old_id] = by_hash[row["settings_hash"]] = _insert(conn, SweepRow, row)
        added += 1
    return added, skipped


def _merge_trials(
    conn: Connection, model: type[Base], rows: list[dict], ids: dict[str, dict[int, int]], report: TransferReport
) -> tuple[int, int]:
    """Trials by (sweep, trial key): a key already in the sweep is skipped, a new one added with its links."""
    t = _table(SweepTrialRow)
    have = {(s, k) for s, k in conn.execute(select(t.c.sweep_id, t.c.trial_key))}
    added = skipped = 0
    for row in rows:
        row.pop("id")
        row["sweep_id"] = ids["sweeps"][row["sweep_id"]]
        if (row["sweep_id"], row["trial_key"]) in have:
            skipped += 1
            continue
        row["measurement_id"] = ids["measurements"].get(row["measurement_id"])
        _insert(conn, SweepTrialRow, row)
        have.add((row["sweep_id"], row["trial_key"]))
        added += 1
    return added, skipped
