"""The app and the workspace (AppTest): a saved copy and an import outlive the session, the Latency and
Quick-train pages list what the CLI recorded (filterable by device and backend), the job wrappers store results
as they finish, and a broken workspace is a message while the app keeps working."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

import designer
from designer import dump_yaml, gpu_variant, load_preset
from designer.webapp import jobs, persist
from designer.workspace import Workspace, cfg_sha256
from tests.conftest import start_app

pytestmark = pytest.mark.app


@pytest.fixture
def ws_file(tmp_path, monkeypatch) -> Path:
    p = tmp_path / "app-ws.sqlite"
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(p))
    return p


def _table(at: AppTest, column: str):
    """The page's dataframe that has `column` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_saved_copy_and_import_outlive_the_session(ws_file):
    at = start_app()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    at.text_input(key="save_name").input("baseline").run()
    next(b for b in at.button if b.label == "Save copy").click().run()
    at.switch_page("webapp/pages/import_cfg.py").run()
    at.text_input(key="paste_name").input("pasted-design").run()
    at.radio(key="paste_kind").set_value("design YAML").run()
    at.text_area(key="paste_text").input(dump_yaml(gpu_variant(load_preset("mixnet-s"), 4))).run()
    at.button(key="open_paste").click().run()
    assert not at.exception, at.exception

    with Workspace.open(ws_file) as ws:
        assert ws.get_design("baseline").arch == load_preset("mixnet-s")
        assert ws.get_design("baseline").row.derived_from == "mixnet-s"
        (imp,) = ws.imported().items
        assert imp.row.kind == "design-yaml" and imp.design == gpu_variant(load_preset("mixnet-s"), 4)

    fresh = start_app()  # a new session: a reload, another tab
    assert fresh.session_state["_mixdesign"].saved == {}  # nothing carried in session state...
    options = fresh.selectbox(key="pick_design").options
    assert "saved: baseline" in options and "imported: mixnet-s" in options  # ...the workspace has them
    fresh.selectbox(key="pick_design").set_value("saved: baseline").run()
    assert fresh.session_state["_mixdesign"].design == load_preset("mixnet-s")
    fresh.switch_page("webapp/pages/latency.py").run()
    assert "saved: baseline" in fresh.selectbox(key="lat_design").options


def _measure(ws: Workspace, device: str, backend: str, median: float, source: str = "cli") -> None:
    ws.add_measurement(
        design_name=f"d-{device}-{backend}",
        cfg_sha256="0" * 64,
        device=device,
        device_name="dev",
        backend=backend,
        dtype="fp32",
        batch=1,
        threads=2,
        median_ms=median,
        iqr_ms=0.25,
        fma=10**9,
        fma_per_s=10**9 / (median / 1000),
        source=source,
    )


def test_latency_page_lists_every_source_filterable(ws_file):
    with Workspace.open(ws_file) as ws:
        _measure(ws, "cpu", "torch", 11.0)
        saved = ws.save_design("my-s", load_preset("mixnet-s"))  # the CLI's `bench mixnet-s` has its cfg hash
        ws.add_measurement(
            design_name="mixnet-s",
            cfg_sha256=saved.cfg_sha256,
            device="cpu",
            dtype="fp32",
            batch=1,
            median_ms=30.0,
            iqr_ms=1.0,
            source="cli",
        )
        _measure(ws, "cuda", "torch", 2.0, source="app")
        _measure(ws, "cpu", "onnxruntime", 7.0)
    at = start_app("latency.py")
    df = _table(at, "cfg sha256")
    assert sorted(df["design"]) == ["d-cpu-onnxruntime", "d-cpu-torch", "d-cuda-torch", "mixnet-s"]
    assert set(df["source"]) == {"cli", "app"}
    assert df[df["design"] == "mixnet-s"]["saved as"].tolist() == ["my-s"]  # matched by the cfg's hash
    at.multiselect(key="hist_device").set_value(["cpu"]).run()
    assert sorted(_table(at, "cfg sha256")["median (ms per batch)"]) == [7.0, 11.0, 30.0]
    at.multiselect(key="hist_backend").set_value(["onnxruntime"]).run()
    assert list(_table(at, "cfg sha256")["design"]) == ["d-cpu-onnxruntime"]


