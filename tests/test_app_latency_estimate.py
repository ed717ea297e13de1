"""The Design page's estimated latency (designer/webapp/estimate.py), driven through AppTest: without a model for
this machine it says how to make one; with one it shows the model's estimate of the design it holds, and a stage
edit changes it.

The model is made by hand (milliseconds proportional to each kernel's multiply-adds plus a constant, through the
fallback), so the figures on the page are checked against the core's estimate of the design in session state.
"""

from __future__ import annotations

import pytest

from designer import load_preset, lower
from designer.latency.model import LatencyModel, NetworkTerms
from designer.latency.regress import Regressor
from designer.latency.setting import Setting, default_threads
from designer.latency.store import save_model
from designer.machine import fingerprint
from tests.conftest import edit_table, start_app, workspace

pytestmark = pytest.mark.app


def fma_model() -> LatencyModel:
    """0.01 ms per kernel plus 1 ms per 10 M multiply-adds (roofline form: a + b*fma + c*elements + d*act)."""
    return LatencyModel(
        Setting(threads=default_threads()),
        fingerprint("cpu"),
        {},
        Regressor("roofline", (0.01, 1e-7, 0.0, 0.0)),
        NetworkTerms(1.0, 0.5, 0.0),
        (0.9, 1.2),
        {"designs": 12},
        uid="app-model",
        created="2026-12-03T07:00:00+00:00",
    )


def shown(at) -> str:
    return {m.label: m.value for m in at.metric}["Estimated latency"]


def test_without_a_model_the_page_gives_the_calibrate_command():
    at = start_app()
    assert shown(at) == "no model"
    assert any(
        "mixdesign calibrate --backend torch --device cpu" in c.value and "about 3 minutes" in c.value
        for c in at.caption
    )


def test_the_estimate_follows_a_stage_edit():
    import os

    from designer.workspace import Workspace

    model = fma_model()
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        save_model(ws, model)
    at = start_app()
    before = model.estimate(lower(load_preset("mixnet-m"))).ms
    assert shown(at) == f"{before:.2f} ms"
    edit_table(at, {"edited_rows": {3: {"kernels": "3.5.7"}}})  # a 9x9 kernel group fewer
    after = model.estimate(lower(workspace(at).design)).ms
    assert after < before and shown(at) == f"{after:.2f} ms"
    delta = next(m for m in at.metric if m.label == "Estimated latency").delta
    assert delta == f"{(after - before) / before * 100:+.1f}%"
    assert not at.exception


def test_numbers_page_puts_estimated_time_per_stage_beside_fma():
    import os

    from designer.workspace import Workspace

    model = fma_model()
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        save_model(ws, model)
    at = start_app("numbers.py")
    table = next(df.value for df in at.dataframe if "est. ms" in df.value.columns)
    e = model.estimate(lower(load_preset("mixnet-m")))
    # every kernel in one stage: the stages add up to the estimate less the runtime's per-run overhead
    assert table["est. ms"].sum() == pytest.approx(e.ms - e.overhead_ms, abs=0.01 * len(table))
    assert table["FMA share %"].sum() == pytest.approx(100, abs=0.1 * len(table))
    stem = table[table["stage"] == "stem"].iloc[0]
    assert stem["est. ms"] == pytest.approx(e.kernels[0].ms, abs=1e-3)  # the stem is layer 0, the 3x3 conv


def test_latency_page_puts_the_estimate_beside_a_measurement():
    import os
    from dataclasses import replace

    from designer.webapp import jobs
    from designer.workspace import Workspace

    at = start_app()
    at.number_input(key="g_width_mult").set_value(0.35).run()  # quick to time on 2 busy cores
    at.number_input(key="g_depth_mult").set_value(0.25).run()
    small = workspace(at).design
    models = {t: replace(fma_model(), setting=Setting(threads=t), uid=f"t{t}") for t in range(1, os.cpu_count() + 1)}
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        for m in models.values():
            save_model(ws, m)
    at.switch_page("webapp/pages/latency.py").run()
    at.number_input(key="lat_min_run").set_value(0.1).run()
    at.checkbox(key="lat_per_layer").uncheck().run()
    next(b for b in at.button if b.label == "Measure").click().run()
    assert jobs.wait(jobs.get(workspace(at).jobs["bench"]), 240)
    at.run()
    r = workspace(at).bench_history[-1]
    e = models[r["threads"]].estimate(lower(small))
    shown = [c.value for c in at.caption if c.value.startswith("Estimated ")]
    assert shown and shown[0].startswith(f"Estimated {e.ms:.3f} ms ({e.low_ms:.3f}-{e.high_ms:.3f})")
    assert f"measured / estimated = {r['median_ms'] / e.ms:.2f}" in shown[0]
