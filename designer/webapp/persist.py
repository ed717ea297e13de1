"""The app's side of the workspace (designer/workspace): one `Workspace` per server process, opened from
$MIXDESIGN_WORKSPACE or the default file, through which saved copies, imports, measurements and quick-train runs
are stored as they happen and read back after a reload or a restart.

Undo/redo stay per session (designer/webapp/state.py). When the workspace cannot be opened (a damaged file, a
newer schema, a server that is down) the app still works for the session and says why it keeps nothing; the
file is left untouched, and opening is tried again on the next rerun. Job wrappers record from the job's own thread, so a measurement is stored when it
finishes even if no page is watching.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import streamlit as st

from designer import Arch, Network
from designer.errors import MixdesignError
from designer.webapp.model import Design, LayersDesign

if TYPE_CHECKING:  # the workspace package imports SQLAlchemy: loaded on first use, not with the page
    from designer.workspace import Workspace

log = logging.getLogger("mixdesign.app")


@st.cache_resource(show_spinner=False)
def _opened(target: str) -> Workspace:
    """The open Workspace of `target` (kept for the server's life; a failure raises and is not kept)."""
    from designer.api import open_workspace

    return open_workspace(target or None)


def _open_workspace(target: str) -> tuple[Workspace | None, str | None]:
    """(workspace, None), or (None, why): a workspace that failed to open is tried again on the next rerun, so a
    server that was down, or a file fixed meanwhile, is picked up without a restart."""
    try:
        return _opened(target), None
    except MixdesignError as e:
        log.warning("workspace not available: %s", e)
        return None, str(e)


def workspace() -> Workspace | None:
    """This process's Workspace (None when it cannot be opened; see `problem`)."""
    from designer.workspace import ENV

    return _open_workspace(os.environ.get(ENV, ""))[0]


def problem() -> str | None:
    from designer.workspace import ENV

    return _open_workspace(os.environ.get(ENV, ""))[1]


def _store_call(what: str, fn: Callable[[Workspace], Any]) -> Any:
    """Run a store call; a failure is logged and shown as a toast, never a broken page."""
    ws = workspace()
    if ws is None:
        return None
    try:
        return fn(ws)
    except MixdesignError as e:
        log.warning("workspace: %s failed: %s", what, e)
        try:
            st.toast(f"Not stored in the workspace ({what}): {e}")
        except Exception:  # noqa: BLE001 - outside a script run (a job thread): the log has it
            pass
        return None


# ------------------------------------------------------------------ designs and imports


def _kept(design: Design) -> Arch | Network:
    return design if isinstance(design, Arch) else design.network


def save_design(name: str, design: Design) -> None:
    """A saved copy: a block design as its YAML; a layers-only design as an imported cfg of that name."""
    from designer.api import save_design as save

    _store_call("save", lambda ws: save(ws, name, _kept(design), source="app"))


def save_imported(design: Design) -> None:
    from designer.api import save_import

    _store_call("import", lambda ws: save_import(ws, design.name, _kept(design)))


def _fingerprint(ws: Workspace) -> tuple:
    return (ws.location, *ws.designs_version())


_SNAPSHOT: dict[str, Any] = {}


def stored() -> tuple[dict[str, Design], dict[str, Design], list[str]]:
    """(saved designs, imports, problems) as stored now; re-read only when the tables changed."""
    ws = workspace()
    if ws is None:
        return {}, {}, []
    try:
        fp = _fingerprint(ws)
        if _SNAPSHOT.get("fp") != fp:
            designs, imports = ws.designs(), ws.imported()
            saved = {d.name: d.arch for d in designs.items}
            _SNAPSHOT["by_sha"] = {}
            for d in designs.items:
                _SNAPSHOT["by_sha"].setdefault(d.row.cfg_sha256, []).append(d.name)
            imported = {
                i.name: i.design if isinstance(i.design, Arch) else LayersDesign(i.name, i.design)
                for i in imports.items
            }
            _SNAPSHOT.update(fp=fp, value=(saved, imported, [str(p) for p in designs.problems + imports.problems]))
        return _SNAPSHOT["value"]
    except MixdesignError as e:
        log.warning("workspace: reading designs failed: %s", e)
        return {}, {}, [str(e)]


# ------------------------------------------------------------------ jobs


def recording_bench(work: Callable, label: str, network: Network, settings: dict) -> Callable:
    """Wrap a Latency job body (designer/webapp/workers.py): its result entry is stored as a measurement
    (designer.api.record_measurements) as soon as it finishes."""
    ws = workspace()

    def run(job: Any) -> dict:
        r = work(job)
        if ws is not None and not job.stop.is_set():
            from designer.api import record_measurements

            done = record_measurements(
                ws,
                network,
                [r],
                design_name=label,
                source="app",
                backend=settings.get("backend"),
                settings=settings,
            )
            if done.problem is not None:
                job.meta["workspace_error"] = done.problem
        return r

    return run


def recording_training(work: Callable, settings: dict) -> Callable:
    """Wrap a Quick-train job body: each design's run is stored (finished or stopped) when the job ends."""
    ws = workspace()

    def run(job: Any) -> dict:
        from designer.api import record_training

        started = datetime.now(timezone.utc)
        results = work(job)
        if ws is not None:
            for name, res in (results or {}).items():
                done = record_training(
                    ws,
                    res,
                    design_name=name,
                    device=str(settings.get("device", "cpu")),
                    settings=settings,
                    source="app",
                    not_before=started,
                )
                if done.problem is not None:
                    job.meta["workspace_error"] = done.problem
        return results

    return run


def saved_names_by_sha() -> dict[str, list[str]]:
    """cfg sha256 -> names of the saved designs that export to that cfg (to label measurements)."""
    stored()
    return _SNAPSHOT.get("by_sha", {})
