"""The three rooms stay apart: the torch-free core imports neither the CLI, the app nor the runtime (nor torch or
streamlit), and the runtime never imports the app. Checked on the source (every import statement, also those
inside functions), so a lazy import cannot hide a wrong direction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE_EXCLUDED = ("cli", "webapp", "app.py")


def _modules(root: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root)
        if rel.parts and rel.parts[0] in exclude:
            continue
        out.append(p)
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # `from designer import webapp` names the room in the imported name
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for p in paths:
        for line, name in _imports(p):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{p.relative_to(REPO)}:{line} imports {name}")
    return bad


CORE = _modules(REPO / "designer", exclude=CORE_EXCLUDED)
# The one core module that may ask torch, inside a function only: designer/machine.py, for what a CUDA device
# has (its name, presence, free memory); asking a CUDA device means a CUDA run, which has loaded torch anyway.
LAZY_TORCH = {"designer/machine.py"}


def _top_level_lines(path: Path) -> set[int]:
    body = ast.parse(path.read_text(), str(path)).body
    return {n.lineno for n in body if isinstance(n, (ast.Import, ast.ImportFrom))}


RUNTIME = _modules(REPO / "runtime")


def test_rooms_are_found():
    names = {p.relative_to(REPO).as_posix() for p in CORE + RUNTIME}
    assert {
        "designer/cfg.py",
        "designer/lower.py",
        "runtime/model.py",
        "runtime/train/loop.py",
        "runtime/bundle/writer.py",
    } <= names
    assert not any(n.startswith(("designer/webapp/", "designer/cli/")) for n in names)


@pytest.mark.parametrize(
    "room,paths,forbidden",
    [
        ("core", CORE, ("runtime", "designer.cli", "designer.webapp", "torch", "streamlit", "plotly")),
        ("runtime", RUNTIME, ("designer.webapp", "streamlit", "plotly")),
    ],
)
def test_imports_go_one_way(room, paths, forbidden):
    allowed = {
        f"{p}:{line} imports torch"
        for p in LAZY_TORCH
        for line, name in _imports(REPO / p)
        if name == "torch" and line not in _top_level_lines(REPO / p)
    }
    assert [v for v in _violations(paths, forbidden) if v not in allowed] == []


def test_the_check_sees_lazy_imports(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from runtime.model import build_model\n    import designer.webapp.state\n")
    assert [name for _, name in _imports(p)] == ["runtime.model", "runtime.model.build_model", "designer.webapp.state"]
