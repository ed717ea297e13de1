"""Issue 12: every entry point chooses OpenMP's waiting before torch loads; a user's own setting wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import designer.threads as threads
from tests.conftest import REPO


@pytest.fixture
def clean_env(monkeypatch):
    for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MIXDESIGN_OMP"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setattr(threads, "_chosen", None)
    monkeypatch.setattr(threads, "_busy", None)


def test_busy_machine_gets_passive_idle_keeps_spin(clean_env):
    assert threads.configure(busy=0.0).startswith("libgomp's default spin")
    assert "OMP_WAIT_POLICY" not in os.environ
    threads._chosen = None
    assert threads.configure(busy=1.2).startswith("PASSIVE") and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert threads.configure(busy=0.0).startswith("PASSIVE")  # chosen once per process


def test_users_own_setting_wins(clean_env, monkeypatch):
    monkeypatch.setenv("GOMP_SPINCOUNT", "1000")
    assert threads.configure(busy=5.0) == "yours: GOMP_SPINCOUNT=1000" and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.threads_for_run(None, 4) is None and threads.threads_for_run(2) == 2
    assert "OMP_NUM_THREADS=3" in threads.describe_default()


def test_threads_are_shared_out_between_processes(clean_env):
    assert threads.threads_for_run(None, 1) is None  # torch's default: every usable core
    assert threads.threads_for_run(None, 2 * threads.cores()) == 1
    assert 0.0 <= threads.busy_cores(0.01) <= (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "entry",
    [
        "from designer.cli import main; main(['predict', 'mixnet-s', 'x.png', '--weights', 'missing.weights'])",
        "import runtime.train.__main__",
    ],
)
def test_entry_points_choose_before_torch_loads(entry):
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name == 'torch' or name.startswith('torch.'):\n"
        "        import designer.threads as t\n"
        "        assert t._chosen is not None, 'torch imported before designer.threads.configure()'\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "try:\n"
        f"    {entry}\n"
        "except SystemExit:\n"
        "    pass\n"
        "import designer.threads as t\n"
        "print('chosen' if t._chosen else 'none')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("chosen")


def test_app_configures_before_streamlit_and_torch():
    text = (REPO / "designer" / "app.py").read_text()
    assert text.index("configure()") < text.index("import streamlit")


def test_help_says_how_many_threads():
    from designer.cli import build_parser

    p = build_parser()
    for command in ("bench", "train", "predict"):
        sub = p._subparsers._group_actions[0].choices[command]
        assert "every usable core" in sub.format_help() or "OMP_NUM_THREADS=" in sub.format_help()


def test_some_cores_busy_uses_the_free_ones(clean_env, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    for busy, want in ((0.1, None), (1.2, 3), (2.6, 1), (3.9, None)):  # idle / partly busy / every core taken
        monkeypatch.setattr(threads, "_busy", busy)
        assert threads.threads_for_run() == want, busy
    assert threads.threads_for_run(2) == 2
