"""Design page: pick a starting design, edit global settings and the stage table, make the GPU variant, undo.

Every widget hands a replace(...)d Arch to state.propose through a callback; a rejected edit keeps the last valid
design and shows designer.validate's message (where / message / fix) next to the setting or table row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from designer import Arch, Cost, DesignIssue, gpu_variant
from designer.spec import ACTIVATION_NAMES, gpu_variant_report, rounding_report
from designer.webapp import advisor, fmt, stages, state
from designer.webapp import estimate as latency
from designer.webapp.cache import current, layer_table
from designer.webapp.model import Design
from designer.webapp.shell import guarded, notice

GLOBALS: dict[str, tuple[str, str, dict]] = {
    # widget key: (Arch field or "stem.x"/"head.x", label, number_input kwargs)
    "g_width_mult": ("width_mult", "Width multiplier", {"min_value": 0.1, "max_value": 4.0, "step": 0.05}),
    "g_depth_mult": ("depth_mult", "Depth multiplier", {"min_value": 0.1, "max_value": 4.0, "step": 0.1}),
    "g_input_size": ("input_size", "Input size (pixels)", {"min_value": 1, "max_value": 2048, "step": 16}),
    "g_classes": ("classes", "Classes", {"min_value": 1, "max_value": 100000, "step": 1}),
    "g_dropout": ("dropout", "Dropout before the classifier", {"min_value": 0.0, "max_value": 0.99, "step": 0.05}),
    "g_stem_channels": ("stem.channels", "Stem channels", {"min_value": 1, "max_value": 1024, "step": 8}),
    "g_head_channels": ("head.channels", "Head channels", {"min_value": 1, "max_value": 8192, "step": 64}),
}


def _get(arch: Arch, path: str) -> Any:
    obj: Any = arch
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(arch: Arch, path: str, value: Any) -> Arch:
    if "." in path:
        sub, name = path.split(".")
        return replace(arch, **{sub: replace(getattr(arch, sub), **{name: value})})
    return replace(arch, **{path: value})


def _sync_widgets(d: Design) -> None:
    """Make the setting widgets show the design's values after a design change (rev moved), and wherever
    Streamlit dropped a widget's state (the page was not drawn for a run). A rejected value stays on screen
    next to its message until then."""
    w = state.ws()
    changed = st.session_state.get("_design_widgets_rev") != w.rev
    values: dict[str, Any] = {"g_name": d.name}
    if isinstance(d, Arch):
        for key, (path, _, kw) in GLOBALS.items():
            v = _get(d, path)
            values[key] = float(v) if isinstance(kw["step"], float) else int(v)
    dropped = [k for k in values if k not in st.session_state]
    for key, v in values.items():
        if changed or key in dropped:
            st.session_state[key] = v
    if dropped:
        w.setting_issues = []  # the rejected value they belonged to is gone
    st.session_state["_design_widgets_rev"] = w.rev


# ------------------------------------------------------------------ callbacks


def _block_design() -> Arch | None:
    """The current design for the callbacks of the block widgets (settings, GPU variant, stage table), which are
    drawn for a block design only: None, and the callback does nothing, where it is a layers-only design."""
    d = state.design()
    return d if isinstance(d, Arch) else None


def _on_pick() -> None:
    label = st.session_state.get("pick_design")
    st.session_state["pick_design"] = None
    if label:
        source = state.choices()[label]
        state.set_design(state.resolve_choice(source), ("success", f"Loaded {label}."))


def _on_setting(key: str) -> None:
    arch = _block_design()
    if arch is None:
        return
    path, label, _ = GLOBALS[key]
    value = st.session_state[key]
    if value is None:
        state.ws().setting_issues = [DesignIssue("design", f"{label} is empty", "enter a value")]
        return
    issues = state.propose(_set(arch, path, value), ("info", f"{label} = {value}"))
    state.ws().setting_issues = issues


def _on_name() -> None:
    name = (st.session_state.get("g_name") or "").strip()
    d = state.design()
    if name and name != d.name:
        state.set_design(replace(d, name=name))


def _on_gpu_variant() -> None:
    arch = _block_design()
    if arch is None:
        return
    g = int(st.session_state.get("gpu_group_size") or 1)
    new = gpu_variant(arch, g)
    before, after = current(arch)[1].cost, current(new)[1].cost
    report = gpu_variant_report(arch, g)
    text = (
        f"GPU variant with {g} channels per group: FMA (multiply-adds) {fmt.millions(before.fma, 1)} -> "
        f"{fmt.millions(after.fma, 1)} ({fmt.pct_change(after.fma, before.fma)}), params "
        f"{fmt.millions(before.params, 3)} -> {fmt.millions(after.params, 3)} "
        f"({fmt.pct_change(after.params, before.params)}), Darknet BFLOPs {before.bflops:.3f} -> "
        f"{after.bflops:.3f}."
    )
    if g == 1:
        text = "All MixConv kernels are depthwise again (1 channel per group)."
    if report:
        text += "\n\n" + "\n".join(f"- {r}" for r in report)
    state.propose(new, ("success", text))


def _on_save() -> None:
    name = state.save_copy(st.session_state.get("save_name") or "")
    state.ws().notice = ("success", f"Saved a copy as {name!r} (pick it on Numbers, Latency and Quick-train).")


def _on_revert_table() -> None:
    w = state.ws()
    w.table_rows, w.table_issues = None, []
    w.table_rev += 1


def table_key(w: state.Workspace) -> str:
    """The stage editor's widget key: it moves with every design change and every table edit (table_rev)."""
    return f"stages_{w.table_rev}"


