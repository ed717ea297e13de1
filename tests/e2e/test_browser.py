"""The real app in headless Chromium: `streamlit run designer/app.py`, pick MixNet-M, make the GPU variant, check
the numbers, download the cfg and compare it with the CLI's export; a screenshot of every page goes to
test-artifacts/screenshots/ (and the first-page load time to test-artifacts/first_page_load.txt).
With MIXDESIGN_SCREENSHOTS=1 the screenshots also go to docs/images/ (the documentation's pictures of the app:
`MIXDESIGN_SCREENSHOTS=1 python -m pytest tests/e2e` refreshes them).

Skips, saying why, where /usr/bin/chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import designer
from designer import count, emit_cfg, gpu_variant, load_preset, lower
from tests.e2e.browser_driver import CHROME_ARGS, CHROMIUM, REPO, start_server, stop_server
from tests.e2e.browser_driver import idle as _idle
from tests.e2e.browser_driver import metric as _metric
from tests.e2e.browser_driver import type_in_cell as _type_in_cell

pytestmark = pytest.mark.app

SHOTS = REPO / "test-artifacts" / "screenshots"
DOC_SHOTS = REPO / "docs" / "images"  # written only with MIXDESIGN_SCREENSHOTS=1
DOC_CLIP = {"x": 0, "y": 0, "width": 1440, "height": 1000}  # the top of the page, where each page's content starts
GROUP = 4

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (the browser test drives Debian's chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with _serve(tmp_path_factory, {}) as url:
        yield url


@contextlib.contextmanager
def _serve(tmp_path_factory, extra_env: dict):
    """Start `streamlit run designer/app.py` on a free port (tests/e2e/browser_driver.py); yield its URL; stop it."""
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w+")
    try:
        proc, url = start_server(log, {"MIXDESIGN_RUNS_DIR": str(tmp_path_factory.mktemp("runs")), **extra_env})
    except RuntimeError as e:
        log.close()
        pytest.fail(str(e))
    try:
        yield url
    finally:
        stop_server(proc)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:  # one per module: sync playwright cannot be started twice at once
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 2000}, accept_downloads=True)
    yield context.new_page()
    context.close()


def _go(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
    page.wait_for_timeout(600)  # let charts finish drawing before the screenshot


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if os.environ.get("MIXDESIGN_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_SHOTS / f"{name}.png"), clip=DOC_CLIP)


def test_mixnet_m_to_gpu_variant_to_downloaded_cfg(server, page):
    t0 = time.perf_counter()
    page.goto(server)
    page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60_000)
    first_page_s = time.perf_counter() - t0
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "first_page_load.txt").write_text(f"{first_page_s:.2f} s\n")
    print(f"first page (Design, numbers shown) in {first_page_s:.2f} s")

    # pick mixnet-m
    page.locator("[data-testid='stSelectbox']").filter(has_text="Start from").click()
    page.get_by_role("option", name="mixnet-m", exact=True).click()
    page.get_by_text("Loaded mixnet-m.").wait_for(timeout=30_000)
    base = count(lower(load_preset("mixnet-m")))
    assert _metric(page, "FMA (multiply-adds)") == f"{base.fma / 1e6:,.1f} M"
    _shot(page, "1-design-mixnet-m")

    # a stage edit that cannot lower: message next to the row, design kept; then discarded
    _type_in_cell(page, 1, 2, "3.5.7.9.11")  # row 1, kernels
    page.keyboard.press("Enter")
    alert = page.locator("[data-testid='stAlertContentError']").filter(
        has_text="Row 1 (b1.0): 144 expanded channels do not split evenly"
    )
    alert.wait_for(timeout=30_000)
    assert _metric(page, "FMA (multiply-adds)") == f"{base.fma / 1e6:,.1f} M"
    _shot(page, "1b-design-invalid-edit")
    page.get_by_role("button", name="Discard the table edits").click()
    alert.wait_for(state="detached", timeout=30_000)

    # a valid stage edit: the numbers follow (time from the edit to the new figure on screen)
    edited = count(
        lower(
            replace(
                load_preset("mixnet-m"),
                blocks=tuple(
                    replace(b, kernels=(3, 5, 7)) if i == 3 else b for i, b in enumerate(load_preset("mixnet-m").blocks)
                ),
            )
        )
    )
    _type_in_cell(page, 3, 2, "3.5.7")
    t = time.perf_counter()
    page.keyboard.press("Enter")
    page.locator("[data-testid='stMetricValue']").get_by_text(f"{edited.fma / 1e6:,.1f} M", exact=True).wait_for(
        timeout=30_000
    )
    print(f"stage edit -> new FMA on screen in {time.perf_counter() - t:.2f} s (browser, websocket, rerun)")
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Undo").click()
    page.locator("[data-testid='stMetricValue']").get_by_text(f"{base.fma / 1e6:,.1f} M", exact=True).wait_for(
        timeout=30_000
    )

    # the GPU variant, G channels per group
    box = page.get_by_label("Channels per group")
    box.fill(str(GROUP))
    box.press("Enter")
    page.get_by_role("button", name="Make GPU variant").click()
    page.get_by_text(f"GPU variant with {GROUP} channels per group").wait_for(timeout=30_000)
    arch = gpu_variant(load_preset("mixnet-m"), GROUP)
    c = count(lower(arch))
    page.locator("[data-testid='stMetricValue']").get_by_text(f"{c.fma / 1e6:,.1f} M", exact=True).wait_for(
        timeout=30_000
    )  # the notice can be on screen before the run has redrawn the metrics
    _idle(page)
    assert _metric(page, "Params (trainable)") == f"{c.params / 1e6:,.3f} M"
    assert _metric(page, "Darknet BFLOPs") == f"{c.bflops:.3f}"
    _shot(page, "2-design-gpu-variant")

    t = time.perf_counter()
    page.locator("[data-testid='stSidebarNav']").get_by_text("Graph", exact=True).click()
    page.locator("[data-testid='stGraphVizChart'] svg").first.wait_for(timeout=30_000)
    print(f"graph page: blocks drawn {time.perf_counter() - t:.2f} s after the click")
    page.wait_for_timeout(600)
    _shot(page, "3-graph")

    _go(page, "Numbers")
    assert _metric(page, "FMA (multiply-adds)") == f"{c.fma:,}"
    assert _metric(page, "Params stored (.weights)") == f"{c.params_stored:,}"
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    _shot(page, "4-numbers")

    _go(page, "Latency")
    page.get_by_role("button", name="Measure").wait_for(timeout=60_000)  # after torch lists the devices
    _shot(page, "5-latency")
    _go(page, "Quick-train")
    page.get_by_role("button", name="Train").wait_for(timeout=60_000)
    _shot(page, "6-quick-train")

    _go(page, "Export")
    with page.expect_download(timeout=30_000) as dl:
        page.get_by_role("button", name="Download cfg").click()
    got = Path(dl.value.path()).read_text()
    assert dl.value.suggested_filename == "mixnet-m.cfg"
    assert got == emit_cfg(lower(arch))  # what `mixdesign export` writes for the same design
    cli = subprocess.run(
        [sys.executable, "-m", "designer.cli", "export", "mixnet-m", "--dw-group-size", str(GROUP), "-o", "-"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, f"`mixdesign export` failed, so the download cannot be compared: {cli.stderr}"
    assert got == cli.stdout
    assert designer.parse_cfg(got).design is not None
    _shot(page, "7-export")

    _go(page, "Import")
    _shot(page, "8-import")


def test_large_cfg_graph_stays_small_and_draws(server, page):
    """yolov4.cfg (162 layers, no design) opens as layers; its graph is 11 chunks, expandable to every layer."""
    cfg = REPO.parent / "shared" / "darknet" / "cfg" / "yolov4.cfg"
    if not cfg.is_file():
        pytest.skip(f"{cfg} is absent (reference cfgs live in ../shared next to the checkout)")
    page.goto(server)
    page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60_000)
    _go(page, "Import")
    page.locator("input[type=file]").set_input_files(str(cfg))
    page.get_by_role("button", name="Open 'yolov4' in the designer").click()
    page.get_by_text("Opened 'yolov4'").wait_for(timeout=30_000)
    t = time.perf_counter()
    page.locator("[data-testid='stSidebarNav']").get_by_text("Graph", exact=True).click()
    svg = page.locator("[data-testid='stGraphVizChart'] svg").first
    svg.wait_for(timeout=30_000)
    collapsed_s = time.perf_counter() - t
    nodes = svg.locator("g.node").count()
    assert nodes == 12  # the input and 11 chunks
    page.wait_for_timeout(500)
    _shot(page, "9-graph-yolov4-chunks")
    t = time.perf_counter()
    page.get_by_role("button", name="All", exact=True).click()
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='stGraphVizChart'] svg g.node\").length > 150", timeout=60_000
    )
    expanded_s = time.perf_counter() - t
    page.wait_for_timeout(500)
    _shot(page, "10-graph-yolov4-expanded")
    print(f"yolov4 graph: 11 chunks drawn {collapsed_s:.2f} s after the click; all 162 layers {expanded_s:.2f} s")
    _go(page, "Design")
    page.get_by_text("has no blocks to edit").wait_for(timeout=30_000)
    _shot(page, "11-design-yolov4-layers")


def _measured_designs(page) -> str:
    """The Latency page's workspace history line ("N of M measurements shown; designs: a (app), b (cli)")."""
    _go(page, "Latency")
    line = page.get_by_text("measurements shown; designs:")
    line.wait_for(timeout=60_000)
    return line.inner_text()


