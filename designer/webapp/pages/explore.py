"""Explore page: sweep variants of the current design (axes and values as `mixdesign sweep --vary` takes them),
measured in the background in interleaved rounds; latency vs FMA with the Pareto front; load any point into the
Design page; earlier sweeps (from the app or the CLI) from the trial store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from designer import Arch
from designer.errors import MixdesignError
from designer.explore.runner import Settings, SweepError
from designer.explore.space import AXES, ROW_AXES, parse_axes
from designer.explore.sweep import SweepPlan, plan_from_spec, plan_sweep
from designer.webapp import cache, jobs, state
from designer.webapp.shell import guarded, notice

if TYPE_CHECKING:
    from designer.latency.model import LatencyModel

PAGE = "explore"
MEASURES = {
    "estimate": "estimated inference latency (this machine's latency model: milliseconds per design)",
    "infer": "inference latency",
    "train": "training-step time",
    "accuracy": "quick-train accuracy (digits)",
}
DEFAULT_AXES = "width-mult=0.75,1.0,1.25\ndw-group-size=1,2,4,8"


def _settings() -> Settings:
    ss = st.session_state
    return Settings(
        measure=("count", *ss["ex_measure"]),
        device=ss["ex_device"] or "cpu",
        backend=ss.get("ex_backend") or "torch",
        batch=int(ss["ex_batch"] or 1),
        train_batch=int(ss["ex_train_batch"] or 8),
        threads=int(ss["ex_threads"] or 0) or None,
        rounds=int(ss["ex_rounds"] or 1),
        min_run_time=float(ss["ex_min_run"] or 0.5),
        epochs=int(ss["ex_epochs"] or 1),
    )


def _plan(arch: Arch) -> tuple[SweepPlan | None, LatencyModel | None]:
    """The sweep the controls describe, and the latency model its estimates use (an estimate sweep without a
    model for this machine and setting: the error names the calibrate command, and there is no plan)."""
    lines = [ln.strip() for ln in (st.session_state["ex_axes"] or "").splitlines() if ln.strip()]
    if not lines:
        st.info("Add at least one axis, one per line: KEY=VALUES.")
        return None, None
    try:
        samples = int(st.session_state["ex_samples"] or 0) or None
        settings, model = _with_model(_settings())
        return plan_sweep(arch, parse_axes(lines, arch), settings, samples=samples, seed=0, name=arch.name), model
    except MixdesignError as e:
        st.error(str(e) + (" (or on the Latency page)" if "mixdesign calibrate" in str(e) else ""))
        return None, None


def _with_model(settings: Settings) -> tuple[Settings, LatencyModel | None]:
    if "estimate" not in settings.measure:
        return settings, None
    from designer.explore.estimate import with_latency_model
    from designer.webapp import persist

    ws = persist.workspace()
    if ws is None:
        raise SweepError("estimates need the workspace, where latency models are kept, and it cannot be opened")
    return with_latency_model(settings, workspace=ws)


def _start(plan: SweepPlan, model: LatencyModel | None) -> None:
    from designer.webapp.explore_work import store, sweep_work

    label = f"{plan.spec.get('name', 'design')}: {len(plan.designs)} designs"
    confirm = int(st.session_state.get("ex_confirm") or 0) if model is not None else 0
    work = sweep_work(plan, store(), latency_model=model, confirm=confirm)
    job = jobs.start("sweep", label, work, meta={"sweep_id": plan.sweep_id})
    w = state.ws()
    w.jobs[PAGE] = job.id
    st.session_state["ex_shown"] = plan.sweep_id


def _controls(arch: Arch, running: bool) -> SweepPlan | None:
    devs = cache.devices()
    state.remember(
        {
            "ex_axes": DEFAULT_AXES,
            "ex_measure": ["infer"],
            "ex_device": "cpu",
            "ex_backend": "torch",
            "ex_batch": 1,
            "ex_train_batch": 8,
            "ex_threads": 0,
            "ex_rounds": 3,
            "ex_min_run": 0.5,
            "ex_samples": 0,
            "ex_epochs": 1,
            "ex_confirm": 0,
        }
    )
    keys = ", ".join([*AXES, *(f"rowN.{k}" for k in ROW_AXES)])
    c1, c2 = st.columns([3, 2])
    c1.text_area(
        "Axes (one per line: KEY=VALUES)",
        key="ex_axes",
        height=110,
        help=f"keys: {keys}. Values are separated by commas; kernel lists like row3.kernels=3.5.7.9|3.5|3 "
        "by '|'. Points that do not make a valid design are listed with the reason.",
    )
    with c2:
        st.multiselect(
            "Measure",
            list(MEASURES),
            key="ex_measure",
            format_func=MEASURES.__getitem__,
        )
        d1, d2 = st.columns(2)
        d1.selectbox("Device", list(devs), key="ex_device", format_func=lambda k: devs[k])
        from designer.webapp.explore_work import backends

        d2.selectbox(
            "Backend", backends(), key="ex_backend", help="inference backend; the training step always runs in torch"
        )
    c = st.columns(6)
    c[0].number_input("Batch (inference)", 1, 256, key="ex_batch")
    c[1].number_input("Batch (training step)", 2, 256, key="ex_train_batch")
    c[2].number_input(
        "Rounds",
        1,
        20,
        key="ex_rounds",
        help="each round measures every design once, in a rotated order; a design's time is the median over rounds",
    )
    c[3].number_input("Timed seconds per trial", 0.01, 10.0, step=0.1, key="ex_min_run")
    c[4].number_input("Random samples (0 = grid)", 0, 10000, key="ex_samples")
    c[5].number_input("CPU threads (0 = default)", 0, 256, key="ex_threads")
    _confirm_control()
    plan, model = _plan(arch)
    if plan is not None:
        _run_button(plan, model, running)
    return plan


def _confirm_control() -> None:
    st.number_input(
        "Confirm the K best estimates (0 = none)",
        0,
        100,
        key="ex_confirm",
        disabled="estimate" not in st.session_state["ex_measure"],
        help="after estimating, measure the K designs on the estimate's Pareto front with the lowest estimates "
        "(inference, in the rounds above) and show estimate against measurement",
    )


def _run_button(plan: SweepPlan, model: LatencyModel | None, running: bool) -> None:
    st.caption(
        f"{len(plan.designs)} distinct designs, {len(plan.invalid)} invalid points, {len(plan.trials)} timed "
        f"trials; sweep {plan.sweep_id} (trials already in the store are not measured again)."
    )
    if model is not None:
        from designer.webapp.estimate import describe

        st.caption(f"Estimates by the latency model {model.uid[:8]}: {describe(model)}.")
    st.button(
        "Run sweep",
        type="primary",
        disabled=running or not plan.designs,
        on_click=_start,
        args=(plan, model),
        key="ex_run",
        help="runs in the background; switching pages does not stop it",
    )


def _load(plan: SweepPlan, label: str) -> None:
    arches = {p.label: p.arch for d in plan.designs for p in [d.point, *d.also]}
    arch = arches.get(label)
    if arch is None:
        return
    issues = state.propose(arch, ("success", f"Loaded the sweep point {label} from Explore."))
    st.session_state["ex_loaded"] = "" if issues else label


def _on_chart_select(plan: SweepPlan, rows: list[dict]) -> None:
    sel = st.session_state.get("ex_chart")
    pts = (
        (sel or {}).get("selection", {}).get("points", [])
        if isinstance(sel, dict)
        else getattr(getattr(sel, "selection", None), "points", [])
    )
    if pts:
        i = pts[0].get("customdata")
        i = i[0] if isinstance(i, list) else i
        if isinstance(i, int) and 0 <= i < len(rows):
            _load(plan, rows[i]["design"])


def _results(plan: SweepPlan, rows: list[dict]) -> None:
    from designer.webapp.explore_work import scatter

    kinds: list[str] = [k for k in ("estimate", "infer", "train") if k in plan.settings.measure]
    if kinds and not any(r.get(f"{k}_ms") is not None for r in rows for k in kinds):
        st.info("No design of this sweep is measured yet.")
    elif kinds:
        st.plotly_chart(
            scatter(rows, kinds, plan.settings.device),
            key="ex_chart",
            on_select=lambda: _on_chart_select(plan, rows),
            selection_mode="points",
            width="stretch",
        )
        st.caption(
            "Click a point to load that design into the Design page. Ringed points are on the Pareto front "
            "(no other design is faster with fewer FMA and fewer params)."
        )
    df = pd.DataFrame(rows)
    st.dataframe(df.drop(columns=[c for c in ("cfg_sha256",) if c in df]), hide_index=True, width="stretch")
    _checks(rows)
    labels = [r["design"] for r in rows if r.get("valid")]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox("Design of the sweep", labels, key="ex_pick")
    c2.button("Load into Design page", key="ex_load", on_click=lambda: _load(plan, st.session_state["ex_pick"]))
    if st.session_state.get("ex_loaded"):
        st.success(f"Loaded {st.session_state['ex_loaded']}: it is the current design now.")
        st.page_link("webapp/pages/design.py", label="Open the Design page", icon=":material/tune:")
    st.download_button("Download CSV", _csv(rows), file_name=f"sweep-{plan.sweep_id}.csv", mime="text/csv")


def _checks(rows: list[dict]) -> None:
    """The confirmed designs: estimate against measurement, and the median error."""
    from designer.webapp.explore_work import checks_table

    table, median = checks_table(rows)
    if not table:
        return
    st.subheader("Estimate against measurement")
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    st.caption(
        f"Median |error| {median:.1f}% over {len(table)} designs (error = (estimated - measured) / measured; "
        "measured: median of the interleaved rounds, in the setting of the estimates)."
    )


def _csv(rows: list[dict]) -> str:
    from designer.explore.output import to_csv

    return to_csv(rows)


def _earlier(current: SweepPlan | None) -> SweepPlan | None:
    """The sweep to show: the one just run, or one picked from the store."""
    from designer.webapp.explore_work import store

    headers = {h["sweep_id"]: h for h in store().sweeps() if "axes" in (h.get("spec") or {})}
    if not headers:
        return None
    ids = list(reversed(headers))
    shown = st.session_state.get("ex_shown")
    if shown not in headers:
        shown = current.sweep_id if current is not None and current.sweep_id in headers else ids[0]
    st.session_state["ex_shown"] = shown

    def label(i: str) -> str:
        h = headers[i]
        axes = "; ".join(f"{k}={','.join(str(v) for v in vals)}" for k, vals in h["spec"]["axes"])
        return f"{h['at']}  {h['spec'].get('name', '')}: {axes} ({', '.join(h['spec']['settings']['measure'])})"

    st.selectbox("Sweep", ids, key="ex_shown", format_func=label, help="sweeps run here or by `mixdesign sweep`")
    try:
        return plan_from_spec(headers[st.session_state["ex_shown"]]["spec"])
    except (MixdesignError, KeyError, TypeError, ValueError) as e:
        st.warning(f"That sweep cannot be shown in this version: {e}")
        return None


def render() -> None:
    st.title("Explore")
    st.caption(
        "Sweep variants of the current design and measure them on this machine: latency (inference or "
        "training step) against FMA (multiply-adds) and params, with the Pareto front. Timed trials are "
        "interleaved in rounds, so load on a shared machine falls on every design alike."
    )
    notice()
    arch = state.design()
    w = state.ws()
    job = jobs.get(w.jobs.get(PAGE))
    running = job is not None and job.running
    if not isinstance(arch, Arch):
        st.info(
            "Explore varies a block design: pick a preset on the Design page first (an imported cfg has no "
            "blocks to vary)."
        )
        plan = None
    else:
        plan = _controls(arch, running)
    from designer.webapp.explore_work import eta_text
    from designer.webapp.job_view import follow

    follow(
        w.jobs.get(PAGE),
        progress=lambda j: (j.progress, f"{j.label}: {j.message} ({j.elapsed_s:.0f} s{eta_text(j)})"),
        failed="The sweep failed",
        stop_key="ex_stop",
    )
    st.subheader("Results")
    shown = _earlier(plan)
    if shown is None:
        st.info("No sweeps yet: run one above (or `mixdesign sweep` in a shell).")
        return
    from designer.explore.sweep import failures, summary
    from designer.webapp.explore_work import store

    trials = store()  # read afresh on every rerun: trials the CLI recorded meanwhile show up
    st.caption(
        f"Timings of this machine ({shown.machine.describe()}; key {shown.machine.key}): trials measured "
        "on another machine are kept apart and never reused here."
    )
    rows = summary(shown, trials)
    _problems(rows, failures(shown, trials))
    _results(shown, rows)


def _problems(rows: list[dict], failed: list[tuple[str, str, int, str]]) -> None:
    """Failed trials with their message, and unstable figures with why and what to do (pyperf-style)."""
    if failed:
        st.error(
            f"{len(failed)} trial(s) failed and were recorded; the sweep went on (the Run button skips them):\n\n"
            + "\n".join(f"- {d}: {k} round {r + 1}: {m}" for d, k, r, m in failed)
        )
    shaky = [(r["design"], k, r[f"{k}_unstable"]) for r in rows for k in ("infer", "train") if r.get(f"{k}_unstable")]
    if shaky:
        st.warning(
            "Unstable figures (the spread or the load says they may be off; each unstable trial was measured "
            "once more at the end):\n\n"
            + "\n".join(f"- {d}, {k}: {why}" for d, k, why in shaky)
            + "\n\nFix: run the sweep again when fewer cores are busy, or with more timed seconds per trial."
        )


if __name__ == "__main__":
    guarded(render)