def apply_table_edit(key: str) -> None:
    """The stage editor's on_change callback: its edit state -> a new design, or a kept design plus the rows'
    issues. Every edit moves the editor's key (through set_design or table_rev), so an edit is applied once: the
    callback of an editor whose key has moved on does nothing. (A rerun that interrupts the edit's own run, such
    as an Undo clicked while the page still redraws, can fire the old editor's callback again; applied, it would
    put the edit back on the undone design.)"""
    w = state.ws()
    if key != table_key(w):
        return
    arch = _block_design()
    edits = st.session_state.get(key) or {}
    if arch is None or not any(edits.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")):
        return
    base = w.table_rows if w.table_rows is not None else stages.arch_rows(arch)
    rows = stages.apply_edits(base, edits)
    candidate, issues = stages.with_rows(arch, rows)
    if candidate == arch:  # an edit that changes nothing (3,5,7 for 3.5.7): redraw the design's own rows
        _on_revert_table()
    elif candidate is not None:
        state.set_design(candidate)
    else:
        w.table_rows, w.table_issues = rows, issues
        w.table_rev += 1


# ------------------------------------------------------------------ sections


def _metrics(design: Design) -> None:
    _, a = current(design)
    prev = state.previous()
    pc = None
    if prev is not None and not state.is_layers(prev) and not state.is_layers(design):
        try:
            pc = current(prev)[1].cost
        except Exception:  # noqa: BLE001 - an old design that no longer counts just has no delta
            pc = None
    c = a.cost

    def change(figure: Callable[[Cost], float]) -> str | None:
        """The figure's change against the design before the last change (None without one)."""
        return None if pc is None else fmt.pct_change(figure(c), figure(pc))

    cols = st.columns(6)
    items = [
        (fmt.LABEL_PARAMS, fmt.millions(c.params, 3), change(lambda x: x.params)),
        (fmt.LABEL_PARAMS_STORED, fmt.millions(c.params_stored, 3), change(lambda x: x.params_stored)),
        (fmt.LABEL_FMA, fmt.millions(c.fma, 1), change(lambda x: x.fma)),
        (fmt.LABEL_FLOPS, fmt.millions(c.flops, 1), change(lambda x: x.flops)),
        ("Darknet BFLOPs", f"{c.bflops:.3f}", change(lambda x: x.bflops)),
    ]
    for col, (label, value, delta) in zip(cols, items):
        col.metric(
            label,
            value,
            delta=delta if delta and delta != "+0.0%" else None,
            delta_color="inverse",
            help=fmt.HELP_UNITS + (" Delta: against the design before the last change." if pc else ""),
        )
    _estimated_latency(cols[5], design, prev if pc is not None else None)


def _estimated_latency(col: DeltaGenerator, design: Design, prev: Design | None) -> None:
    """This machine's latency model on the design (designer/webapp/estimate.py), or how to make one."""
    m = latency.model()
    if m is None:
        col.metric(
            "Estimated latency",
            "no model",
            help="No latency model for this machine in the workspace. Make one (it measures sampled designs "
            f"and fits per-kernel models): {latency.how_to_calibrate()}",
        )
        st.caption(f"Estimated latency: no latency model for this machine yet. Run `{latency.how_to_calibrate()}`.")
        return
    e = latency.estimate(design, m)
    delta = None
    if prev is not None:
        delta = fmt.pct_change(e.ms, latency.estimate(prev, m).ms)
    col.metric(
        "Estimated latency",
        f"{e.ms:.2f} ms",
        delta=delta if delta and delta != "+0.0%" else None,
        delta_color="inverse",
        help=f"{latency.describe(m)}. Interval {e.low_ms:.2f}-{e.high_ms:.2f} ms (held-out designs). "
        "Measure it on the Latency page.",
    )


def _picker() -> None:
    c1, c2, c3 = st.columns([2, 2, 2])
    c1.selectbox(
        "Start from",
        list(state.choices()),
        index=None,
        key="pick_design",
        on_change=_on_pick,
        placeholder="preset, saved or imported design...",
        help="mixnet-s/m/l, mixnet-m-gpu, efficientnet-b0, your saved copies and imported designs",
    )
    c2.text_input("Design name", key="g_name", on_change=_on_name)
    with c3:
        s1, s2 = st.columns([3, 2], vertical_alignment="bottom")
        s1.text_input("Save a copy as", key="save_name", placeholder="e.g. baseline")
        s2.button("Save copy", on_click=_on_save, width="stretch")


def _settings(arch: Arch) -> None:
    cols = st.columns(5)
    for col, key in zip(cols, list(GLOBALS)[:5]):
        _, label, kw = GLOBALS[key]
        col.number_input(label, key=key, on_change=_on_setting, args=(key,), **kw)
    with st.expander("Stem and head"):
        s1, s2, _ = st.columns(3)
        for col, key in zip((s1, s2), ("g_stem_channels", "g_head_channels")):
            _, label, kw = GLOBALS[key]
            col.number_input(label, key=key, on_change=_on_setting, args=(key,), **kw)
    for issue in state.ws().setting_issues:
        st.error(
            f"{issue.where}: {issue.message}"
            + (f" Fix: {issue.fix}" if issue.fix else "")
            + " (The design keeps its last valid value.)"
        )
    for note in rounding_report(arch):  # width scaling rounded to darknet's equal kernel slices (issue 12)
        st.info(f"Rounded: {note}. The exported cfg says so in its header.")


def _gpu(arch: Arch) -> None:
    st.subheader("GPU variant")
    st.caption(
        "Depthwise convs are slow on GPUs. The GPU variant makes each MixConv kernel group a grouped conv with "
        "N channels per group (AlexeyAB's MixNet-M-GPU: 'I just decreased groups= in depthwise-MixConv-"
        "layers'): more FMA, fewer, larger groups. 1 = back to depthwise."
    )
    advisor.render(arch)  # measured channels per group; its "use the best" button sets the input below
    c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="bottom")
    c1.number_input("Channels per group", min_value=1, max_value=512, step=1, key="gpu_group_size")
    c2.button("Make GPU variant", on_click=_on_gpu_variant, type="primary", width="stretch")
    g = int(st.session_state.get("gpu_group_size") or 1)
    preview = gpu_variant(arch, g)
    if preview != arch:
        now, then = current(arch)[1].cost, current(preview)[1].cost
        m = latency.model()
        est = ""
        if m is not None:
            ratio = latency.estimate(preview, m).ms / max(latency.estimate(arch, m).ms, 1e-9)
            est = f"; estimated latency x{ratio:.2f} on this CPU in {m.setting.backend}"
        c3.caption(
            f"Preview ({g} per group): FMA (multiply-adds) {fmt.millions(now.fma, 1)} -> "
            f"{fmt.millions(then.fma, 1)} ({fmt.pct_change(then.fma, now.fma)}); params "
            f"{fmt.millions(now.params, 3)} -> {fmt.millions(then.params, 3)}; Darknet BFLOPs "
            f"{now.bflops:.3f} -> {then.bflops:.3f}{est}."
        )
    else:
        c3.caption(f"The design already uses {g} channel(s) per group.")


