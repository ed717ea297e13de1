"""Where a workspace lives and how it is opened safely: location rules, the SQLite pre-flight, the engine with
its per-connection settings, and schema migration with Alembic (run in code, never from an alembic.ini).

Location: `--workspace PATH|URL`, else $MIXDESIGN_WORKSPACE, else platformdirs' user data dir
("mixnet-designer")/workspace.sqlite. A PATH is an SQLite file; a URL is any SQLAlchemy database URL
(postgresql+psycopg://user@host/db needs `pip install "psycopg[binary]"`).

Messages never show a database password (a URL that does not parse is printed masked).

Safety: before SQLAlchemy touches an existing SQLite file, a read-only connection checks that it is an SQLite
database that passes `PRAGMA quick_check` and that its schema revision is one this version knows; otherwise a
WorkspaceError names the file and leaves it byte-for-byte as it was (setting WAL mode or migrating would write
to it). Every connection then runs in WAL mode with a busy timeout and foreign keys on, and every transaction
starts with BEGIN IMMEDIATE, so two writers queue for the lock instead of failing on a stale snapshot.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from designer.errors import MixdesignError

ENV = "MIXDESIGN_WORKSPACE"
APP_NAME = "mixnet-designer"
FILE_NAME = "workspace.sqlite"
BUSY_TIMEOUT_MS = 30_000
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database file
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_LOCK_KEY = 0x6D697864  # "mixd": one pg_advisory_xact_lock serialises concurrent migrations
FIX = "choose another with --workspace PATH|URL or MIXDESIGN_WORKSPACE"


class WorkspaceError(MixdesignError):
    """The workspace cannot be opened or used as asked (the message names it and says what to do)."""


class CorruptWorkspaceError(WorkspaceError):
    """The file is not an SQLite database, or fails SQLite's integrity check. It is left untouched."""


class NewerWorkspaceError(WorkspaceError):
    """The workspace's schema revision is unknown to this version (a newer mixnet-designer made it)."""


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / FILE_NAME


def resolve_url(target: str | os.PathLike | None = None) -> URL:
    """PATH | URL | None (then $MIXDESIGN_WORKSPACE, then the default file) -> a SQLAlchemy URL."""
    raw = target if target not in (None, "") else (os.environ.get(ENV) or default_path())
    raw = os.fspath(raw)
    if "://" in raw:
        try:
            return make_url(raw)
        except ArgumentError:
            raise WorkspaceError(
                f"{mask_password(raw)}: not a database URL (the form is "
                "dialect+driver://user:password@host:port/database)"
            ) from None
        except ValueError:  # SQLAlchemy reads the port with int()
            raise WorkspaceError(f"{mask_password(raw)}: the port is not a number") from None
    path = Path(raw).expanduser().resolve()
    if path.is_dir():
        path = path / FILE_NAME
    return URL.create("sqlite+pysqlite", database=str(path))


_PASSWORD = re.compile(r"(://[^/:@]*:)[^/]*(@)")  # user:PASSWORD@ (the last @ before the path)


def mask_password(raw: str) -> str:
    """A URL string as it may be printed: its password (user:PASSWORD@host) replaced by ***."""
    return _PASSWORD.sub(r"\1***\2", raw)


def describe(url: URL) -> str:
    """What to call the workspace in messages: the file path, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The SQLite file `url` names; None for a server database or an in-memory one."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def is_sqlite_file(url: URL) -> bool:
    return sqlite_path(url) is not None


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def known_revisions() -> set[str]:
    return {r.revision for r in script_directory().walk_revisions()}


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # the package ships its migrations: none found is a broken install, not a user's error
        raise RuntimeError(f"no schema revisions under {MIGRATIONS}")
    return head


def _newer(where: str, found: set[str]) -> NewerWorkspaceError:
    return NewerWorkspaceError(
        f"schema revision {', '.join(sorted(found))} was written by a newer mixnet-designer (this version knows up "
        f"to {head_revision()}); the workspace was left as it is: upgrade mixnet-designer, or {FIX}",
        file=where,
    )


# ------------------------------------------------------------------ SQLite pre-flight (read-only)


def preflight_sqlite(path: Path) -> str | None:
    """Check an existing SQLite workspace without writing to it; returns its schema revision (None: empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    where = str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise WorkspaceError(f"cannot read the workspace ({e.strerror})", file=where) from None
    if head != SQLITE_MAGIC:
        raise CorruptWorkspaceError(
            f"not a workspace: the file is not an SQLite database; it was left as it is; {FIX}", file=where
        )
    sidecars = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if not p.exists()]
    try:
        return _preflight_checks(path, where)
    except WorkspaceError:
        for p in sidecars:  # a WAL-mode file opened read-only gets these beside it: leave nothing behind
            if p.exists() and (p.name.endswith("-shm") or p.stat().st_size == 0):
                p.unlink(missing_ok=True)
        raise


