"""Explore page, the Design page's GPU-variant advisor and the Latency page's training-step mode, through AppTest,
on a tiny design (MixNet-S at width 0.35, depth 0.25) at small input sizes, with the real runtime (CPU)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from designer import gpu_variant
from designer.webapp import jobs

pytestmark = [pytest.mark.app, pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")]

APP = str(Path(__file__).resolve().parents[1] / "designer" / "app.py")


@pytest.fixture(autouse=True)
def sweep_store(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "sweeps.jsonl"
    monkeypatch.setenv("MIXDESIGN_SWEEPS", str(path))
    return path


def ws(at: AppTest):
    return at.session_state["_mixdesign"]


def click(at: AppTest, key: str) -> AppTest:
    return at.button(key=key).click().run()


def run_job(at: AppTest, button: str, page: str) -> jobs.Job:
    """Click the button that starts a background job, wait for it, and redraw the page with its result."""
    click(at, button)
    job = jobs.get(ws(at).jobs[page])
    assert jobs.wait(job, 240) and job.status == "done", job.error
    at.run()
    assert not at.exception, at.exception
    return job


def tiny_design(size: int = 32) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    at.number_input(key="g_width_mult").set_value(0.35).run()
    at.number_input(key="g_depth_mult").set_value(0.25).run()
    at.number_input(key="g_input_size").set_value(size).run()
    d = ws(at).design
    assert (d.width_mult, d.depth_mult, d.input_size) == (0.35, 0.25, size) and not at.exception
    return at


def test_explore_runs_a_sweep_shows_the_front_and_loads_a_point(sweep_store, stable_timings):
    at = tiny_design()
    base = ws(at).design
    at.switch_page("webapp/pages/explore.py").run()
    at.text_area(key="ex_axes").input("size=16,32,48\ndw-group-size=1,2").run()  # size 16 < stride 32
    at.number_input(key="ex_rounds").set_value(1)
    at.number_input(key="ex_min_run").set_value(0.02)
    at.number_input(key="ex_threads").set_value(1).run()
    assert not at.exception, at.exception
    assert "4 distinct designs, 2 invalid points, 4 timed trials" in at.caption[1].value
    job = run_job(at, "ex_run", "explore")
    df = at.dataframe[0].value
    assert len(df) == 6 and df["valid"].sum() == 4
    assert df[df["valid"]]["infer_ms"].gt(0).all() and df["pareto_infer"].sum() >= 1
    assert "smaller than the total stride 32" in " ".join(df[~df["valid"]]["reason"])
    assert len(at.get("plotly_chart")) == 1
    # the sweep is in the store and listed as an earlier sweep
    assert at.selectbox(key="ex_shown").value == job.meta["sweep_id"]
    # a rerun of the same sweep measures nothing new
    before = len(sweep_store.read_text().splitlines())
    run_job(at, "ex_run", "explore")
    assert len(sweep_store.read_text().splitlines()) == before == 1 + 2 + 4  # header, 2 invalid points, 4 trials
    at.selectbox(key="ex_pick").set_value("size=48, dw-group-size=2").run()
    click(at, "ex_load")
    d = ws(at).design
    assert d == gpu_variant(type(base)(**{**base.__dict__, "input_size": 48}), 2)
    assert at.success and "Loaded size=48" in at.success[-1].value


def test_advisor_measures_channels_per_group_and_sets_the_gpu_variant():
    at = tiny_design()
    small = ws(at).design
    at.toggle(key="adv_open").set_value(True).run()
    at.number_input(key="adv_rounds").set_value(1)
    at.number_input(key="adv_threads").set_value(1)
    at.number_input(key="adv_train_batch").set_value(2)
    at.number_input(key="adv_min_run").set_value(0.02).run()
    job = run_job(at, "adv_run", "advisor")
    from designer.webapp.advisor import best, candidates

    table = at.dataframe[0].value
    assert list(table["channels per group"]) == candidates(small) and candidates(small)[0] == 1
    assert table["inference ms"].gt(0).all() and table["training step ms"].gt(0).all()
    assert table["training vs depthwise"].iloc[0] == pytest.approx(1.0)
    g = best(job.result, "train")
    assert g == int(table.loc[table["training step ms"].idxmin(), "channels per group"])
    click(at, "adv_use")
    assert at.number_input(key="gpu_group_size").value == g
    next(b for b in at.button if b.label == "Make GPU variant").click().run()
    assert ws(at).design == gpu_variant(small, g)


def test_latency_page_measures_a_training_step():
    at = tiny_design()
    at.switch_page("webapp/pages/latency.py").run()
    at.radio(key="lat_mode").set_value("train")
    at.number_input(key="lat_batch").set_value(2)
    at.number_input(key="lat_threads").set_value(1)
    at.checkbox(key="lat_per_layer").uncheck()
    at.number_input(key="lat_min_run").set_value(0.2).run()
    next(b for b in at.button if b.label == "Measure").click().run()
    job = jobs.get(ws(at).jobs["bench"])
    assert jobs.wait(job, 240) and job.status == "done", job.error
    at.run()
    r = ws(at).bench_history[-1]
    assert r["mode"] == "train" and r["batch"] == 2 and r["optimized"] is False and r["median_ms"] > 0
    assert "per training step of 2" in at.success[0].value


def test_explore_estimates_then_confirms_the_best_and_shows_estimate_against_measurement(stable_timings):
    import os

    from designer.latency.store import save_model
    from designer.workspace import Workspace
    from tests.conftest import falling_latency_model

    at = tiny_design()
    at.switch_page("webapp/pages/explore.py").run()
    at.text_area(key="ex_axes").input("width-mult=0.25,0.35")
    at.multiselect(key="ex_measure").set_value(["estimate"])
    at.number_input(key="ex_threads").set_value(1).run()
    assert "mixdesign calibrate --backend torch --device cpu --threads 1" in at.error[0].value  # no model yet
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as w:
        save_model(w, falling_latency_model())
    at.number_input(key="ex_rounds").set_value(1)
    at.number_input(key="ex_min_run").set_value(0.02)
    at.number_input(key="ex_confirm").set_value(1).run()
    assert not at.error and not at.exception
    run_job(at, "ex_run", "explore")
    df = at.dataframe[0].value
    assert df["estimate_ms"].gt(0).all() and df["pareto_estimate"].all()  # the model's estimate falls with FMA
    assert df["infer_ms"].notna().sum() == 1  # only the confirmed design was measured
    checks = at.dataframe[1].value
    assert list(checks["design"]) == ["width-mult=0.35"]  # the lowest estimate on the front
    assert checks["measured ms"].iloc[0] == pytest.approx(df["infer_ms"].dropna().iloc[0])
    assert "Median |error|" in at.caption[-1].value or any("Median |error|" in c.value for c in at.caption)
