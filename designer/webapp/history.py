"""What the workspace remembers, shown on the Latency and Quick-train pages: every recorded measurement and
training run, from app sessions and from the CLI (`mixdesign bench`, `mixdesign train`), filterable by device
and backend. Rows are read from designer/webapp/persist.py's Workspace on each run (a few ms for SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from designer.webapp import persist

if TYPE_CHECKING:
    from designer.workspace import Workspace

LIMIT = 500  # newest rows shown


def _opened() -> Workspace | None:
    """The workspace, or None after saying why there is none."""
    ws = persist.workspace()
    if ws is None:
        st.warning(f"The workspace is not available, so nothing is kept after this session: {persist.problem()}")
    return ws


def _when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S") if t is not None else ""


def _saved_as(names_by_sha: dict[str, list[str]], cfg_sha256: str | None) -> str:
    """The saved designs that export to this cfg, comma-separated ("" for a row without a cfg hash)."""
    return ", ".join(names_by_sha.get(cfg_sha256, [])) if cfg_sha256 is not None else ""


def measurements() -> None:
    """Recorded latency measurements side by side, newest first (median and IQR in ms per batch)."""
    st.subheader("Measurement history (workspace: app and CLI)")
    ws = _opened()
    if ws is None:
        return
    rows = ws.measurements(limit=LIMIT)
    st.caption(
        f"{ws.location}: every measurement recorded by this app or by `mixdesign bench`, "
        "matched by the cfg's sha256 (the same network measured anywhere has the same key)."
    )
    if not rows:
        st.info("Nothing recorded yet: measure a design here, or run `mixdesign bench DESIGN`.")
        return
    c1, c2 = st.columns(2)
    devices = sorted({r.device for r in rows})
    backends = sorted({r.backend for r in rows})
    dev = c1.multiselect("Device", devices, default=devices, key="hist_device")
    be = c2.multiselect("Backend", backends, default=backends, key="hist_backend")
    shown = [r for r in rows if r.device in dev and r.backend in be]
    measured = sorted({f"{r.design_name} ({r.source})" for r in shown})
    if any(r.unstable for r in shown):
        st.warning(
            "Some figures are marked unstable (the `unstable` column says why): the spread or the load around "
            "them says they may be off. Measure them again when fewer cores are busy, or for longer."
        )
    if len({r.machine_key for r in shown}) > 1:
        st.info("These measurements come from more than one machine (the `machine` column): compare within one.")
    st.markdown(f"{len(shown)} of {len(rows)} measurements shown; designs: " + ", ".join(measured))
    saved_as = persist.saved_names_by_sha()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "design": r.design_name,
                    "saved as": _saved_as(saved_as, r.cfg_sha256),
                    "device": f"{r.device} ({r.device_name})" if r.device_name else r.device,
                    "backend": r.backend,
                    "dtype": r.dtype,
                    "batch": r.batch,
                    "threads": r.threads,
                    "median (ms per batch)": r.median_ms,
                    "IQR (ms)": r.iqr_ms,
                    "timed runs": r.runs,
                    "G FMA per s": (r.fma_per_s or 0) / 1e9,
                    "source": r.source,
                    "when": _when(r.measured_at),
                    "machine": (r.machine_key or "-")[:8],
                    "unstable": r.unstable or "",
                    "cfg sha256": r.cfg_sha256[:12],
                }
                for r in shown
            ]
        ),
        hide_index=True,
        width="stretch",
        key="hist_table",
        column_config={
            "median (ms per batch)": st.column_config.NumberColumn(format="%.3f"),
            "IQR (ms)": st.column_config.NumberColumn(format="%.3f"),
            "G FMA per s": st.column_config.NumberColumn(format="%.2f"),
        },
    )


def training_runs() -> None:
    """Recorded quick-train and `mixdesign train` runs, newest first."""
    st.subheader("Training runs (workspace: app and CLI)")
    ws = _opened()
    if ws is None:
        return
    rows = ws.training_runs(limit=LIMIT)
    if not rows:
        st.info("No training run recorded yet: train here, or run `mixdesign train DESIGN`.")
        return
    devices = sorted({r.device for r in rows})
    dev = st.multiselect("Device", devices, default=devices, key="runs_device")
    saved_as = persist.saved_names_by_sha()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "design": r.design_name,
                    "saved as": _saved_as(saved_as, r.cfg_sha256),
                    "device": r.device,
                    "status": r.status,
                    "epochs": len(r.metrics),
                    "best val top-1 (%)": 100 * (r.best_top1 or 0.0),
                    "best epoch": r.best_epoch,
                    "final train loss": (r.metrics[-1].get("train_loss") if r.metrics else None),
                    "data": r.settings.get("data"),
                    "size": r.settings.get("size"),
                    "batch": r.settings.get("batch"),
                    "lr": r.settings.get("lr"),
                    "source": r.source,
                    "finished": _when(r.finished),
                    "files": r.artifact_dir,
                }
                for r in rows
                if r.device in dev
            ]
        ),
        hide_index=True,
        width="stretch",
        key="runs_table",
        column_config={"best val top-1 (%)": st.column_config.NumberColumn(format="%.1f")},
    )
