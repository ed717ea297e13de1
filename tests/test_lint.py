"""Lint and format, as `.ci/run` and the pre-commit hooks run them (settings in pyproject.toml): `ruff check` and
`ruff format --check` over the whole tree (about a second each). Types (mypy over designer/ and runtime/) are
checked by `.ci/run` after the suite and by the pre-commit hook, not here: a clean checkout has no mypy cache, so
a run in the suite would add over a minute to it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)


def _ruff() -> str:
    path = shutil.which("ruff")
    if path is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return path


def test_ruff_check():
    proc = _run(_ruff(), "check", ".")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_check():
    proc = _run(_ruff(), "format", "--check", ".")
    assert proc.returncode == 0, "run `ruff format .`:\n" + proc.stdout[-4000:] + proc.stderr[-2000:]
