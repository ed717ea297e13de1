"""Numbers page: params (trainable and stored), FMA, FLOPs and Darknet BFLOPs, per stage and per layer, and the
design against published reference models.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from designer.webapp import cache, charts, fmt, state
from designer.webapp import estimate as latency
from designer.webapp.model import Design
from designer.webapp.references import reference_models
from designer.webapp.shell import guarded


def _totals(a) -> None:
    c = a.cost
    cols = st.columns(5)
    cols[0].metric(
        fmt.LABEL_PARAMS,
        f"{c.params:,}",
        help="What PyTorch's parameters() counts: weights, biases, BN scale and shift.",
    )
    cols[1].metric(
        fmt.LABEL_PARAMS_STORED,
        f"{c.params_stored:,}",
        help=f"Floats in a darknet .weights file: trainable params plus BN running mean and variance "
        f"({4 * c.params_stored + 20:,} bytes with the header).",
    )
    cols[2].metric(fmt.LABEL_FMA, f"{c.fma:,}", help=fmt.HELP_UNITS)
    cols[3].metric(
        fmt.LABEL_FLOPS,
        fmt.millions(c.flops, 1),
        help=f"Two operations (a multiply and an add) per FMA: exactly {c.flops:,}.",
    )
    cols[4].metric(
        "Darknet BFLOPs",
        f"{c.bflops:.3f}",
        help="What darknet prints as 'Total BFLOPS': billions of "
        "FLOPs (2 x FMA) plus darknet's small pooling and "
        "shortcut terms, summed in float32 as darknet does.",
    )
    st.caption(
        f"{fmt.HELP_UNITS} Here: {c.fma / 1e9:.3f} B FMA = {c.flops / 1e9:.3f} B FLOPs; darknet prints {c.bflops:.3f}."
    )


PUBLISHED_BFLOPS = "2 x published FMA (B, incl. FC)"


def _design_row(name: str, d: Design) -> dict:
    low, a = cache.current(d)
    c = a.cost
    return {
        "model": name,
        "params (M)": c.params / 1e6,
        "FMA (M multiply-adds)": c.fma / 1e6,
        "FLOPs = 2 x FMA (M)": 2 * c.fma / 1e6,
        "Darknet BFLOPs": c.bflops,
        PUBLISHED_BFLOPS: None,
        "top-1 (%)": None,
        "input (px)": a.network.input_shape[1],
        "figures": "counted by this tool",
        "note": "",
    }


def _comparison() -> None:
    st.subheader("Against published models")
    st.caption(
        "Published figures (designer/webapp/reference_models.yaml cites the papers and the seed thread). 'paper' "
        "top-1 figures come from large-batch training; 'darknet' ones were trained in Darknet, and the thread "
        "explains why those land about 5 points lower. Your designs have no top-1 until trained: they are "
        "the dashed lines."
    )
    w = state.ws()
    designs = {f"current: {w.design.name}": w.design}
    designs.update({f"saved: {n}": d for n, d in w.saved.items()})
    rows = []
    plotted = []
    for name, d in designs.items():
        try:
            row = _design_row(name, d)
        except Exception as e:  # noqa: BLE001 - a saved design that no longer counts is listed with the reason
            st.warning(f"{name}: cannot count ({e})")
            continue
        rows.append(row)
        plotted.append({"name": name, "fma": row["FMA (M multiply-adds)"] * 1e6})
    refs = reference_models()
    for r in refs:
        rows.append(
            {
                "model": r.name,
                "params (M)": r.params_M,
                "FMA (M multiply-adds)": r.fma_M,
                "FLOPs = 2 x FMA (M)": 2 * r.fma_M,
                "Darknet BFLOPs": None,
                PUBLISHED_BFLOPS: r.published_bflops,
                "top-1 (%)": r.top1,
                "input (px)": r.res,
                "figures": f"published ({r.trained}-trained): {r.source}",
                "note": r.note,
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "params (M)": st.column_config.NumberColumn(format="%.2f"),
            "FMA (M multiply-adds)": st.column_config.NumberColumn(format="%.1f"),
            "FLOPs = 2 x FMA (M)": st.column_config.NumberColumn(format="%.1f"),
            "Darknet BFLOPs": st.column_config.NumberColumn(format="%.3f", help="What darknet prints for the cfg"),
            PUBLISHED_BFLOPS: st.column_config.NumberColumn(
                format="%.3f",
                help="2 x the published FMA, in billions: includes the FC classifier, which darknet counts "
                "as 0 for a [connected] layer, so it is not what darknet prints",
            ),
            "top-1 (%)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.plotly_chart(charts.comparison(refs, plotted), width="stretch")
    st.caption("Darknet53 (9.3 B FMA at 256 px) is in the table but off this chart's scale.")


def render() -> None:
    st.title("Numbers")
    d = state.design()
    low, a = cache.current(d)
    st.markdown(
        f"**{d.name}**: input {'x'.join(map(str, a.network.input_shape))} (CxHxW), "
        f"{len(a.network.layers)} darknet layers."
    )
    _totals(a)

    st.subheader("Per stage")
    stages = cache.stage_table(low.cfg_text, a)
    st.plotly_chart(charts.stage_bars(stages), width="stretch")
    m = latency.model()
    if m is not None:  # estimated time beside FMA: where FMA misleads
        per = latency.stage_ms(d, m)
        total_ms, total_fma = sum(per.values()) or 1.0, a.cost.fma or 1
        stages = [
            {
                **r,
                "est. ms": round(per.get(r["stage"], 0.0), 3),
                "est. time share %": round(100 * per.get(r["stage"], 0.0) / total_ms, 1),
                "FMA share %": round(100 * r["FMA (multiply-adds)"] / total_fma, 1),
            }
            for r in stages
        ]
        st.caption(f"Estimated time per stage: {latency.describe(m)} (runtime overhead not in any stage).")
    with st.expander("Per-stage table"):
        st.dataframe(
            pd.DataFrame(stages),
            hide_index=True,
            width="stretch",
            column_config={"Darknet BFLOPs": st.column_config.NumberColumn(format="%.4f")},
        )

    st.subheader("Per layer")
    st.caption("Click a column header to sort. FMA = multiply-adds; Darknet BFLOPs per layer as darknet prints them.")
    layers = pd.DataFrame(cache.layer_table(low.cfg_text, a))
    types = sorted(layers["type"].unique())
    state.remember({"numbers_types": []})
    st.session_state["numbers_types"] = [t for t in st.session_state["numbers_types"] if t in types]
    pick = st.multiselect("Layer types", types, key="numbers_types", placeholder="all types")
    if pick:
        layers = layers[layers["type"].isin(pick)]
    st.dataframe(
        layers,
        hide_index=True,
        width="stretch",
        height=420,
        column_config={
            "FMA share %": st.column_config.NumberColumn(format="%.2f"),
            "Darknet BFLOPs": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    _comparison()


if __name__ == "__main__":
    guarded(render)
