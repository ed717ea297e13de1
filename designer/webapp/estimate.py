"""Estimated latency in the app: this machine's newest latency model (designer/latency) applied to a design.

The model is the workspace's newest for this machine's fingerprint, on the CPU, for inference at batch 1 (any
backend and thread count; the caption names them). Looked up on every run (one indexed query), parsed once per
model, and the estimate is cached on the emitted cfg text and the model's uid, so an edit costs one estimate.
Without a model the page says so and gives the command that makes one.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from designer.latency.model import Estimate, LatencyModel
from designer.latency.setting import Setting, default_threads
from designer.webapp import persist
from designer.webapp.cache import current
from designer.webapp.model import Design


@st.cache_resource(show_spinner=False)
def _machine() -> Any:
    from designer.machine import fingerprint

    return fingerprint("cpu")


def model() -> LatencyModel | None:
    """This machine's newest CPU inference model at batch 1, or None (no workspace, or no model yet)."""
    ws = persist.workspace()
    if ws is None:
        return None
    from designer.latency.store import newest_for_machine

    return newest_for_machine(ws, _machine())


@st.cache_data(max_entries=128, show_spinner=False)
def _estimate(cfg_text: str, uid: str, _model: LatencyModel, _analysis: Any) -> Estimate:
    return _model.estimate(_analysis.network, _analysis.shapes, _analysis.cost)


def estimate(design: Design, m: LatencyModel) -> Estimate:
    low, a = current(design)
    return _estimate(low.cfg_text, m.uid, m, a)


def how_to_calibrate() -> str:
    """The command (with its duration) that makes the model the app would use."""
    return Setting.make(threads=default_threads()).calibrate_command()


def describe(m: LatencyModel) -> str:
    s = m.setting
    return (
        f"{s.backend} on this CPU, {s.threads} thread{'s' if s.threads != 1 else ''}, fp32, batch 1; model "
        f"{m.dates()} on {m.metrics.get('designs', '?')} designs"
    )


def stage_ms(design: Design, m: LatencyModel) -> dict[str, float]:
    """Estimated ms per stage of the Numbers page (each kernel counted in the stage of its first layer)."""
    a = current(design)[1]
    out: dict[str, float] = {}
    for k in estimate(design, m).kernels:
        stage = a.stage_of[k.first]
        out[stage] = out.get(stage, 0.0) + k.ms
    return out


def for_measurement(r: dict[str, Any], design: Design) -> tuple[Estimate | None, str]:
    """The estimate of `design` in a finished measurement's own setting (r: the Latency page's result entry), or
    None and why not (no model for that setting on this machine: the command that makes one)."""
    from designer.errors import MixdesignError
    from designer.latency.store import find_model

    try:
        setting = Setting.make(
            backend=r.get("backend", "torch"),
            device=r.get("device", "cpu"),
            threads=r.get("threads"),
            batch=int(r.get("batch", 1)),
            dtype=r.get("dtype", "fp32"),
            mode=r.get("mode", "infer"),
        )
    except MixdesignError as e:
        return None, str(e)
    ws = persist.workspace()
    if ws is None:
        return None, "no workspace to read a latency model from"
    try:
        m = find_model(ws, setting, _machine() if setting.device == "cpu" else None)
    except MixdesignError:
        return None, f"no latency model for this setting on this machine: {setting.calibrate_command()}"
    return estimate(design, m), describe(m)
