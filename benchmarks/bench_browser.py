"""The app in a real browser (headless Chromium via Playwright): cold start, first page, edit-to-figure, graph.

Measured in one run, each several times (figures include Chromium and the Streamlit server sharing the
machine's cores with each other and with whatever else runs):
1. cold start: Chromium is already up; the clock starts when `streamlit run designer/app.py` is launched and
   stops when the first page (Design) shows its numbers; split into "server answers /_stcore/health" and
   "page: navigation -> first metric on screen". A fresh server process per start.
2. warm first page: a new tab on the running server -> first metric on screen.
3. edit-to-figure: MixNet-M, row 3's kernels typed into the stage grid (3.5.7, then back to 3.5.7.9); the clock
   runs from the Enter that commits the edit to the new FMA figure on screen (browser, websocket, rerun, render).
4. Graph page: sidebar click -> MixNet-M's block graph (SVG) drawn, then back to Design.

    python benchmarks/bench_browser.py [--starts 3] [--edits 4]

Needs /usr/bin/chromium and playwright (python). Tests never assert on these times.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import designer  # noqa: E402
from tests.e2e.browser_driver import CHROME_ARGS, CHROMIUM, idle, start_server, stop_server, type_in_cell  # noqa: E402

FIRST_METRIC = "[data-testid='stMetricValue']"


def summary(label: str, xs: list[float]) -> str:
    return (
        f"{label:58s} median {statistics.median(xs):6.2f} s  min {min(xs):6.2f}  max {max(xs):6.2f}  "
        f"(n={len(xs)}: {', '.join(f'{x:.2f}' for x in xs)})"
    )


def fma_text(arch: designer.Arch) -> str:
    return f"{designer.count(designer.lower(arch)).fma / 1e6:,.1f} M"  # as the Design page prints it


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=3, help="cold starts (a fresh server each)")
    ap.add_argument("--edits", type=int, default=4, help="edit pairs (3.5.7 and back) timed")
    args = ap.parse_args()
    import streamlit
    from playwright.sync_api import sync_playwright

    print(
        f"python {platform.python_version()}, streamlit {streamlit.__version__}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, Chromium {CHROMIUM} (headless)"
    )
    base = designer.load_preset("mixnet-m")
    edited = replace(
        base, blocks=tuple(replace(b, kernels=(3, 5, 7)) if i == 3 else b for i, b in enumerate(base.blocks))
    )
    original_kernels = ".".join(map(str, base.blocks[3].kernels))
    up, page_s, total, warm, edits, graph = [], [], [], [], [], []
    runs_dir = tempfile.mkdtemp(prefix="bench_browser.")
    with sync_playwright() as p, tempfile.TemporaryFile("w+") as log:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        for k in range(args.starts):
            context = browser.new_context(viewport={"width": 1440, "height": 2000})
            page = context.new_page()
            t0 = time.perf_counter()
            proc, url = start_server(log, {"MIXDESIGN_RUNS_DIR": runs_dir})
            t1 = time.perf_counter()
            try:
                page.goto(url)
                page.locator(FIRST_METRIC).first.wait_for(timeout=120_000)
                t2 = time.perf_counter()
                up.append(t1 - t0), page_s.append(t2 - t1), total.append(t2 - t0)
                print(
                    f"cold start {k + 1}: server up {t1 - t0:.2f} s, page {t2 - t1:.2f} s, total {t2 - t0:.2f} s",
                    flush=True,
                )
                if k < args.starts - 1:
                    continue
                for _ in range(3):  # warm first page: new tabs on this server
                    tab = context.new_page()
                    t = time.perf_counter()
                    tab.goto(url)
                    tab.locator(FIRST_METRIC).first.wait_for(timeout=60_000)
                    warm.append(time.perf_counter() - t)
                    tab.close()
                page.locator("[data-testid='stSelectbox']").filter(has_text="Start from").click()
                page.get_by_role("option", name="mixnet-m", exact=True).click()
                page.get_by_text("Loaded mixnet-m.").wait_for(timeout=30_000)
                for _ in range(args.edits):
                    for kernels, arch in (("3.5.7", edited), (original_kernels, base)):
                        type_in_cell(page, 3, 2, kernels)
                        t = time.perf_counter()
                        page.keyboard.press("Enter")
                        page.locator(FIRST_METRIC).get_by_text(fma_text(arch), exact=True).wait_for(timeout=60_000)
                        edits.append(time.perf_counter() - t)
                for _ in range(3):
                    idle(page)
                    t = time.perf_counter()
                    page.locator("[data-testid='stSidebarNav']").get_by_text("Graph", exact=True).click()
                    page.locator("[data-testid='stGraphVizChart'] svg").first.wait_for(timeout=60_000)
                    graph.append(time.perf_counter() - t)
                    page.locator("[data-testid='stSidebarNav']").get_by_text("Design", exact=True).click()
                    page.locator(FIRST_METRIC).first.wait_for(timeout=60_000)
            finally:
                context.close()
                stop_server(proc)
        browser.close()
    print()
    print(summary("cold: `streamlit run` -> first page with numbers", total))
    print(summary("  of which: launch -> server answers /_stcore/health", up))
    print(summary("  of which: page navigation -> first metric on screen", page_s))
    print(summary("warm first page (server running, new tab)", warm))
    print(summary("stage edit (Enter) -> new FMA figure on screen, MixNet-M", edits))
    print(summary("Graph page: sidebar click -> MixNet-M block graph drawn", graph))
    print(
        f"targets: cold start <= 5 s -> {'met' if statistics.median(total) <= 5 else 'NOT met'} (median); "
        f"edit-to-figure <= 0.5 s -> {'met' if statistics.median(edits) <= 0.5 else 'NOT met'} (median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
