"""The Latency page's latency-model section: this machine's model for the page's setting and the selected
design's estimate, or, without one, calibration as an app job (designer/webapp/jobs.py) with a progress bar fed
by runtime.calibrate's progress callback; the model is stored in the workspace when it finishes, and from then
on the page shows the estimate beside every measurement in that setting, and offers to refresh the model (re-time
its reference designs, seconds) when the machine's speed has moved. torch loads only when calibration runs.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from designer.errors import MixdesignError
from designer.latency.model import LatencyModel
from designer.latency.setting import DEFAULT_BUDGET_S, REFRESH_BUDGET_S, Setting
from designer.webapp import jobs, persist, state

JOB = "calibrate"  # the session's calibration job, under this key in state.ws().jobs


def setting_of(settings: dict[str, Any]) -> Setting | None:
    """The latency-model setting of the page's measurement settings (None: not one a model can answer for)."""
    try:
        return Setting.make(
            backend=settings.get("backend") or "torch",
            device=settings.get("device") or "cpu",
            threads=settings.get("threads"),
            batch=int(settings.get("batch") or 1),
            dtype=settings.get("dtype") or "fp32",
            mode=settings.get("mode") or "infer",
        )
    except MixdesignError:
        return None


def _model(setting: Setting) -> tuple[LatencyModel | None, str]:
    """This machine's model for `setting`, or None and why not (the calibrate command)."""
    ws = persist.workspace()
    if ws is None:
        return None, "no workspace to keep a latency model in"
    from designer.latency.store import find_model

    try:
        return find_model(ws, setting, _machine(setting.device)), ""
    except MixdesignError as e:
        return None, str(e)


@st.cache_resource(show_spinner=False)
def _machine(device: str) -> Any:
    """This machine's fingerprint for `device` (read once per server: it does not change while it runs)."""
    from designer.machine import fingerprint

    return fingerprint(device)


def model_section(settings: dict[str, Any], label: str | None) -> None:
    """Under the Measure button: the selected design's estimate in this setting, or the calibration offer."""
    setting = setting_of(settings)
    if setting is None:
        return
    model, why = _model(setting)
    if model is None:
        _offer(setting, why, label)
        return
    design = state.measurable().get(label) if label is not None else None
    if design is not None:
        from designer.webapp.estimate import describe, estimate

        e = estimate(design, model)
        st.caption(
            f"Before measuring: the latency model {model.uid[:8]} ({describe(model)}) estimates "
            f"{(label or '').split(': ', 1)[-1]} at {e.ms:.3f} ms ({e.low_ms:.3f}-{e.high_ms:.3f}) per "
            f"{'batch' if setting.mode == 'infer' else 'training step'}."
        )
    if model.anchors:
        _offer_refresh(setting)


def _offer_refresh(setting: Setting) -> None:
    """A model exists: offer to re-level it to the machine's present speed (`mixdesign calibrate --refresh`)."""
    job = jobs.get(state.ws().jobs.get(JOB))
    state.remember({"lat_refresh_budget": float(REFRESH_BUDGET_S)})
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.number_input(
        "Refresh budget (s)",
        1.0,
        600.0,
        step=5.0,
        key="lat_refresh_budget",
        help="about how long to time the model's reference designs again",
    )
    c2.button(
        "Refresh the model",
        key="lat_refresh",
        type="secondary",
        disabled=job is not None and job.running,
        on_click=_start_refresh,
        args=(setting,),
        help="a shared machine's speed drifts over hours: time the model's reference designs again and re-level "
        "every estimate to this machine's present speed, in seconds instead of a new calibration",
    )


def _start_refresh(setting: Setting) -> None:
    budget = float(st.session_state.get("lat_refresh_budget") or REFRESH_BUDGET_S)
    job = jobs.start("refresh", setting.describe(), refresh_work(setting, budget), meta={"budget": budget})
    state.ws().jobs[JOB] = job.id


def refresh_work(setting: Setting, budget_s: float):
    """The job body: designer.api.refresh on the app's workspace; returns the new model's uid and metrics."""

    def work(job: jobs.Job) -> dict[str, Any]:
        job.report("timing the reference designs", 0.0)
        from designer.api import refresh

        ws = persist.workspace()
        if ws is None:
            raise MixdesignError("the workspace cannot be opened: a refreshed model would not be kept")
        made = refresh(**setting.to_json(), budget_s=budget_s, progress=False, workspace=ws)
        return {"uid": made.model.uid, "metrics": made.model.metrics}

    return work


