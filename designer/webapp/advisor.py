"""The Design page's measured GPU-variant advisor: for the current design, time channels-per-group 1, 2, 4, 8 and
16 (those the kernel groups allow: designer.spec.gpu_variant) for inference and a training step on the chosen
device, show the table and chart, and set "Make GPU variant"'s channels per group to the measured best.

It is a two-axis-free sweep (designer.explore, axis dw-group-size) run as a background job; its trials go to the
same store as the Explore page's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from designer import Arch, gpu_variant
from designer.explore.runner import Settings
from designer.explore.space import Axis
from designer.explore.sweep import SweepPlan, plan_sweep
from designer.webapp import cache, jobs, state

PAGE = "advisor"
CANDIDATES = (1, 2, 4, 8, 16)
WIDGET = "gpu_group_size"  # the Design page's channels-per-group input


def candidates(arch: Arch) -> list[int]:
    """Channels per group that some row can take exactly (1 = depthwise always), one per distinct variant."""
    out, seen = [], set()
    for g in CANDIDATES:
        v = gpu_variant(arch, g)
        if (g == 1 or any(b.dw_group_size == g for b in v.blocks)) and v not in seen:
            seen.add(v)
            out.append(g)
    return out


def _plan(arch: Arch) -> SweepPlan:
    ss = st.session_state
    settings = Settings(
        measure=("count", "infer", "train"),
        device=ss["adv_device"] or "cpu",
        backend=ss.get("adv_backend") or "torch",
        batch=int(ss["adv_batch"] or 1),
        train_batch=int(ss["adv_train_batch"] or 8),
        rounds=int(ss["adv_rounds"] or 1),
        min_run_time=float(ss["adv_min_run"] or 0.3),
        threads=int(ss["adv_threads"] or 0) or None,
    )
    return plan_sweep(arch, (Axis("dw-group-size", tuple(candidates(arch))),), settings, name=f"{arch.name} advisor")


def _start(arch: Arch) -> None:
    from designer.webapp.explore_work import store, sweep_work

    plan = _plan(arch)
    job = jobs.start(
        "advisor",
        f"{arch.name}: channels per group {', '.join(map(str, candidates(arch)))}",
        sweep_work(plan, store()),
        meta={"base": arch, "settings": plan.settings},
    )
    state.ws().jobs[PAGE] = job.id


def best(rows: list[dict], kind: str) -> int | None:
    timed = [r for r in rows if r.get(f"{kind}_ms") is not None]
    return min(timed, key=lambda r: r[f"{kind}_ms"])["dw-group-size"] if timed else None


def _use(g: int) -> None:
    st.session_state[WIDGET] = g


def render(arch: Arch) -> None:
    """The advisor section (call it before the channels-per-group input is drawn: its button sets it)."""
    job = jobs.get(state.ws().jobs.get(PAGE))
    if job is not None:
        st.session_state["adv_open"] = True
    st.toggle(
        "Measure which group size is fastest on this machine",
        key="adv_open",
        help="times each candidate on this machine (loads torch)",
    )
    if not st.session_state.get("adv_open"):
        return  # the Design page does not load torch until asked
    with st.container(border=True):
        _controls(arch, running=job is not None and job.running)
        if job is not None:
            _show_job(arch, job)


def _controls(arch: Arch, *, running: bool) -> None:
    """The measurement settings (kept across page switches), the candidates this design allows, and the button that
    starts the sweep (disabled while one runs)."""
    devs = cache.devices()
    from designer.webapp.workers import default_device

    state.remember(
        {
            "adv_device": default_device(devs),
            "adv_backend": "torch",
            "adv_batch": 1,
            "adv_train_batch": 8,
            "adv_rounds": 2,
            "adv_min_run": 0.3,
            "adv_threads": 0,
            "adv_goal": "train",
        }
    )
    from designer.webapp.explore_work import backends

    c = st.columns(7)
    c[0].selectbox("Device", list(devs), key="adv_device", format_func=lambda k: devs[k])
    c[1].selectbox("Backend (inference)", backends(), key="adv_backend")
    c[2].number_input("Batch (inference)", 1, 256, key="adv_batch")
    c[3].number_input("Batch (training step)", 2, 256, key="adv_train_batch")
    c[4].number_input("Rounds", 1, 10, key="adv_rounds")
    c[5].number_input("Timed seconds per trial", 0.01, 10.0, step=0.1, key="adv_min_run")
    c[6].number_input("CPU threads (0 = default)", 0, 256, key="adv_threads")
    gs = candidates(arch)
    st.caption(
        f"Candidates for this design: {', '.join(map(str, gs))} channels per group (the others do not "
        "divide its kernel groups). Each is timed for inference (chosen backend) and one training "
        "step (torch), in interleaved rounds."
    )
    st.button("Measure channels per group", key="adv_run", on_click=_start, args=(arch,), disabled=running)


def _show_job(arch: Arch, job: jobs.Job) -> None:
    """The last advisor sweep: its progress while it runs, its error, or its results where they are of this design
    (the design itself or one of its GPU variants)."""
    if job.running:
        _live_progress(job.id)
        return
    if job.status == "failed":
        st.error(f"The measurement failed: {job.error}")
        return
    base = job.meta.get("base")  # the Arch the sweep varied (set by _start)
    rows = [r for r in (job.result or []) if r.get("valid")]
    if not rows or not isinstance(base, Arch):
        return
    if base != arch and arch not in {gpu_variant(base, r["dw-group-size"]) for r in rows}:
        st.info("The last measurement was of another design: measure again for this one.")
        return
    _show_results(rows, job.meta["settings"])


def _live_progress(job_id: str) -> None:
    """A progress bar that refreshes itself every half second; the whole page reruns once the job has ended."""

    @st.fragment(run_every=0.5)
    def live() -> None:
        j = jobs.get(job_id)
        if j is not None and j.running:
            st.progress(j.progress, text=f"{j.label}: {j.message} ({j.elapsed_s:.0f} s)")
        elif j is not None:
            st.rerun(scope="app")

    live()


def _show_results(rows: list[dict], settings: Settings) -> None:
    """Where and how the candidates were timed, their table and chart, and a button that puts the measured best
    for the chosen goal into the channels-per-group input."""
    st.caption(measured_on(rows, settings))
    st.dataframe(results_table(rows), hide_index=True, width="stretch")
    from designer.webapp.explore_work import advisor_bars

    st.plotly_chart(advisor_bars(rows), width="stretch", key="adv_chart")
    goal = st.radio(
        "Best for",
        ["train", "infer"],
        key="adv_goal",
        horizontal=True,
        format_func={"train": "training step", "infer": "inference"}.get,
    )
    g = best(rows, goal or "train")
    if g is not None:
        st.button(
            f"Use the measured best: {g} channels per group",
            key="adv_use",
            on_click=_use,
            args=(g,),
            type="primary",
        )


def measured_on(rows: list[dict], s: Settings) -> str:
    """The setting of a sweep's timings: device (and its name), threads, dtype, both batches and the rounds."""
    r0 = next((r for r in rows if r.get("device_name")), {})
    return (
        f"Measured on {s.device} ({r0.get('device_name', '?')}), {r0.get('threads', '?')} threads, "
        f"{s.dtype}; inference batch {s.batch}, training step batch {s.train_batch}; median of "
        f"{s.rounds} rounds."
    )


def results_table(rows: list[dict]) -> pd.DataFrame:
    """One row per candidate: FMA (multiply-adds) and params in millions, inference and training-step milliseconds,
    each also as a ratio to depthwise (1 channel per group) where that was timed."""
    ref = {k: next((r[f"{k}_ms"] for r in rows if r["dw-group-size"] == 1), None) for k in ("infer", "train")}
    return pd.DataFrame(
        [
            {
                "channels per group": r["dw-group-size"],
                "FMA (M multiply-adds)": r["fma"] / 1e6,
                "params (M)": r["params"] / 1e6,
                "inference ms": r.get("infer_ms"),
                "inference vs depthwise": r["infer_ms"] / ref["infer"] if ref["infer"] and r.get("infer_ms") else None,
                "training step ms": r.get("train_ms"),
                "training vs depthwise": r["train_ms"] / ref["train"] if ref["train"] and r.get("train_ms") else None,
            }
            for r in rows
        ]
    )