def test_quick_train_page_lists_runs(ws_file):
    with Workspace.open(ws_file) as ws:
        ws.add_training_run(
            design_name="tiny",
            device="cpu",
            settings={"data": "digits", "size": 32},
            metrics=[{"epoch": 1, "train_loss": 2.0}],
            best_top1=0.5,
            best_epoch=1,
            source="cli",
        )
    at = start_app("quick_train.py")
    df = _table(at, "best epoch")
    assert list(df["design"]) == ["tiny"] and list(df["best val top-1 (%)"]) == [50.0]


def test_job_wrappers_store_results_when_they_finish(ws_file, tmp_path):
    result = {
        "device": "cpu",
        "device_name": "x",
        "dtype": "fp32",
        "batch": 4,
        "threads": 1,
        "median_ms": 3.5,
        "iqr_ms": 0.5,
        "fma": 400,
        "fma_per_s": 1e5,
        "params": 9,
        "per_layer": [{"index": 0, "ms": 1.0}],
        "label": "mine",
    }
    net = designer.parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n\n[avgpool]\n")
    job = jobs.start("bench", "mine", persist.recording_bench(lambda j: result, "mine", net, {"batch": 4}))
    assert jobs.wait(job, 30) and job.status == "done"
    cfg = tmp_path / "model.cfg"
    cfg.write_text("[net]\nwidth=32\n")
    res = SimpleNamespace(
        cfg_path=cfg,
        history=[{"epoch": 1, "elapsed_s": 2.0}],
        best_top1=0.9,
        best_epoch=1,
        out_dir=tmp_path,
        stopped=True,
    )
    job = jobs.start("train", "mine", persist.recording_training(lambda j: {"mine": res}, {"device": "cpu"}))
    assert jobs.wait(job, 30)
    with Workspace.open(ws_file) as ws:
        (m,) = ws.measurements()
        assert (m.design_name, m.batch, m.median_ms, m.source, m.backend) == ("mine", 4, 3.5, "app", "torch")
        assert m.cfg_sha256 == cfg_sha256(designer.emit_cfg(net)) and m.per_layer == [{"index": 0, "ms": 1.0}]
        (run,) = ws.training_runs()
        assert (run.status, run.source, run.best_top1) == ("stopped", "app", 0.9)
        assert run.cfg_sha256 == cfg_sha256(cfg.read_text())


def test_a_broken_workspace_is_a_message_and_stays_untouched(tmp_path, monkeypatch):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 512)
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(bad))
    at = start_app()
    at.text_input(key="save_name").input("kept-in-session").run()
    next(b for b in at.button if b.label == "Save copy").click().run()
    assert not at.exception
    assert "saved: kept-in-session" in at.selectbox(key="pick_design").options
    at.switch_page("webapp/pages/latency.py").run()
    assert any("not available" in w.value and "not an SQLite database" in w.value for w in at.warning)
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before


PLAIN_CFG = (
    "[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
)


def test_a_plain_cfg_import_is_stored(ws_file):
    at = start_app("import_cfg.py")
    at.text_input(key="paste_name").input("plain-net").run()
    at.radio(key="paste_kind").set_value("darknet cfg").run()
    at.text_area(key="paste_text").input(PLAIN_CFG).run()
    at.button(key="open_paste").click().run()
    assert not at.exception, at.exception
    with Workspace.open(ws_file) as ws:
        (imp,) = ws.imported().items
    assert (imp.name, imp.row.kind) == ("plain-net", "layers-cfg")
    assert len(imp.design.layers) == 1 and imp.design.layers[0].get("filters") == 8
    fresh = start_app()
    assert "imported: plain-net" in fresh.selectbox(key="pick_design").options