def _column_config() -> dict:
    cc = st.column_config
    cfg: dict[str, Any] = {}
    for col, (_, kind, help_) in stages.COLUMNS.items():
        default = stages.DEFAULT_ROW[col]
        if col == "stride":
            cfg[col] = cc.SelectboxColumn(col, options=[1, 2], help=help_, default=default, required=True)
        elif kind == "activation":
            cfg[col] = cc.SelectboxColumn(col, options=list(ACTIVATION_NAMES), help=help_, default=default)
        elif kind == "bool":
            cfg[col] = cc.CheckboxColumn(col, help=help_, default=default)
        elif kind == "kernels":
            cfg[col] = cc.TextColumn(col, help=help_, default=default)
        elif kind == "int":
            cfg[col] = cc.NumberColumn(col, help=help_, default=default, step=1, format="%d")
        else:
            cfg[col] = cc.NumberColumn(col, help=help_, default=default, step=0.05, format="%g")
    cfg["row"] = cc.NumberColumn(
        "row", disabled=True, width="small", help="block row r: its copies are br.0, br.1, ... in the graph"
    )
    cfg["channels in>mid>out"] = cc.TextColumn(
        "channels in>mid>out", disabled=True, help="first copy, after the width multiplier"
    )
    cfg["block string"] = cc.TextColumn("block string", disabled=True, help="timm/TF block string of the row")
    cfg["issue"] = cc.TextColumn("issue", disabled=True, width="large", help="designer.validate's message and fix")
    return cfg


