"""Fixtures for the workspace tests: a real PostgreSQL server started for the session, and `workspace_url`, one
fresh database per test on each backend (an SQLite file; a new PostgreSQL database).

The server: Debian's postgresql package (initdb and pg_ctl from /usr/lib/postgresql/<v>/bin or `pg_config
--bindir`), run from a temporary folder on a free port, listening on 127.0.0.1 only, trust authentication.
PostgreSQL refuses to run as root: as root the server runs as the `postgres` user (runuser). Skips, saying why,
where the binaries, psycopg or that user are missing. Registered in tests/conftest.py.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_DBS = itertools.count(1)


def _bindir() -> Path | None:
    cands = [os.environ.get("PG_BINDIR")]
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        cands.append(out.stdout.strip())
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    for c in cands:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """(host, port) of a PostgreSQL server that lives as long as the test session."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # "initdb: cannot be run as root"
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the PostgreSQL server as")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="mixdesign-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log, port = root / "data", root / "server.log", free_port()
    try:
        r = subprocess.run(
            prefix
            + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode != 0:
            pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = subprocess.run(
            prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if r.returncode != 0:
            pytest.skip(f"pg_ctl start failed: {(log.read_text() if log.exists() else r.stderr)[-300:]}")
        yield "127.0.0.1", port
    finally:
        subprocess.run(
            prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def new_pg_database(server: tuple[str, int]) -> str:
    """A new, empty database on the session's server; its SQLAlchemy URL."""
    import psycopg

    host, port = server
    name = f"ws_{os.getpid()}_{next(_DBS)}"
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace_url(request, tmp_path) -> str:
    """A fresh, not yet created workspace on each backend: an SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "ws.sqlite")
    return new_pg_database(request.getfixturevalue("pg_server"))