def test_a_workspace_that_failed_to_open_is_tried_again_on_the_next_rerun(tmp_path, monkeypatch):
    bad = tmp_path / "later.sqlite"
    bad.write_bytes(b"\x00garbage" * 512)
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(bad))
    at = start_app("latency.py")
    assert any("not available" in w.value for w in at.warning)
    bad.unlink()  # fixed meanwhile (a server back up, a file restored)
    at.run()
    assert not any("not available" in w.value for w in at.warning)
    assert bad.exists()  # opened (and created) now, without a restart


def _fake_infer(cfg_text: str, kind: str, s: dict) -> dict:
    from designer import count, parse_cfg

    return {
        "median_ms": count(parse_cfg(cfg_text)).fma / 1e6,
        "iqr_ms": 0.0,
        "device_name": "fake",
        "threads": 1,
        "backend": "torch",
        "mode": kind,
        "trial_s": 0.0,
    }


@pytest.fixture
def explore_sweep(ws_file, monkeypatch):
    """The Explore page (workspace store) set to sweep width-mult 0.5 and 0.75 once, and the plan the CLI makes
    of the same sweep, whose trials the tests record as another process would."""
    from designer.explore.runner import Settings
    from designer.explore.space import parse_axes
    from designer.explore.sweep import plan_sweep

    monkeypatch.delenv("MIXDESIGN_SWEEPS", raising=False)
    at = start_app()
    at.switch_page("webapp/pages/explore.py").run()
    at.text_area(key="ex_axes").input("width-mult=0.5,0.75").run()
    at.number_input(key="ex_rounds").set_value(1).run()
    base = at.session_state["_mixdesign"].design
    plan = plan_sweep(
        base, parse_axes(["width-mult=0.5,0.75"], base), Settings(measure=("count", "infer"), rounds=1), name=base.name
    )
    return at, plan


def test_explore_shows_trials_the_cli_recorded_after_the_page_was_drawn(ws_file, explore_sweep):
    from designer.explore.runner import Work, run_local
    from designer.explore.workspace_store import WorkspaceTrialStore

    at, plan = explore_sweep
    first, second = plan.trials

    def cli_records(trial) -> None:  # another process: its own workspace connection and store
        with Workspace.open(ws_file) as ws:
            store = WorkspaceTrialStore(ws)
            store.record_sweep(plan.sweep_id, plan.spec)
            run_local(
                Work(plan.sweep_id, plan.designs, [trial], plan.settings, store, _fake_infer, plan.machine.to_json())
            )

    cli_records(first)
    at.run()
    assert at.selectbox(key="ex_shown").value == plan.sweep_id
    assert at.dataframe[0].value["infer_ms"].notna().sum() == 1
    cli_records(second)
    at.run()
    assert not at.exception, at.exception
    ms = sorted(at.dataframe[0].value["infer_ms"])
    assert ms == sorted(d.fma / 1e6 for d in plan.designs)  # both, as the CLI recorded them


def test_explore_lists_failed_trials_and_unstable_figures(ws_file, explore_sweep):
    from designer.errors import MixdesignError
    from designer.explore.sweep import run_sweep
    from designer.explore.workspace_store import WorkspaceTrialStore

    at, plan = explore_sweep
    small = plan.designs[0].fma

    def trial(cfg_text, kind, s):
        from designer import count, parse_cfg

        if count(parse_cfg(cfg_text)).fma == small:
            raise MixdesignError("not enough memory for batch 1 (fake)")
        return {**_fake_infer(cfg_text, kind, s), "unstable": "1.9 of 2 cores busy while timing"}

    with Workspace.open(ws_file) as ws:
        run_sweep(plan, WorkspaceTrialStore(ws), trial)
    at.run()
    assert not at.exception, at.exception
    assert any("not enough memory for batch 1 (fake)" in e.value for e in at.error)
    assert any("1.9 of 2 cores busy" in w.value and "fewer cores are busy" in w.value for w in at.warning)
