"""Latency and Quick-train pages: background jobs started from the page survive reruns and clicks, report progress,
and their results land on the page (history, curves, downloads). Uses the real runtime (torch, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from designer import count, gpu_variant, lower
from designer.webapp import jobs
from tests.conftest import start_app, workspace

pytestmark = pytest.mark.app


def click(at: AppTest, label: str) -> AppTest:
    return next(b for b in at.button if b.label == label).click().run()


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MIXDESIGN_RUNS_DIR", str(tmp_path))
    return tmp_path


def small_design(at: AppTest) -> AppTest:
    """MixNet-S at width 0.35 and depth 0.25, made on the Design page: quick to train and time on 2 busy cores."""
    at.switch_page("webapp/pages/design.py").run()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    at.number_input(key="g_width_mult").set_value(0.35).run()
    at.number_input(key="g_depth_mult").set_value(0.25).run()
    assert workspace(at).design.width_mult == 0.35 and workspace(at).design.depth_mult == 0.25
    return at.switch_page("webapp/pages/quick_train.py").run()


def test_latency_measures_in_background_and_keeps_history():
    at = small_design(start_app("latency.py", timeout=120)).switch_page("webapp/pages/latency.py").run()
    small = workspace(at).design
    import torch

    no_cuda_note = any("No CUDA" in i.value for i in at.info)
    offered = [o.split(":")[0] for o in at.selectbox(key="lat_device").options]  # "CPU: <name> ...", "CUDA: ..."
    # the page offers CUDA exactly where torch sees it, and says so where it does not
    assert (offered, no_cuda_note) == ((["CPU", "CUDA"], False) if torch.cuda.is_available() else (["CPU"], True))
    at.number_input(key="lat_min_run").set_value(0.2).run()
    click(at, "Measure")
    job = jobs.get(workspace(at).jobs["bench"])
    at.selectbox(key="lat_cl").select("nchw").run()  # a widget click while it runs does not stop it
    assert jobs.wait(job, 240), "measurement did not finish"
    assert job.status == "done", job.error
    at.run()
    r = workspace(at).bench_history[-1]
    fma = count(lower(small)).fma
    assert r["fma"] == r["fma_counted"] == fma and r["median_ms"] > 0 and r["iqr_ms"] >= 0
    assert r["device"] == at.selectbox(key="lat_device").value
    done = at.success[0].value
    assert "measured on" in done and r["device_name"] in done
    # how many runs, the load, and the verdict (designer/noise.py) are on the page (issue 16)
    assert r["runs"] >= 5 and {m.label: m.value for m in at.metric}["Timed runs"] == str(r["runs"])
    assert any("other processes kept" in c.value for c in at.caption)
    assert any("may be unstable" in w.value for w in at.warning) == bool(r["unstable"])
    # one entry per executed step (fused MixConv spans are one step); they hold all the FMA
    assert 0 < len(r["per_layer"]) <= len(lower(small).layers)
    assert sum(p["fma"] for p in r["per_layer"]) == fma
    # a second variant: the history plot gets a second point
    at.switch_page("webapp/pages/design.py").run()
    click(at, "Make GPU variant")
    at.switch_page("webapp/pages/latency.py").run()
    assert at.selectbox(key="lat_design").value == "current: mixnet-s gs4 w0.35 d0.25"
    at.checkbox(key="lat_per_layer").uncheck().run()
    click(at, "Measure")
    assert jobs.wait(jobs.get(workspace(at).jobs["bench"]), 240)
    at.run()
    hist = workspace(at).bench_history
    assert [h["label"] for h in hist] == ["mixnet-s w0.35 d0.25", "mixnet-s gs4 w0.35 d0.25"]
    assert hist[1]["fma_counted"] == count(lower(gpu_variant(small, 4))).fma
    assert len(at.dataframe[-1].value) == 2


def test_quick_train_runs_in_background_with_curves_and_downloads(runs_dir):
    at = small_design(start_app("quick_train.py", timeout=120))
    assert at.multiselect(key="qt_designs").value == ["current: mixnet-s w0.35 d0.25"]
    at.number_input(key="qt_epochs").set_value(1)
    at.number_input(key="qt_batch").set_value(256)  # few optimiser steps: quick on 2 busy cores
    at.run()
    click(at, "Train")
    job = jobs.get(workspace(at).jobs["train"])
    assert job is not None and not at.exception
    at.number_input(key="qt_lr").set_value(0.1).run()  # clicks rerun the page, not the job
    assert jobs.wait(job, 300), "training did not finish"
    assert job.status == "done", job.error
    at.run()
    assert at.success[0].value.startswith("Training done")
    table = at.dataframe[0].value
    assert list(table["design"]) == ["mixnet-s w0.35 d0.25"] and list(table["epoch"]) == [1]
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["weights (.weights)", "cfg", "metrics.csv", "metrics.json"]
    result = job.result["mixnet-s w0.35 d0.25"]
    # the table shows, in percent, the top-1 the trainer wrote: a count of correct validation images
    written = json.loads(Path(result.metrics_json).read_text())
    top1 = written["history"][0]["val_top1"]
    assert table["val top-1 (%)"][0] == pytest.approx(100 * top1)
    assert top1 * written["val_images"] == pytest.approx(round(top1 * written["val_images"]))
    assert Path(result.weights_path).is_file() and Path(result.weights_path).is_relative_to(runs_dir)


def test_quick_train_stop_button_ends_the_job(runs_dir):
    at = small_design(start_app("quick_train.py", timeout=120))
    at.number_input(key="qt_epochs").set_value(50)
    at.run()
    click(at, "Train")
    job = jobs.get(workspace(at).jobs["train"])
    assert next(b for b in at.button if b.label == "Train").disabled  # one job at a time
    click(at, "Stop")
    assert jobs.wait(job, 120)
    assert job.status == "stopped"
    at.run()
    assert "stopped" in at.success[0].value
