"""The sweep TrialStore over the workspace database (designer.workspace): where `mixdesign sweep` and the Explore
page keep their trials by default, next to every other measurement.

- a sweep is a `sweeps` row whose uid is the sweep id (the spec hash, designer.explore.space.spec_hash);
- a trial is a `sweep_trials` row; its `point` holds the trial key and the whole trial record, so `done` and
  `list` give back exactly what `record` was given;
- a timed trial (infer / train) is also a `measurements` row (source "sweep"), linked from its trial row, so the
  Latency page's history and `mixdesign history` show sweep measurements beside the app's and the CLI's.

Each `record` is one committed transaction before the runner moves on: Ctrl-C loses nothing finished, and a
rerun of the same sweep resumes. Torch-free.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from designer.explore.store import as_json
from designer.workspace import Workspace
from designer.workspace.models import SweepRow

TIMED = ("infer", "train")


class WorkspaceTrialStore:
    """TrialStore (designer.explore.store) on an open Workspace."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.path = workspace.location  # what the CLI and the app print as "store ..."
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}  # sweep id -> sweeps.id
        self._trials: dict[str, dict[str, dict]] = {}  # sweep id -> trial key -> record, loaded once per sweep

    def _sweep_pk(self, sweep_id: str) -> int | None:
        if sweep_id not in self._ids:
            with self.workspace.session() as s:
                pk = s.scalar(select(SweepRow.id).where(SweepRow.uid == sweep_id))
            if pk is None:
                return None
            self._ids[sweep_id] = pk
        return self._ids[sweep_id]

    def _loaded(self, sweep_id: str) -> dict[str, dict]:
        if sweep_id not in self._trials:
            pk = self._sweep_pk(sweep_id)
            rows = self.workspace.trials(pk) if pk is not None else []
            self._trials[sweep_id] = {r.point["trial_key"]: r.point["record"] for r in rows
                                      if isinstance(r.point, dict) and "trial_key" in r.point}
        return self._trials[sweep_id]

    def record_sweep(self, sweep_id: str, spec: dict) -> None:
        with self._lock:
            if self._sweep_pk(sweep_id) is not None:
                return
            with self.workspace.session() as s:
                row = SweepRow(uid=sweep_id, spec=as_json(spec))
                s.add(row)
                s.flush()
                self._ids[sweep_id] = row.id

    def done(self, trial_key: str) -> dict | None:
        with self._lock:
            return self._loaded(trial_key.split("/", 1)[0]).get(trial_key)

    def record(self, trial_key: str, result: dict) -> None:
        record = as_json(result)
        sweep_id = record["sweep_id"]
        with self._lock:
            pk = self._sweep_pk(sweep_id)
            if pk is None:  # the runner records the sweep first; a bare trial still gets a header
                with self.workspace.session() as s:
                    row = SweepRow(uid=sweep_id, spec={})
                    s.add(row)
                    s.flush()
                    pk = self._ids[sweep_id] = row.id
            measurement = self._measurement(record) if record.get("kind") in TIMED else None
            self.workspace.add_trial(pk, {"trial_key": trial_key, "record": record},
                                     measurement_id=measurement)
            self._loaded(sweep_id)[trial_key] = record

    def _measurement(self, r: dict[str, Any]) -> int | None:
        if r.get("median_ms") is None:
            return None
        row = self.workspace.add_bench_result(
            {**r, "per_layer": None}, design_name=r.get("label") or r["cfg_sha256"][:12], cfg_sha256=r["cfg_sha256"],
            source="sweep", settings={"mode": r.get("mode") or r.get("kind"), "sweep_id": r["sweep_id"],
                                      "round": r.get("round")})
        return row.id

    def list(self, sweep_id: str) -> list[dict]:
        with self._lock:
            return list(self._loaded(sweep_id).values())

    def sweeps(self) -> list[dict]:
        return [{"sweep_id": r.uid, "spec": r.spec, "at": r.created.isoformat(timespec="seconds")}
                for r in self.workspace.sweeps()]
