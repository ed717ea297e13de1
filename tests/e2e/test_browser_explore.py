"""One sweep driven in the real app (headless Chromium): the Explore page runs a two-design sweep of MixNet-M at
32x32 in the background, draws latency vs FMA, and a click on a point loads that design into the Design page.
Reuses test_browser.py's server and page fixtures (its own server for this module); screenshot
test-artifacts/screenshots/explore.png."""

from __future__ import annotations

import os

import pytest

from designer import count, gpu_variant, load_preset, lower, scaled
from tests.e2e.test_browser import _go, _idle, _metric, _shot, page, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.app


@pytest.fixture(scope="module", autouse=True)
def sweep_store(tmp_path_factory):
    """The server started for this module writes its trials to a fresh store."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIXDESIGN_SWEEPS", str(tmp_path_factory.mktemp("sweeps") / "sweeps.jsonl"))
        mp.setenv("OMP_NUM_THREADS", "1")
        yield


def test_explore_sweep_in_the_browser_and_load_a_point(server, page):  # noqa: F811 (fixtures)
    page.goto(server)
    page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60_000)
    _go(page, "Explore")
    axes = page.get_by_label("Axes (one per line: KEY=VALUES)", exact=True)
    axes.fill("size=32\ndw-group-size=1,2")
    axes.press("Control+Enter")
    _idle(page)
    for label, value in (("Rounds", "1"), ("Timed seconds per trial", "0.05"), ("CPU threads (0 = default)", "1")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        _idle(page)
    page.get_by_text("2 distinct designs, 0 invalid points, 2 timed trials").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run sweep").click()
    chart = page.locator("[data-testid='stPlotlyChart']")
    points = chart.locator(".scatterlayer .trace .points path")
    points.nth(1).wait_for(timeout=240_000)  # both designs measured and drawn
    _idle(page)
    _shot(page, "explore")
    assert points.count() == 2
    # the depthwise design (fewer FMA) is leftmost: click it and it becomes the current design
    boxes = sorted((points.nth(i).bounding_box() for i in range(points.count())), key=lambda b: b["x"])
    b = boxes[1]  # the GPU variant (dw-group-size=2): more FMA, to the right
    page.mouse.click(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    page.get_by_text("Loaded size=32, dw-group-size=2: it is the current design now.").wait_for(timeout=60_000)
    _go(page, "Design")
    expected = count(lower(gpu_variant(scaled(load_preset("mixnet-m"), input_size=32), 2)))
    assert _metric(page, "FMA (multiply-adds)") == f"{expected.fma / 1e6:,.1f} M"
    assert os.environ.get("MIXDESIGN_SWEEPS")
