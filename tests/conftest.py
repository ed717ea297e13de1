"""Shared test helpers: where ../shared lives (skipping with a reason when it is absent), the tiny design, a free
port, one torch thread, and driving the Streamlit app with AppTest (start it, read its workspace, edit the stage
table through the editor's real on_change callback). Test modules import the plain functions from here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from designer.webapp.apptest import edit_table  # noqa: F401 - the tests' name for it

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
APP = str(REPO / "designer" / "app.py")
# A tiny MixNet-style design (16x16 input, two block rows): seconds per epoch on 2 CPU cores.
TINY_YAML = (Path(__file__).parent / "data" / "tiny.yaml").read_text()

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test (with the reason) when it is not there."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"reference data {p} is absent (tests read ../shared next to the checkout)")
    return p


@pytest.fixture(scope="session")
def darknet_layers() -> dict:
    return json.loads(shared_path("darknet", "layers.json").read_text())


def shared_cfgs() -> list[str]:
    d = SHARED / "darknet" / "cfg"
    return sorted(p.name for p in d.glob("*.cfg")) if d.is_dir() else ["<absent>"]


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test: on a shared 2-core machine, 2 OpenMP threads spin-waiting
    against other jobs make a forward pass up to 100x slower. Tests never assert on time; restored after."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# The workspace tests' backends (a PostgreSQL server for the session; `workspace_url` per test).
from workspace_backends import free_port, new_pg_database, pg_server, workspace_url  # noqa: E402,F401


@pytest.fixture
def stable_timings(monkeypatch):
    """Every timing counts as stable (designer.noise.verdict finds nothing), for tests that count trials or rows:
    a sweep measures its unstable trials once more, so on a loaded machine their numbers would depend on the load."""
    import designer.noise

    monkeypatch.setattr(designer.noise, "verdict", lambda **_: None)


@pytest.fixture(autouse=True, scope="session")
def _own_workspace(tmp_path_factory):
    """`bench`, `train` and the app record into a workspace: never the user's own one during the tests."""
    import os

    old = os.environ.get("MIXDESIGN_WORKSPACE")
    os.environ["MIXDESIGN_WORKSPACE"] = str(tmp_path_factory.mktemp("workspace") / "workspace.sqlite")
    yield
    if old is None:
        os.environ.pop("MIXDESIGN_WORKSPACE", None)
    else:
        os.environ["MIXDESIGN_WORKSPACE"] = old


@pytest.fixture(autouse=True)
def _workspace_per_test(_own_workspace, tmp_path_factory, monkeypatch):
    """Each test starts on an empty workspace (opened only if the test uses it), so what one test records never
    shows up in another's history; servers started by module-scoped fixtures use the session's."""
    own = tmp_path_factory.mktemp("ws")  # beside the test's tmp_path, not in it (tests list their folders)
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(own / "workspace.sqlite"))
    monkeypatch.setenv("MIXDESIGN_SWEEPS", str(own / "sweeps.jsonl"))


# ------------------------------------------------------------------ the app through streamlit.testing


def start_app(page: str | None = None, timeout: float = 60) -> AppTest:
    """The app after its first run, switched to `webapp/pages/<page>` when given; fails on an exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(f"webapp/pages/{page}").run()
    assert not at.exception, at.exception
    return at


def workspace(at: AppTest):
    """The session's designer.webapp.state.Workspace."""
    return at.session_state["_mixdesign"]


def falling_latency_model(threads: int = 1):
    """A latency model on this machine whose estimate falls as a kernel's FMA grow (1 ms per kernel less 1 ms per
    10^9 multiply-adds): along a width axis every design is then on the estimate's front (lower estimate, more FMA
    and params), so which K a confirmation picks is known by hand: the widest."""
    from designer.latency.model import LatencyModel, NetworkTerms
    from designer.latency.regress import Regressor
    from designer.latency.setting import Setting
    from designer.machine import fingerprint

    return LatencyModel(
        Setting.make(threads=threads),
        fingerprint("cpu"),
        {},
        Regressor("roofline", (1.0, -1e-9, 0.0, 0.0)),
        NetworkTerms(per_run_ms=0.5),
        (0.9, 1.1),
        {"designs": 0},
        uid="falling-model",
        created="2026-01-01T00:00:00",
    )