def _stage_table(arch: Arch) -> None:
    w = state.ws()
    st.subheader("Stages")
    st.caption(
        "One row per block row (a TF/timm block string). Edit cells, add or delete rows; an edit that does "
        "not lower to a valid cfg is kept in the table with its message, and the design stays at its last "
        "valid version until the row is fixed."
    )
    rows = w.table_rows if w.table_rows is not None else stages.arch_rows(arch)
    records = stages.table_records(arch, rows, w.table_issues)
    df = pd.DataFrame(records)
    order = list(df.columns)
    if w.table_issues:
        order = ["row", "issue"] + [c for c in order if c not in ("row", "issue")]
    key = table_key(w)
    st.data_editor(
        df,
        key=key,
        num_rows="dynamic",
        column_config=_column_config(),
        column_order=order,
        on_change=apply_table_edit,
        args=(key,),
        width="stretch",
        hide_index=True,
        height=min(800, 35 * (len(df) + 2) + 3),
    )  # every row visible (one spare for adding)
    if w.table_issues:
        for issue in w.table_issues:
            row = stages.issue_row(issue)
            where = (
                f"Row {row}" + (f" ({issue.where})" if issue.where.startswith("b") else "")
                if row is not None
                else issue.where
            )
            st.error(f"{where}: {issue.message}" + (f" Fix: {issue.fix}" if issue.fix else ""))
        st.warning("Numbers, graph and export show the last valid design.")
        st.button("Discard the table edits", on_click=_on_revert_table)


def _layers_only() -> None:
    d = state.design()
    low, a = current(d)
    st.info(
        f"{d.name!r} is a cfg that was not made by mixnet-designer, so it has no blocks to edit. It is shown, "
        "counted and benchmarked as its darknet layers (see Graph, Numbers, Latency). Pick a preset above to "
        "start a block design."
    )
    _metrics(d)
    st.dataframe(
        pd.DataFrame(layer_table(low.cfg_text, a)),
        hide_index=True,
        width="stretch",
        height=600,
        column_config={"FMA share %": st.column_config.NumberColumn(format="%.2f")},
    )


def render() -> None:
    st.title("Design")
    notice()
    d = state.design()
    _sync_widgets(d)
    state.remember({"gpu_group_size": 4, "save_name": ""})
    _picker()
    if not isinstance(d, Arch):
        _layers_only()
        return
    _metrics(d)
    _settings(d)
    _gpu(d)
    _stage_table(d)
    with st.expander("Block strings (timm / TF notation)"):
        st.code("\n".join(r["block string"] for r in stages.table_records(d, stages.arch_rows(d), [])), language=None)


if __name__ == "__main__":
    guarded(render)
