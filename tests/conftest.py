"""Shared fixtures: where ../shared lives, and skipping with a reason when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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
from workspace_backends import new_pg_database, pg_server, workspace_url  # noqa: E402,F401


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
