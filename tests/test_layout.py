"""The rooms stay apart: the torch-free core imports neither the CLI, the app nor the runtime (nor torch or
streamlit), and the runtime never imports the app. The Python API (designer/api) is the one door from the front
ends to the runtime: it loads the runtime and torch inside function bodies only, and the CLI and the app import
neither, nor write to the workspace except through it. Checked on the source (every import statement, also those
inside functions), so a lazy import cannot hide a wrong direction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE_EXCLUDED = ("cli", "webapp", "app.py", "api")


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


# ------------------------------------------------------------------ the API and the front ends

API = _modules(REPO / "designer" / "api")
FRONT_ENDS = _modules(REPO / "designer" / "cli") + _modules(REPO / "designer" / "webapp") + [REPO / "designer/app.py"]
#: The Workspace methods that write; the front ends reach them only through designer.api (record, designs, ...).
WORKSPACE_WRITES = {
    "add_bench_result", "add_measurement", "add_training_run", "add_imported", "save_design", "delete_design",
    "add_sweep", "add_trial", "save_model", "import_workspace",
}  # fmt: skip
#: Modules whose functions of those names are not the Workspace's: the API, and the app's session wrappers
#: (designer/webapp/persist.py and state.py), which call the API.
FRONT_END_WRAPPERS = ("api", "persist", "state")


def _type_checking_lines(path: Path) -> set[int]:
    """Lines of the imports under `if TYPE_CHECKING:` (annotations only: never executed)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            lines |= {n.lineno for b in node.body for n in ast.walk(b) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return lines


def _runtime_imports(paths: list[Path], *, top_level_only: bool) -> list[str]:
    """torch or runtime imported where it runs: anywhere (or at module level only), outside TYPE_CHECKING."""
    bad = []
    for p in paths:
        skip = _type_checking_lines(p)
        top = _top_level_lines(p)
        for line, name in _imports(p):
            if line in skip or (top_level_only and line not in top):
                continue
            if any(name == f or name.startswith(f + ".") for f in ("torch", "runtime")):
                bad.append(f"{p.relative_to(REPO)}:{line} imports {name}")
    return bad


def _workspace_writes(path: Path) -> list[str]:
    """Calls of a Workspace write method other than through designer.api (or the app's wrappers of it)."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WORKSPACE_WRITES:
            via = node.func.value
            if not (isinstance(via, ast.Name) and via.id in FRONT_END_WRAPPERS):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} calls .{node.func.attr}()")
    return bad


def test_api_is_found():
    names = {p.relative_to(REPO).as_posix() for p in API}
    assert {"designer/api/__init__.py", "designer/api/measure.py", "designer/api/record.py"} <= names
    assert not any(p.relative_to(REPO).as_posix().startswith("designer/api/") for p in CORE)


def test_api_loads_the_runtime_inside_functions_only():
    assert _violations(API, ("designer.cli", "designer.webapp", "streamlit", "plotly")) == []
    assert _runtime_imports(API, top_level_only=True) == []


def test_front_ends_reach_the_runtime_and_the_workspace_through_the_api():
    assert _runtime_imports(FRONT_ENDS, top_level_only=False) == []
    assert [bad for p in FRONT_ENDS for bad in _workspace_writes(p)] == []


def test_the_front_end_check_sees_runtime_imports_and_writes(tmp_path, monkeypatch):
    p = tmp_path / "m.py"
    p.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runtime.bench import BenchResult\n"
        "def f(ws):\n    import torch\n    ws.add_bench_result({})\n    api.save_design(ws)\n"
    )
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    assert _runtime_imports([p], top_level_only=False) == ["m.py:5 imports torch"]
    assert _runtime_imports([p], top_level_only=True) == []
    assert _workspace_writes(p) == ["m.py:6 calls .add_bench_result()"]
