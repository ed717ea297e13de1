"""Graph page: the network as blocks (or chunks), any of which expands into its Darknet layers.

Layer numbers are darknet's absolute indices (0 = the first section after [net]); dashed edges are the
[route] layers= / [shortcut] from= / [scale_channels] from= references, labelled with the value written in the
cfg and the layer it resolves to.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from designer.describe import describe
from designer.webapp import cache, state
from designer.webapp.model import safe_filename
from designer.webapp.shell import guarded

MANY_NODES = 400  # above this many drawn nodes the browser needs a few seconds to lay the graph out


def _expand_all(labels: list[str]) -> None:
    st.session_state["graph_expand"] = list(labels)


def _collapse_all() -> None:
    st.session_state["graph_expand"] = []


def _expand_for_layer(label: str) -> None:
    cur = list(st.session_state.get("graph_expand") or [])
    if label not in cur:
        st.session_state["graph_expand"] = cur + [label]


def render() -> None:
    st.title("Graph")
    d = state.design()
    low, a = cache.current(d)
    labels = [g.label for g in a.groups]
    state.remember({"graph_expand": [], "graph_dir": "top-down", "graph_find": 0})
    # keep the expansion choice valid when the design (and so the group labels) changes
    st.session_state["graph_expand"] = [x for x in st.session_state["graph_expand"] if x in labels]
    st.session_state["graph_find"] = min(int(st.session_state["graph_find"] or 0), len(a.network.layers) - 1)
    kind = "blocks" if low.block_editable else "chunks (runs of layers cut where one tensor is live)"
    st.caption(
        f"{len(a.network.layers)} darknet layers in {len(a.groups)} {kind}. Numbers are darknet's absolute "
        "layer indices (0 = first section after [net]). Dashed edges: layers=/from= references, written value "
        "and the layer it resolves to. Node figures: output CxHxW, params, FMA (multiply-adds)."
    )
    c1, c2, c3, c4 = st.columns([6, 1, 1, 2], vertical_alignment="bottom")
    c1.multiselect("Expand into darknet layers", labels, key="graph_expand", placeholder="pick blocks to expand...")
    c2.button("All", on_click=_expand_all, args=(labels,), help="expand every block", width="stretch")
    c3.button("None", on_click=_collapse_all, help="collapse every block", width="stretch")
    rankdir = c4.radio("Direction", ["top-down", "left-right"], index=None, horizontal=True, key="graph_dir")
    expanded = tuple(st.session_state["graph_expand"])
    drawn = sum(g.end - g.start if g.label in expanded else 1 for g in a.groups)
    if drawn > MANY_NODES:
        st.warning(f"{drawn} nodes to draw: the browser may take a few seconds. Collapse some blocks to speed it up.")
    dot = cache.dot(low.cfg_text, expanded, "TB" if rankdir == "top-down" else "LR", a)
    st.graphviz_chart(dot, width="content")
    st.download_button(
        "Download DOT", dot, file_name=safe_filename(d.name, ".dot"), mime="text/vnd.graphviz", on_click="ignore"
    )

    st.subheader("Find a layer")
    n = len(a.network.layers)
    i = int(
        st.number_input("Darknet layer index", min_value=0, max_value=n - 1, value=None, step=1, key="graph_find") or 0
    )
    grp = next(g for g in a.groups if g.start <= i < g.end)
    s = a.shapes[i]
    lc = a.cost.layers[i]
    st.markdown(
        f"Layer **{i}** is in **{grp.label}** (layers {grp.start}-{grp.end - 1}): "
        f"`{describe(a.network.layers[i], i)}`, "
        f"in {s.in_c}x{s.in_h}x{s.in_w} -> out {s.c}x{s.h}x{s.w}, {lc.params:,} params, "
        f"{lc.fma:,} FMA (multiply-adds). Its cfg section starts at line "
        f"{a.network.layers[i].line or 'n/a (not read from a file)'}; the exported cfg marks it `# layer {i}`."
    )
    if grp.label not in expanded:
        st.button(f"Expand {grp.label}", on_click=_expand_for_layer, args=(grp.label,))

    st.subheader("References: as written and as darknet resolves them")
    st.caption(
        "A negative value is relative to the layer itself (-1 = the layer before); a value >= 0 is an absolute "
        "index. Both forms are shown, so a reference can be checked or rewritten either way."
    )
    refs = cache.references(low.cfg_text, a)
    if refs:
        st.dataframe(pd.DataFrame(refs), hide_index=True, width="stretch")
    else:
        st.write("This network has no layers=/from= references.")


if __name__ == "__main__":
    guarded(render)