def _loaded(page) -> None:
    page.locator("[data-testid='stSidebarNav']").wait_for(timeout=60_000)
    _idle(page)


def _saved_choices(page) -> list[str]:
    _go(page, "Design")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Start from").click()
    options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    return options


def test_workspace_survives_reload_and_restart_and_shows_cli_runs(tmp_path_factory, browser):
    """Save a design and measure it; reload the page; restart the server on the same workspace: both are still
    there. A `mixdesign bench` run from the shell on that workspace then appears in the app's history."""
    ws = tmp_path_factory.mktemp("ws") / "workspace.sqlite"
    env = {"MIXDESIGN_WORKSPACE": str(ws)}
    tiny = (REPO / "tests" / "data" / "tiny.yaml").read_text()
    context = browser.new_context(viewport={"width": 1440, "height": 2000})
    page = context.new_page()
    with contextlib.ExitStack() as servers:
        servers.callback(context.close)
        first = servers.enter_context(contextlib.ExitStack())
        url = first.enter_context(_serve(tmp_path_factory, env))
        page.goto(url)
        page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60_000)
        # open the tiny design (pasted YAML), save a copy of it
        _go(page, "Import")
        page.get_by_text("design YAML", exact=True).click()
        page.get_by_label("Name").fill("tiny")
        page.get_by_label("cfg or YAML text").fill(tiny)
        page.get_by_label("cfg or YAML text").press("Control+Enter")
        page.get_by_role("button", name="Open 'tiny' in the designer").click()
        page.get_by_text("Opened 'tiny'").wait_for(timeout=30_000)
        _go(page, "Design")
        page.get_by_label("Save a copy as").fill("survivor")
        page.get_by_label("Save a copy as").press("Enter")
        _idle(page)
        page.get_by_role("button", name="Save copy").click()
        page.get_by_text("Saved a copy as 'survivor'").wait_for(timeout=30_000)
        # measure it (short, no per-layer pass)
        _go(page, "Latency")
        page.get_by_role("button", name="Measure").wait_for(timeout=60_000)
        page.locator("[data-testid='stSelectbox']").filter(has_text="Design to measure").click()
        page.get_by_role("option", name="saved: survivor", exact=True).click()
        _idle(page)
        box = page.get_by_label("Timed seconds (min)")
        box.fill("0.2")
        box.press("Enter")
        _idle(page)
        page.get_by_text("Per-layer times").click()
        _idle(page)
        page.get_by_role("button", name="Measure").click()
        page.get_by_text("survivor: median").wait_for(timeout=120_000)
        assert "survivor (app)" in _measured_designs(page)
        _shot(page, "12-workspace-measured")

        page.reload()  # a new session: nothing in session state (this reloads the Latency page)
        _loaded(page)
        assert "survivor (app)" in _measured_designs(page)
        assert "saved: survivor" in _saved_choices(page)

        first.close()  # stop the server; start a new one on the same workspace
        url = servers.enter_context(_serve(tmp_path_factory, env))
        page.goto(url)
        page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=60_000)
        assert "saved: survivor" in _saved_choices(page)
        assert "survivor (app)" in _measured_designs(page)
        assert "(cli)" not in _measured_designs(page)

        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "designer.cli",
                "bench",
                "tests/data/tiny.yaml",
                "--size",
                "32",
                "--min-run-time",
                "0.1",
                "--threads",
                "1",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert cli.returncode == 0, cli.stderr
        assert f"recorded 1 measurement(s) in {ws}" in cli.stderr
        page.reload()
        _loaded(page)
        line = _measured_designs(page)
        assert "survivor (app)" in line and "tiny (cli)" in line
        _shot(page, "13-workspace-cli-run-in-app")
