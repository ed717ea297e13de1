"""Driving the real app in headless Chromium: start `streamlit run designer/app.py`, read metrics, type into the
stage grid. Shared by tests/e2e/test_browser.py and benchmarks/bench_browser.py (Playwright, Debian's chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    log: IO[str], env: dict[str, str] | None = None, timeout_s: float = 60
) -> tuple[subprocess.Popen, str]:
    """`streamlit run designer/app.py` on a free port; returns once /_stcore/health answers 200.

    Raises RuntimeError with the end of the server's log if it exits or does not answer within timeout_s."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "designer/app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_server(proc)
            log.seek(0)
            raise RuntimeError(f"streamlit did not start:\n{log.read()[-3000:]}")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def idle(page) -> None:
    """Wait until the script run that the last action started has finished and its output is on screen."""
    page.wait_for_timeout(200)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=60_000)
    page.wait_for_timeout(300)


def type_in_cell(page, row: int, right: int, text: str, tries: int = 8) -> None:
    """Type into the stage table (a canvas grid): select row `row`'s "row" cell, move `right` columns, type
    `text` into the cell editor. Pressing Enter then commits the edit.

    The grid is drawn on a canvas and re-mounted after every design change, so a try that does not end with
    `text` in the cell editor (the grid was still mounting, or its editor stayed disabled) is abandoned with
    Escape and made again after a longer pause (0.5 s more each time, for a grid a busy machine mounts late).
    Raises RuntimeError after `tries` tries, naming what each try saw and saving a screenshot to
    test-artifacts/type_in_cell_failed.png."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    editor = page.locator("#portal textarea, #portal input").first
    seen: list[str] = []
    for attempt in range(tries):
        idle(page)
        page.wait_for_timeout(500 * attempt)
        page.get_by_role("heading", name="Stages").click()  # focus away from any open widget
        grid = page.locator("[data-testid='stDataFrame']").first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        if box is None:
            seen.append("no grid on screen")
            continue
        x, y = box["x"] + 60, box["y"] + 35 * (row + 1) + 17  # 35 px header and rows
        page.mouse.move(x, y)  # the grid takes clicks once the pointer has entered it
        page.wait_for_timeout(200)
        page.mouse.click(x, y)
        for _ in range(right):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")  # opens the cell editor with its text selected
        try:
            editor.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            seen.append("the cell editor did not open")
            page.keyboard.press("Escape")
            continue
        page.wait_for_timeout(300)
        try:  # the editor of a grid that a rerun re-mounts can stay disabled (seen in CI): try again
            editor.fill(text, timeout=5_000)
        except PlaywrightTimeout:
            seen.append("the cell editor stayed disabled")
            page.keyboard.press("Escape")
            continue
        page.wait_for_timeout(200)
        value = editor.input_value() if editor.is_visible() else None
        if value == text:
            return
        seen.append("the cell editor closed" if value is None else f"the cell editor held {value!r}")
        page.keyboard.press("Escape")
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "test-artifacts" / "type_in_cell_failed.png"))
    raise RuntimeError(
        f"could not type {text!r} into row {row} of the stage table in {tries} tries: " + "; ".join(seen)
    )
