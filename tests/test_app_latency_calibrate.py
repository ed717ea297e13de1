"""The Latency page offers calibration when this machine has no latency model for the page's setting: a budget, the
input sizes, a progress bar fed by runtime.calibrate, the model stored in the workspace; then the page shows the
estimate for the selected design and beside its measurement, and a refresh re-levels the model in seconds. A tiny design at 32 pixels and a budget of a second
(calibration measures its minimum of 3 designs)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from designer.latency.setting import Setting
from designer.latency.store import find_model
from designer.webapp import jobs
from designer.workspace import Workspace
from tests.conftest import start_app

pytestmark = [pytest.mark.app, pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")]


def test_calibrate_on_the_latency_page_then_the_estimate_is_beside_the_measurement(one_torch_thread):
    at = start_app()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    at.number_input(key="g_width_mult").set_value(0.35).run()
    at.number_input(key="g_depth_mult").set_value(0.25).run()
    at.number_input(key="g_input_size").set_value(32).run()
    at.switch_page("webapp/pages/latency.py").run()
    at.number_input(key="lat_threads").set_value(1)
    at.number_input(key="lat_min_run").set_value(0.2)
    at.checkbox(key="lat_per_layer").uncheck().run()
    assert not at.exception, at.exception
    offer = " ".join(i.value for i in at.info)
    assert "mixdesign calibrate --backend torch --device cpu --threads 1" in offer
    assert at.text_input(key="lat_cal_sizes").value == "32"  # the selected design's input size
    at.number_input(key="lat_cal_budget").set_value(1.0).run()
    at.button(key="lat_calibrate").click().run()
    job = jobs.get(at.session_state["_mixdesign"].jobs["calibrate"])
    seen = []
    while not jobs.wait(job, 0.2):
        seen.append(job.progress)
    assert job.status == "done", job.error
    assert seen and max(seen) > 0.0  # the callback fed the bar while it measured
    at.run()
    assert not at.exception, at.exception
    assert any("Calibrated torch on cpu, 1 thread" in s.value for s in at.success)
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        model = find_model(ws, Setting.make(threads=1))
    assert model.uid == job.result["uid"] and model.metrics["sizes"] == [32]
    assert any(f"latency model {model.uid[:8]}" in c.value for c in at.caption)
    at.number_input(key="lat_refresh_budget").set_value(1.0).run()
    at.button(key="lat_refresh").click().run()  # re-time the model's reference designs
    again = jobs.get(at.session_state["_mixdesign"].jobs["calibrate"])
    assert jobs.wait(again, 120) and again.status == "done", again.error
    at.run()
    assert not at.exception, at.exception
    assert any("Refreshed torch on cpu, 1 thread" in s.value for s in at.success), [s.value for s in at.success]
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        refreshed = find_model(ws, Setting.make(threads=1))
    assert refreshed.uid == again.result["uid"] != model.uid and refreshed.metrics["refresh"]["from_uid"] == model.uid
    assert any(f"latency model {refreshed.uid[:8]}" in c.value and "refreshed" in c.value for c in at.caption)
    at.button[0].click().run()  # Measure
    bench = jobs.get(at.session_state["_mixdesign"].jobs["bench"])
    assert jobs.wait(bench, 120) and bench.status == "done", bench.error
    at.run()
    assert any("measured / estimated" in c.value for c in at.caption), [c.value for c in at.caption]
