"""Background jobs (latency measurements, quick training) that outlive Streamlit script runs.

A job is a daemon thread plus a `Job` record in a module-level registry; sessions keep only job ids in
st.session_state. Widget clicks rerun the script, not the thread, so they cannot kill a job; pages poll the record
(st.fragment(run_every=...)) and a stop button sets `job.stop`. The worker never calls streamlit: it reports
through `job.report(...)` and its return value. Pure: no streamlit.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["running", "done", "failed", "stopped"]

_LOCK = threading.Lock()
_JOBS: dict[str, Job] = {}
_IDS = itertools.count(1)
MAX_KEPT = 50  # finished jobs kept in the registry (oldest dropped first)


@dataclass
class Job:
    id: str
    kind: str  # "bench", "train"
    label: str
    started: float = field(default_factory=time.time)
    finished: float | None = None
    status: Status = "running"
    message: str = "starting"
    progress: float = 0.0  # 0..1, best estimate
    events: list[dict] = field(default_factory=list)  # e.g. one dict per training epoch
    result: Any = None
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    meta: dict = field(default_factory=dict)

    def report(self, message: str | None = None, progress: float | None = None, event: dict | None = None) -> None:
        with _LOCK:
            if message is not None:
                self.message = message
            if progress is not None:
                self.progress = max(0.0, min(1.0, progress))
            if event is not None:
                self.events.append(event)

    def snapshot_events(self) -> list[dict]:
        with _LOCK:
            return list(self.events)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.time()) - self.started


def start(kind: str, label: str, work: Callable[[Job], Any], meta: dict | None = None) -> Job:
    """Run `work(job)` in a daemon thread; its return value becomes job.result."""
    job = Job(id=f"{kind}-{next(_IDS)}", kind=kind, label=label, meta=dict(meta or {}))

    def run() -> None:
        try:
            result = work(job)
        except Exception as e:  # the worker's failure is a message on the page, not a crash of the server
            with _LOCK:
                job.error = f"{type(e).__name__}: {e}"
                job.meta["traceback"] = traceback.format_exc()
                job.status = "failed"
                job.message = "failed"
                job.finished = time.time()
            return
        with _LOCK:
            job.result = result
            job.status = "stopped" if job.stop.is_set() else "done"
            job.message = "stopped" if job.stop.is_set() else "done"
            job.progress = job.progress if job.stop.is_set() else 1.0
            job.finished = time.time()

    with _LOCK:
        _JOBS[job.id] = job
        finished = [j for j in _JOBS.values() if not j.running]
        for old in finished[: max(0, len(finished) - MAX_KEPT)]:
            _JOBS.pop(old.id, None)
    threading.Thread(target=run, name=f"mixdesign-{job.id}", daemon=True).start()
    return job


def get(job_id: str | None) -> Job | None:
    if job_id is None:
        return None
    with _LOCK:
        return _JOBS.get(job_id)


def wait(job: Job, timeout: float) -> bool:
    """Block until the job finishes (tests and scripts); True if it did."""
    end = time.time() + timeout
    while job.running and time.time() < end:
        time.sleep(0.05)
    return not job.running