def _offer(setting: Setting, why: str, label: str | None) -> None:
    """No model for this setting: say so, and offer calibration with a budget and the input sizes to measure."""
    job = jobs.get(state.ws().jobs.get(JOB))
    st.info(f"Estimate: {why}. Or calibrate here (it runs in the background):")
    design = state.measurable().get(label) if label is not None else None
    state.remember(
        {
            "lat_cal_budget": float(DEFAULT_BUDGET_S),
            "lat_cal_sizes": str(_input_size(design)) if design is not None else "",
        }
    )
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    c1.number_input(
        "Calibration budget (s)",
        1.0,
        3600.0,
        step=30.0,
        key="lat_cal_budget",
        help="about how long to measure (at least 3 designs are measured whatever it says)",
    )
    c2.text_input(
        "Input sizes (comma-separated; empty: the sweep's 96-224)",
        key="lat_cal_sizes",
        help="the sizes of the random designs measured: your designs' input size makes a quick, focused model",
    )
    c3.button(
        "Calibrate",
        key="lat_calibrate",
        type="secondary",
        disabled=job is not None and job.running,
        on_click=_start,
        args=(setting,),
    )


def _input_size(design: Any) -> int:
    from designer.webapp.model import lowered

    return int(lowered(design).network.input_shape[1])


def _sizes(text: str) -> tuple[int, ...] | None:
    """The sizes field: comma-separated positive integers, or empty for the sweep's sizes."""
    from designer.limits import value_problem

    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        return None
    try:
        sizes = tuple(int(t) for t in parts)
    except ValueError:
        raise MixdesignError(f"input sizes {text!r}: give whole numbers, e.g. 224 or 160,224") from None
    for v in sizes:
        if value_problem("size", v):
            raise MixdesignError(f"input size {v}: {value_problem('size', v)}")
    return sizes


def _start(setting: Setting) -> None:
    ss = st.session_state
    try:
        sizes = _sizes(ss.get("lat_cal_sizes") or "")
    except MixdesignError as e:
        ss["lat_cal_problem"] = str(e)
        return
    ss["lat_cal_problem"] = ""
    budget = float(ss.get("lat_cal_budget") or DEFAULT_BUDGET_S)
    job = jobs.start("calibrate", setting.describe(), calibrate_work(setting, budget, sizes), meta={"budget": budget})
    state.ws().jobs[JOB] = job.id


def calibrate_work(setting: Setting, budget_s: float, sizes: tuple[int, ...] | None):
    """The job body: designer.api.calibrate with its progress fed to the job (the model is stored in the app's
    workspace); returns the model's uid and metrics."""

    def work(job: jobs.Job) -> dict[str, Any]:
        job.report("loading the runtime", 0.0)
        from designer.api import calibrate

        ws = persist.workspace()  # opened first: a workspace problem shows at once, not after the budget
        if ws is None:
            raise MixdesignError("the workspace cannot be opened: a calibration would not be kept")

        def on_progress(fraction: float, what: str) -> None:
            job.report(f"measured {what}", min(0.95, fraction))

        made = calibrate(
            **setting.to_json(),  # its fields are Setting.make's keywords
            budget_s=budget_s,
            sizes=sizes,
            progress=False,
            workspace=ws,
            on_progress=on_progress,
            stop=job.stop,
        )
        return {"uid": made.model.uid, "metrics": made.model.metrics}

    return work


def calibration_progress() -> None:
    """The calibration job's progress bar (polled), its failure, or what it made."""
    if st.session_state.get("lat_cal_problem"):
        st.error(st.session_state["lat_cal_problem"])
    from designer.webapp.job_view import follow

    job = jobs.get(state.ws().jobs.get(JOB))
    follow(
        state.ws().jobs.get(JOB),
        progress=lambda j: (
            j.progress,
            f"{'Refreshing' if j.kind == 'refresh' else 'Calibrating'} {j.label}: {j.message} ({j.elapsed_s:.0f} s)",
        ),
        failed="Refresh failed" if job is not None and job.kind == "refresh" else "Calibration failed",
        stop_key="lat_cal_stop",
        stop_label="Stop calibrating",
        finished=_calibrated,
    )


def _calibrated(j: jobs.Job) -> None:
    if isinstance(j.result, dict) and j.kind == "refresh":
        r = j.result["metrics"]["refresh"]
        st.success(
            f"Refreshed {j.label} in {r['seconds']:.0f} s: this machine now takes {r['factor']:.2f}x what the model "
            f"estimated ({r['references']} reference designs, {r['spread'][0]:.2f}x-{r['spread'][1]:.2f}x); "
            f"estimates now use model {j.result['uid'][:8]}."
        )
    elif isinstance(j.result, dict):
        m = j.result["metrics"]
        st.success(
            f"Calibrated {j.label} in {m['calibration_s']:.0f} s on {m['designs']} designs: held-out designs "
            f"{m['held_out_within_10pct']:.0%} within +-10% (model {j.result['uid'][:8]}, in the workspace)."
        )
