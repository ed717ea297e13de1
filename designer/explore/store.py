"""Where sweep trials are kept as they finish, so a rerun resumes and Ctrl-C loses nothing finished.

`TrialStore` is the seam: the sweep runner only calls `done`, `record`, `list`, `record_sweep` and `sweeps`.
`JsonlStore` keeps everything in one JSON-lines file (one line per trial or sweep header, appended and fsynced
before the runner moves on; a line cut short by a kill is skipped on reading; the latest line for a key wins).
The workspace database implements the same protocol over its sweeps and trial rows
(designer/explore/workspace_store.py).

A trial key names one measurement of one design: the sweep's spec hash, the machine's fingerprint key, the
design's cfg sha256, the kind (count / infer / train / accuracy), its settings and the round (runner.trial_key).
A record carries its "status": "ok", "failed" (with "message": the error) or "invalid" (with the point's reason);
records without one (older files) are "ok". Torch-free.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

ENV_PATH = "MIXDESIGN_SWEEPS"


class TrialStore(Protocol):
    @property
    def path(self) -> object:
        """Where the trials are kept (a file, or the workspace's location), as the CLI and the app print it."""

    def done(self, trial_key: str) -> dict | None:
        """The recorded result of a trial, or None when it has not finished."""

    def record(self, trial_key: str, result: dict) -> None:
        """Keep a finished trial (durably, before returning); result carries its "sweep_id"."""

    def list(self, sweep_id: str) -> builtins.list[dict]:
        """Every recorded trial of a sweep, in the order they finished."""

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        """Keep a sweep's specification (base design, axes, settings), once per sweep id."""

    def sweeps(self) -> builtins.list[dict]:
        """Every sweep header ({"sweep_id", "spec", "at"}), oldest first."""


def default_path() -> Path:
    """$MIXDESIGN_SWEEPS, or sweeps.jsonl in the user's data directory (platformdirs)."""
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH])
    from platformdirs import user_data_path

    return user_data_path("mixnet-designer", appauthor=False) / "sweeps.jsonl"


class JsonlStore:
    """TrialStore in one append-only JSON-lines file (safe for threads of one process; lines are appended whole
    with O_APPEND, so a CLI run and the app appending to the same file do not interleave within a line)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_path()
        self._lock = threading.Lock()
        self._trials: dict[str, dict] = {}
        self._sweeps: dict[str, dict] = {}
        self._read_upto = 0

    def _refresh(self) -> None:
        """Read lines appended since the last call (by this or another process)."""
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self._read_upto:  # replaced by a shorter file: read it afresh
                    self._trials, self._sweeps, self._read_upto = {}, {}, 0
                f.seek(self._read_upto)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a line without its newline is still being written (or was cut short)
        for line in data[:end].splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if not isinstance(row, dict):
                continue
            if row.get("type") == "sweep":
                self._sweeps.setdefault(row["sweep_id"], row)
            elif row.get("type") == "trial" and "key" in row:
                self._trials.pop(row["key"], None)  # re-insert: the latest line wins, in finishing order
                self._trials[row["key"]] = row
        self._read_upto += end

    def _append(self, row: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(row, separators=(",", ":"), default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = b"\n" + line  # a previous writer was killed mid-line: do not glue onto its fragment
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def done(self, trial_key: str) -> dict | None:
        with self._lock:
            self._refresh()
            return self._trials.get(trial_key)

    def record(self, trial_key: str, result: dict) -> None:
        row = {"type": "trial", "key": trial_key, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}
        with self._lock:
            self._append(row)
            self._refresh()

    def list(self, sweep_id: str) -> builtins.list[dict]:
        with self._lock:
            self._refresh()
            return [r for r in self._trials.values() if r.get("sweep_id") == sweep_id]

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        with self._lock:
            self._refresh()
            if sweep_id in self._sweeps:
                return
            self._append(
                {"type": "sweep", "sweep_id": sweep_id, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "spec": spec}
            )
            self._refresh()

    def sweeps(self) -> builtins.list[dict]:
        with self._lock:
            self._refresh()
            return list(self._sweeps.values())


def as_json(value: Any) -> Any:
    """A value the store can write (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))
