"""The app with the deployment backends: the Latency page measures with onnxruntime / OpenVINO and its history
says which backend measured each entry; the Export page hands out the .onnx, with a quick-train run's weights
when one wrote them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import onnx
import pytest

from designer import emit_cfg, load_yaml, lower
from designer.webapp import jobs
from tests.conftest import start_app, workspace
from tests.test_app_jobs import click, small_design

pytestmark = pytest.mark.app

TINY = Path(__file__).resolve().parents[1] / "tests/data/tiny.yaml"


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch) -> None:
    """Where the app records measurements in a workspace (MIXDESIGN_WORKSPACE), these tests' stay in their own."""
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(tmp_path / "workspace.sqlite"))


def test_latency_page_measures_with_each_onnx_backend():
    at = small_design(start_app("latency.py", timeout=120)).switch_page("webapp/pages/latency.py").run()
    assert at.selectbox(key="lat_backend").options == ["torch (runtime)", "onnxruntime (ONNX)", "OpenVINO (ONNX)"]
    at.number_input(key="lat_min_run").set_value(0.2).run()
    at.checkbox(key="lat_per_layer").uncheck().run()
    for backend in ("onnxruntime", "openvino"):
        at.selectbox(key="lat_backend").set_value(backend).run()
        assert at.selectbox(key="lat_cl").disabled
        click(at, "Measure")
        job = jobs.get(workspace(at).jobs["bench"])
        assert jobs.wait(job, 240), "measurement did not finish"
        assert job.status == "done", job.error
        at.run()
        assert (
            workspace(at).bench_history[-1]["backend"] == backend and workspace(at).bench_history[-1]["dtype"] == "fp32"
        )
    table = next(d.value for d in at.dataframe if {"at", "backend"} <= set(d.value.columns))  # the history
    assert list(table["backend"]) == ["onnxruntime", "openvino"]
    assert "OpenVINO (ONNX)" in at.success[0].value


def _fake_quick_train(root: Path):
    """A finished quick-train job whose result names a cfg and .weights, as runtime.train writes them."""
    from runtime.model import build_model
    from runtime.weights import save_weights

    net = lower(load_yaml(TINY))
    cfg, weights = root / "model.cfg", root / "best.weights"
    cfg.write_text(emit_cfg(net))
    save_weights(build_model(net), weights)
    job = jobs.start("train", "tiny", lambda j: {"tiny": SimpleNamespace(cfg_path=cfg, weights_path=weights)})
    assert jobs.wait(job, 30) and job.status == "done"
    return job


def test_export_page_builds_onnx_with_quick_train_weights(tmp_path: Path):
    at = start_app("export.py", timeout=120)
    sources = at.selectbox(key="onnx_source").options
    assert sources == ["this design, random weights"]
    at.button(key="onnx_build").click().run()
    dl = [b for b in at.get("download_button") if b.label.startswith("Download .onnx")]
    assert len(dl) == 1 and not at.exception
    workspace(at).jobs["train"] = _fake_quick_train(tmp_path).id
    at.run()
    assert at.selectbox(key="onnx_source").options == ["this design, random weights", "tiny, weights from quick-train"]
    at.selectbox(key="onnx_source").set_value("tiny, weights from quick-train").run()
    assert not [b for b in at.get("download_button") if b.label.startswith("Download .onnx")]  # built for the other
    at.button(key="onnx_build").click().run()
    assert not at.exception and not at.error
    pick, data = at.session_state["onnx_built"]
    assert pick == "tiny, weights from quick-train"
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 16, 16]