def _preflight_checks(path: Path, where: str) -> str | None:
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            check = [r[0] for r in con.execute("PRAGMA quick_check")]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            versions = (
                {r[0] for r in con.execute("SELECT version_num FROM alembic_version")}
                if "alembic_version" in tables
                else set()
            )
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise CorruptWorkspaceError(
            f"the workspace file is damaged ({e}); it was left as it is; {FIX}", file=where
        ) from None
    if check != ["ok"]:
        first = check[0].splitlines()[-1].strip()[:160]
        raise CorruptWorkspaceError(
            f"the workspace file is damaged (SQLite integrity check: {first}); it was left as it is; {FIX}", file=where
        )
    _check_tables(where, tables, versions)
    return next(iter(versions), None)


def _check_tables(where: str, tables: set[str], versions: set[str]) -> None:
    if versions - known_revisions():
        raise _newer(where, versions)
    foreign = {t for t in tables if not t.startswith("sqlite_")} - {"alembic_version"}
    if foreign and not versions:
        raise WorkspaceError(
            f"this database holds tables that are not a workspace's ({', '.join(sorted(foreign))})"
            f"; it was left as it is; {FIX}",
            file=where,
        )


# ------------------------------------------------------------------ engine


def _sqlite_settings(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: a killed process loses no committed row
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: URL) -> Engine:
    """An engine for `url` (an existing SQLite file must have passed preflight_sqlite)."""
    where = describe(url)
    try:
        if url.get_backend_name() == "sqlite":
            path = sqlite_path(url)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise WorkspaceError(f"cannot create the workspace's folder ({e.strerror})", file=where) from None
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_settings(engine)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except NoSuchModuleError:
        raise WorkspaceError(
            f"no SQLAlchemy driver for {url.drivername!r}; for PostgreSQL use a "
            'postgresql+psycopg:// URL and `pip install "psycopg[binary]"`',
            file=where,
        ) from None
    except ImportError as e:
        raise WorkspaceError(
            f'the database driver is not installed ({e}); for PostgreSQL: pip install "psycopg[binary]"', file=where
        ) from None


def _driver_execute(conn: Connection, sql: str) -> None:
    """Run `sql` on the driver's own connection, outside SQLAlchemy (whose execute would BEGIN first)."""
    raw = conn.connection.dbapi_connection
    if raw is None:  # only an invalidated connection has none, and nothing here invalidates
        raise RuntimeError("the database connection was invalidated")
    raw.execute(sql)


def migrate(engine: Engine, where: str, revision: str = "head") -> None:
    """Bring the schema to `revision` in one transaction (concurrent openers queue on a lock).

    On SQLite, foreign keys are off while the revisions run (and checked with PRAGMA foreign_key_check before
    the commit): a batch migration recreates a table by copying it and dropping the old one, and with foreign
    keys on that drop would cascade-delete the trials of every sweep (and unlink their measurements)."""
    cfg = _alembic_config()
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # a no-op inside a transaction: set it before BEGIN, on the raw connection
                _driver_execute(conn, "PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    _migrate_in(conn, cfg, where, revision)
            finally:
                if sqlite:
                    _driver_execute(conn, "PRAGMA foreign_keys = ON")
    except WorkspaceError:
        raise
    except DBAPIError as e:
        raise WorkspaceError(f"cannot open the workspace ({_first_line(e.orig)}); {FIX}", file=where) from None
    except SQLAlchemyError as e:
        raise WorkspaceError(f"cannot open the workspace ({_first_line(e)})", file=where) from None


def _migrate_in(conn, cfg: Config, where: str, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    current = set(MigrationContext.configure(conn).get_current_heads())
    _check_tables(where, set(inspect(conn).get_table_names()), current)
    if revision == "head" and current == {head_revision()}:
        return
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise WorkspaceError(
                f"upgrading the schema would leave {len(broken)} row(s) pointing at missing rows "
                f"(first: {tuple(broken[0])}); nothing was changed",
                file=where,
            )


def _first_line(e: BaseException | None) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def chosen_by(target: str | os.PathLike | None) -> str:
    """Which rule picked the workspace: the option, the environment variable, or the default."""
    if target not in (None, ""):
        return "--workspace"
    return f"${ENV}" if os.environ.get(ENV) else "the default (platformdirs user data dir)"
