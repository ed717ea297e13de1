"""The sweep TrialStore over the workspace database (designer.workspace): where `mixdesign sweep` and the Explore
page keep their trials by default, next to every other measurement.

- a sweep is a `sweeps` row found by its settings hash (the runner's sweep id, designer.explore.space.spec_hash);
  its `uid` is random;
- a trial is a `sweep_trials` row: its key (unique in the sweep), kind, round, status (ok / failed / invalid)
  with its message, the machine key, and `result`, the whole record, so `done` and `list` give back exactly what
  `record` was given;
- a timed trial that measured (infer / train, status ok) is also a `measurements` row (source "sweep"), linked
  from its trial row and written in the same transaction, so the Latency page's history and `mixdesign history`
  show sweep measurements beside the app's and the CLI's, and a kill leaves both rows or neither.

Each `record` is one committed transaction before the runner moves on: Ctrl-C loses nothing finished, and a
rerun of the same sweep resumes. Reads come from the database: a trial another process recorded (the CLI while
the app runs, a colleague on a shared server) is seen on the next `done` that misses. Torch-free.
"""

from __future__ import annotations

import builtins
import threading
from typing import Any

from sqlalchemy import select

from designer.explore.runner import TIMED
from designer.explore.store import as_json
from designer.workspace import Workspace
from designer.workspace.models import SweepTrialRow
from designer.workspace.store import bench_row


class WorkspaceTrialStore:
    """TrialStore (designer.explore.store) on an open Workspace."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.path = workspace.location  # what the CLI and the app print as "store ..."
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}  # sweep id (settings hash) -> sweeps.id
        self._trials: dict[str, dict[str, dict]] = {}  # sweep id -> trial key -> record
        self._seen: dict[str, int] = {}  # sweep id -> highest sweep_trials.id read

    def _sweep_pk(self, sweep_id: str) -> int | None:
        if sweep_id not in self._ids:
            row = self.workspace.sweep(sweep_id)
            if row is None:
                return None
            self._ids[sweep_id] = row.id
        return self._ids[sweep_id]

    def _refresh(self, sweep_id: str) -> dict[str, dict]:
        """The sweep's records, with the rows added since the last read (by this or another process)."""
        known = self._trials.setdefault(sweep_id, {})
        pk = self._sweep_pk(sweep_id)
        if pk is None:
            return known
        with self.workspace.session() as s:
            rows = s.scalars(
                select(SweepTrialRow)
                .where(SweepTrialRow.sweep_id == pk, SweepTrialRow.id > self._seen.get(sweep_id, 0))
                .order_by(SweepTrialRow.id)
            ).all()
        for r in rows:
            known[r.trial_key] = _record(r)
            self._seen[sweep_id] = max(self._seen.get(sweep_id, 0), r.id)
        return known

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        with self._lock:
            if self._sweep_pk(sweep_id) is None:
                self._ids[sweep_id] = self.workspace.add_sweep(as_json(spec), settings_hash=sweep_id).id

    def done(self, trial_key: str) -> dict | None:
        sweep_id = trial_key.split("/", 1)[0]
        with self._lock:
            found = self._trials.get(sweep_id, {}).get(trial_key)
            return found if found is not None else self._refresh(sweep_id).get(trial_key)

    def record(self, trial_key: str, result: dict) -> None:
        record = as_json(result)
        sweep_id = record["sweep_id"]
        with self._lock:
            pk = self._sweep_pk(sweep_id)
            if pk is None:  # the runner records the sweep first; a bare trial still gets a header
                pk = self._ids[sweep_id] = self.workspace.add_sweep({}, settings_hash=sweep_id).id
            status = record.get("status", "ok")
            measurement = self._measurement(record) if status == "ok" and record.get("kind") in TIMED else None
            machine = record.get("machine")
            self.workspace.add_trial(
                pk,
                trial_key,
                kind=record.get("kind", "count"),
                round=int(record.get("round") or 0),
                status=status,
                message=record.get("message"),
                point=record.get("point"),
                result=record,
                machine_key=_key_of(trial_key, machine),
                measurement=measurement,
            )
            self._trials.setdefault(sweep_id, {})[trial_key] = record

    def _measurement(self, r: dict[str, Any]):
        if r.get("median_ms") is None:
            return None
        return bench_row(
            {**r, "per_layer": None},
            design_name=r.get("label") or r["cfg_sha256"][:12],
            cfg_sha256=r["cfg_sha256"],
            source="sweep",
            settings={"mode": r.get("mode") or r.get("kind"), "sweep_id": r["sweep_id"], "round": r.get("round")},
        )

    def list(self, sweep_id: str) -> builtins.list[dict]:
        with self._lock:
            return list(self._refresh(sweep_id).values())

    def sweeps(self) -> builtins.list[dict]:
        return [
            {"sweep_id": r.settings_hash, "uid": r.uid, "spec": r.spec, "at": r.created.isoformat(timespec="seconds")}
            for r in self.workspace.sweeps()
        ]


def _record(row: SweepTrialRow) -> dict:
    """A trial row as the runner's record (revision-2 rows and API-added ones have what the row has)."""
    if isinstance(row.result, dict) and row.result:
        return {**row.result, "status": row.status, "message": row.message}
    return {"kind": row.kind, "round": row.round, "point": row.point, "status": row.status, "message": row.message}


def _key_of(trial_key: str, machine: Any) -> str | None:
    """The machine key a trial is filed under: the one its key names (designer.explore.runner.trial_key)."""
    parts = trial_key.split("/")
    if len(parts) == 6 and len(parts[1]) == 16:
        return parts[1]
    if isinstance(machine, dict) and machine:
        from designer.machine import Fingerprint

        return Fingerprint.from_json(machine).key
    return None
