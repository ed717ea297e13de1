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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import streamlit as st

from designer import Arch, dump_yaml, emit_cfg
from designer.errors import MixdesignError
from designer.webapp.model import Design, LayersDesign, lowered

log = logging.getLogger("mixdesign.app")


@st.cache_resource(show_spinner=False)
def _opened(target: str) -> Any:
    """The open Workspace of `target` (kept for the server's life; a failure raises and is not kept)."""
    from designer.workspace import Workspace

    return Workspace.open(target or None)


def _open_workspace(target: str) -> tuple[Any, str | None]:
    """(workspace, None), or (None, why): a workspace that failed to open is tried again on the next rerun, so a
    server that was down, or a file fixed meanwhile, is picked up without a restart."""
    try:
        return _opened(target), None
    except MixdesignError as e:
        log.warning("workspace not available: %s", e)
        return None, str(e)


def workspace() -> Any | None:
    """This process's Workspace (None when it cannot be opened; see `problem`)."""
    from designer.workspace import ENV

    return _open_workspace(os.environ.get(ENV, ""))[0]


def problem() -> str | None:
    from designer.workspace import ENV

    return _open_workspace(os.environ.get(ENV, ""))[1]


def _store_call(what: str, fn: Callable[[Any], Any]) -> Any:
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


def save_design(name: str, design: Design) -> None:
    """A saved copy: a block design as its YAML; a layers-only design as an imported cfg of that name."""
    if isinstance(design, Arch):
        _store_call("save", lambda ws: ws.save_design(name, design, derived_from=design.name, source="app"))
    else:
        _store_call("save", lambda ws: ws.add_imported(name, "layers-cfg", lowered(design).cfg_text))


def save_imported(design: Design) -> None:
    if isinstance(design, Arch):
        _store_call("import", lambda ws: ws.add_imported(design.name, "design-yaml", dump_yaml(design)))
    else:
        _store_call("import", lambda ws: ws.add_imported(design.name, "layers-cfg", emit_cfg(design.network)))


def _fingerprint(ws: Any) -> tuple:
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


def recording_bench(work: Callable, label: str, cfg_text: str, settings: dict) -> Callable:
    """Wrap a Latency job body: its result is stored as a measurement as soon as it finishes."""
    ws = workspace()

    def run(job: Any) -> dict:
        r = work(job)
        if ws is not None and not job.stop.is_set():
            try:
                ws.add_bench_result(
                    r,
                    design_name=label,
                    cfg_text=cfg_text,
                    source="app",
                    settings=settings,
                    backend=settings.get("backend"),
                )
            except MixdesignError as e:
                job.meta["workspace_error"] = str(e)
        return r

    return run


def recording_training(work: Callable, settings: dict) -> Callable:
    """Wrap a Quick-train job body: each design's run is stored (finished or stopped) when the job ends."""
    ws = workspace()

    def run(job: Any) -> dict:
        started = datetime.now(timezone.utc)
        results = work(job)
        if ws is not None:
            for name, res in (results or {}).items():
                cfg = Path(res.cfg_path)
                try:
                    from designer.workspace import cfg_sha256

                    elapsed = float(res.history[-1].get("elapsed_s", 0.0)) if res.history else 0.0
                    finished = datetime.now(timezone.utc)
                    ws.add_training_run(
                        design_name=name,
                        cfg_sha256=cfg_sha256(cfg.read_text()) if cfg.is_file() else None,
                        device=str(settings.get("device", "cpu")),
                        settings=dict(settings),
                        metrics=list(res.history),
                        best_top1=res.best_top1,
                        best_epoch=res.best_epoch,
                        artifact_dir=str(res.out_dir),
                        status="stopped" if res.stopped else "finished",
                        started=max(started, finished - timedelta(seconds=elapsed)),
                        finished=finished,
                        source="app",
                    )
                except (MixdesignError, OSError) as e:
                    job.meta["workspace_error"] = str(e)
        return results

    return run


def saved_names_by_sha() -> dict[str, list[str]]:
    """cfg sha256 -> names of the saved designs that export to that cfg (to label measurements)."""
    stored()
    return _SNAPSHOT.get("by_sha", {})
