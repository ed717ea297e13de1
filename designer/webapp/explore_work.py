"""What the Explore page and the Design page's GPU-variant advisor run and draw: a sweep as a background job
(designer/webapp/jobs.py), and the Plotly figures of its results. Pure: no streamlit; torch loads only when a
timed trial runs (runtime), plotly only when a figure is drawn."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from designer.explore.store import ENV_PATH, JsonlStore, TrialStore, default_path
from designer.explore.sweep import SweepPlan, summary
from designer.webapp import persist
from designer.webapp.jobs import Job

if TYPE_CHECKING:
    from designer.latency.model import LatencyModel

KIND_LABEL = {"estimate": "estimated inference", "infer": "inference", "train": "training step"}


def backends() -> list[str]:
    """Inference backends the Explore page and the advisor offer (training steps always run in torch)."""
    from designer.backends import BACKEND_LABELS

    return list(BACKEND_LABELS)


def store() -> TrialStore:
    """The trial store the app shares with `mixdesign sweep`: the workspace (designer/webapp/persist.py), or the
    JSON-lines file $MIXDESIGN_SWEEPS names (also where the workspace cannot be opened). A new workspace store on
    every call (each rerun), so trials the CLI recorded meanwhile are read, never hidden by a server-long cache;
    the JSON-lines store re-reads what was appended to its file on every call anyway."""
    ws = None if os.environ.get(ENV_PATH) else persist.workspace()
    if ws is not None:
        from designer.api.sweep import trial_store

        return trial_store(ws)
    return _store_at(str(default_path()))


@functools.lru_cache(maxsize=4)
def _store_at(path: str) -> TrialStore:
    return JsonlStore(path)


def sweep_work(
    plan: SweepPlan, trial_store: TrialStore, *, latency_model: LatencyModel | None = None, confirm: int = 0
) -> Callable[[Job], list[dict]]:
    """A job body that runs the sweep (what the store lacks: estimates with `latency_model`, then measurements),
    and then measures the `confirm` best estimated designs (designer.explore.sweep.confirm_sweep), reporting
    progress; returns the summary rows."""

    def work(job: Job) -> list[dict]:
        job.report("loading the runtime", 0.0)
        from designer.api.sweep import confirm_planned, run_planned

        def on_progress(done: int, total: int, message: str) -> None:
            job.report(message or None, done / max(1, total))

        rows = run_planned(plan, trial_store, on_progress=on_progress, stop=job.stop, latency_model=latency_model)
        if not confirm or job.stop.is_set():
            return rows
        job.report(f"confirming the {confirm} best estimates", 0.0)
        confirm_planned(plan, trial_store, confirm, on_progress=on_progress, stop=job.stop)
        return summary(plan, trial_store)

    return work


def checks_table(rows: list[dict]) -> tuple[list[dict], float | None]:
    """Every design of a sweep both estimated and measured (the confirmed ones): estimate, measurement and their
    ratio per design, and the median |error| in % (designer.explore.estimate)."""
    from designer.explore.estimate import checks, median_abs_error_pct

    found = checks(rows)
    table = [
        {
            "design": c.design,
            "estimated ms": c.estimate_ms,
            "measured ms": c.measured_ms,
            "measured / estimated": c.ratio,
            "error %": c.error_pct,
        }
        for c in found
    ]
    return table, median_abs_error_pct(found)


def eta_text(job: Job) -> str:
    if job.progress <= 0.0:
        return ""
    left = job.elapsed_s * (1 - job.progress) / job.progress
    return f", about {left:.0f} s left"


def scatter(rows: list[dict], kinds: list[str], device: str) -> Any:
    """Latency vs FMA, marker size ~ params, one colour per (measured kind, backend, device); Pareto points ringed
    and joined by a dashed line. customdata holds the row index (the page loads the clicked design)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    valid = [(i, r) for i, r in enumerate(rows) if r.get("valid")]
    pmax = max((r["params"] for _, r in valid), default=1)
    for kind in kinds:
        pts = [(i, r) for i, r in valid if r.get(f"{kind}_ms") is not None]
        if not pts:
            continue
        backend = pts[0][1].get(f"{kind}_backend", "torch") if kind != "estimate" else "latency model"
        name = f"{KIND_LABEL[kind]} · {backend} · {device}"
        hover = [
            f"{r['design']}<br>{KIND_LABEL[kind]}: {r[f'{kind}_ms']:.3f} ms ({_range(r, kind)})"
            f"<br>FMA {r['fma'] / 1e6:.1f} M multiply-adds<br>params {r['params'] / 1e6:.3f} M"
            + ("<br>on the Pareto front" if r.get(f"pareto_{kind}") else "")
            for _, r in pts
        ]
        fig.add_trace(
            go.Scatter(
                x=[r["fma"] / 1e6 for _, r in pts],
                y=[r[f"{kind}_ms"] for _, r in pts],
                mode="markers",
                name=name,
                customdata=[i for i, _ in pts],
                hovertext=hover,
                hoverinfo="text",
                marker=dict(
                    size=[10 + 30 * r["params"] / pmax for _, r in pts],
                    opacity=0.75,
                    line=dict(width=[3 if r.get(f"pareto_{kind}") else 0 for _, r in pts], color="black"),
                ),
            )
        )
        front = sorted((r["fma"] / 1e6, r[f"{kind}_ms"]) for _, r in pts if r.get(f"pareto_{kind}"))
        if front:
            fig.add_trace(
                go.Scatter(
                    x=[f for f, _ in front],
                    y=[m for _, m in front],
                    mode="lines",
                    line=dict(dash="dash", color="black", width=1),
                    hoverinfo="skip",
                    name=f"Pareto front ({KIND_LABEL[kind]})",
                )
            )
    return _layout(
        fig,
        xaxis_title="FMA per image (M multiply-adds)",
        yaxis_title="median latency (ms per batch)",
        legend_title="measured or estimated (colour); marker size: params",
        height=480,
    )


def _range(r: dict, kind: str) -> str:
    """A point's uncertainty: the estimate's interval, or the spread of the measured rounds."""
    if kind == "estimate":
        return f"interval {r['estimate_low_ms']:.3f}-{r['estimate_high_ms']:.3f}"
    return f"spread {r[f'{kind}_spread_ms']:.3f}"


def _layout(fig: Any, **kw: Any) -> Any:
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), **kw)
    return fig


def advisor_bars(rows: list[dict]) -> Any:
    """Inference and training-step time per channels-per-group, as ratios to depthwise (1)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind in ("infer", "train"):
        pts = [r for r in rows if r.get(f"{kind}_ms") is not None]
        if pts:
            fig.add_trace(
                go.Bar(
                    x=[str(r["dw-group-size"]) for r in pts],
                    y=[r[f"{kind}_ms"] for r in pts],
                    name=f"{KIND_LABEL[kind]} (ms)",
                )
            )
    return _layout(
        fig,
        barmode="group",
        xaxis_title="channels per group in the MixConv convs (1 = depthwise)",
        yaxis_title="median ms",
        height=320,
    )
