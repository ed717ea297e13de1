"""The Python walk-throughs in the docs run as shown: every ```python block of each page in PAGES, in order, in
one namespace, in a fresh folder, with the default workspace a fresh file there (so nothing touches the user's)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

PAGES = ["docs/api.md"]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the opening fence, code) of each ```python block, in order."""
    return [
        (text[: m.start()].count("\n") + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)
    ]


def test_blocks_are_found():
    text = "x\n```python\na = 1\n```\n```bash\nno\n```\n```python\nb = a\n```\n"
    assert python_blocks(text) == [(2, "a = 1\n"), (8, "b = a\n")]


@pytest.mark.parametrize("page", PAGES)
def test_walkthrough_runs(page, tmp_path, monkeypatch, one_torch_thread):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(tmp_path / "default.sqlite"))
    blocks = python_blocks((REPO / page).read_text())
    assert blocks, f"{page} shows no python block"
    namespace: dict = {"__name__": "__walkthrough__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as e:  # noqa: BLE001 - say which block of which page stopped
            raise AssertionError(f"{page}, the python block at line {line}: {type(e).__name__}: {e}") from e
