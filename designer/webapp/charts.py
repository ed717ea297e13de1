"""Plotly figures for the pages. Every axis names its unit. Pure: plotly only, no streamlit.

Imported by the pages that draw (Numbers, Latency, Quick-train), never by the first page, so the app's first load
does not pay for plotly.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from designer.webapp.references import ReferenceModel

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))


def _titled(fig: go.Figure, *, height: int, x: str, y: str) -> go.Figure:
    """`fig` at `height` px with both axis titles (each naming its unit) and the common layout."""
    fig.update_layout(height=height, xaxis_title=x, yaxis_title=y, **_LAYOUT)
    return fig


def stage_bars(stages: list[dict]) -> go.Figure:
    names = [s["stage"] for s in stages]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Params per stage (millions)", "FMA per stage (millions of multiply-adds)")
    )
    panels = (  # the stage table's column, the bar and axis name, colour, hover text
        ("params", "params (M)", "#6366f1", "%{x}: %{y:.3f} M params<extra></extra>"),
        ("FMA (multiply-adds)", "FMA (M multiply-adds)", "#f59e0b", "%{x}: %{y:.2f} M FMA<extra></extra>"),
    )
    for col, (key, name, color, hover) in enumerate(panels, start=1):
        y = [s[key] / 1e6 for s in stages]
        fig.add_bar(x=names, y=y, name=name, row=1, col=col, marker_color=color, hovertemplate=hover)
        fig.update_yaxes(title_text=name, row=1, col=col)
    fig.update_layout(height=360, showlegend=False, **_LAYOUT)
    return fig


def comparison(refs: tuple[ReferenceModel, ...], designs: list[dict]) -> go.Figure:
    """Published top-1 vs FMA for the references; the app's designs (top-1 unknown) as vertical lines."""
    fig = go.Figure()
    for trained, color in (("paper", "#2563eb"), ("darknet", "#dc2626")):
        sel = [r for r in refs if r.trained == trained and r.top1 is not None and r.fma_M < 2000]
        fig.add_scatter(
            x=[r.fma_M for r in sel],
            y=[r.top1 for r in sel],
            mode="markers+text",
            text=[r.name for r in sel],
            textposition="top center",
            name=f"published ({trained}-trained)",
            marker=dict(size=[6 + 2 * r.params_M for r in sel], color=color, opacity=0.7),
            customdata=[[r.params_M, r.res] for r in sel],
            hovertemplate="%{text}: %{x:.0f} M FMA, top-1 %{y:.1f}%, %{customdata[0]:.1f} M params, "
            "%{customdata[1]} px<extra></extra>",
        )
    for d in designs:
        fig.add_vline(
            x=d["fma"] / 1e6,
            line_dash="dash",
            line_color="#059669",
            annotation_text=f"{d['name']} ({d['fma'] / 1e6:.0f} M)",
            annotation_textangle=-90,
            annotation_position="top left",
        )
    return _titled(fig, height=420, x="FMA (millions of multiply-adds; FLOPs = 2 x FMA)", y="ImageNet top-1 (%)")


def latency_vs_fma(history: list[dict]) -> go.Figure:
    """Measured median latency (error bar: IQR) against FMA, one point per measured variant."""
    fig = go.Figure()
    by_device: dict[str, list[dict]] = {}
    for h in history:
        by_device.setdefault(f"{h.get('backend', 'torch')} on {h['device']} ({h['device_name']})", []).append(h)
    for dev, rows in by_device.items():
        fig.add_scatter(
            x=[r["fma_counted"] / 1e6 for r in rows],
            y=[r["median_ms"] for r in rows],
            mode="markers+text",
            text=[r["label"] for r in rows],
            textposition="top center",
            name=dev,
            error_y=dict(
                type="data",
                array=[r["iqr_ms"] / 2 for r in rows],
                arrayminus=[min(r["iqr_ms"] / 2, r["median_ms"]) for r in rows],
                visible=True,
            ),
            hovertemplate="%{text}: %{x:.1f} M FMA, %{y:.3f} ms median<extra></extra>",
        )
    return _titled(
        fig, height=400, x="FMA per image (millions of multiply-adds)", y="median latency (ms per batch; bar = IQR)"
    )


def layer_time_vs_fma(per_layer: list[dict]) -> go.Figure:
    """Each layer's share of time against its share of FMA: above the diagonal = slower than its FMA says."""
    fig = go.Figure()
    types = sorted({p["type"] for p in per_layer})
    for t in types:
        rows = [p for p in per_layer if p["type"] == t]
        fig.add_scatter(
            x=[100 * p["fma_share"] for p in rows],
            y=[100 * p["time_share"] for p in rows],
            mode="markers",
            name=t,
            text=[f"layer {p['index']}" for p in rows],
            customdata=[[p["ms"], p["fma"] / 1e6] for p in rows],
            hovertemplate="%{text} (" + t + "): %{customdata[0]:.3f} ms, %{customdata[1]:.2f} M FMA<extra></extra>",
        )
    top = max([100 * p["fma_share"] for p in per_layer] + [100 * p["time_share"] for p in per_layer] + [1])
    fig.add_scatter(
        x=[0, top],
        y=[0, top],
        mode="lines",
        line=dict(dash="dot", color="#9ca3af"),
        name="time share = FMA share",
        hoverinfo="skip",
    )
    return _titled(fig, height=420, x="share of the network's FMA (%)", y="share of the measured time (%)")


def training_curves(runs: dict[str, list[dict]]) -> go.Figure:
    """Loss (left) and validation top-1 (right) per epoch for each design trained."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy, nats)", "Validation top-1 (%)"))
    palette = ["#2563eb", "#dc2626", "#059669", "#d97706"]
    for k, (name, hist) in enumerate(runs.items()):
        color = palette[k % len(palette)]
        ep = [h["epoch"] for h in hist]
        fig.add_scatter(
            x=ep, y=[h["train_loss"] for h in hist], name=f"{name} train loss", row=1, col=1, line=dict(color=color)
        )
        fig.add_scatter(
            x=ep,
            y=[h["val_loss"] for h in hist],
            name=f"{name} val loss",
            row=1,
            col=1,
            line=dict(color=color, dash="dash"),
        )
        fig.add_scatter(
            x=ep, y=[100 * h["val_top1"] for h in hist], name=f"{name} val top-1", row=1, col=2, line=dict(color=color)
        )
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_yaxes(title_text="loss (nats)", row=1, col=1)
    fig.update_yaxes(title_text="top-1 (%)", row=1, col=2)
    fig.update_layout(height=380, **_LAYOUT)
    return fig
