"""The workspace from the API: open one (`open_workspace`), name where results go (`WorkspaceTarget`), and move
a whole workspace to or from one SQLite file (`export_workspace`, `import_workspace`). The queries are the
Workspace's own methods (designer.workspace.store) and designer.api.history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from designer.workspace import Workspace

#: Where to record: a SQLite path or database URL, an open Workspace, True for the default workspace
#: ($MIXDESIGN_WORKSPACE, else the default file), or None / False for nowhere.
WorkspaceTarget = Union["Workspace", str, Path, bool, None]


def open_workspace(path_or_url: str | Path | None = None) -> Workspace:
    """The workspace at a SQLite path or database URL; None: $MIXDESIGN_WORKSPACE, else the default file
    (`mixdesign workspace path` prints it). Checked and migrated; close it (or use `with`). Its query methods:
    designs(), get_design(name), imported(), measurements(...), training_runs(...), sweeps(), trials(id),
    history(...) (designer.api.history)."""
    from designer.workspace import Workspace

    return Workspace.open(path_or_url)


@contextmanager
def opened(target: WorkspaceTarget) -> Iterator[Workspace]:
    """An open Workspace given as one stays open; one opened here is closed after the block."""
    from designer.workspace import Workspace

    if isinstance(target, Workspace):
        yield target
        return
    with open_workspace(None if target is True else target) as ws:  # type: ignore[arg-type]
        yield ws


def export_workspace(workspace: WorkspaceTarget, file: str | Path) -> Any:
    """Write the whole workspace to one new SQLite file a colleague can open; returns the report (summary())."""
    from designer.workspace.transfer import export_workspace as write

    with opened(workspace) as ws:
        return write(ws, file)


def import_workspace(workspace: WorkspaceTarget, file: str | Path) -> Any:
    """Merge an exported workspace file into `workspace` (rows already there are skipped); returns the report."""
    from designer.workspace.transfer import import_workspace as merge

    with opened(workspace) as ws:
        return merge(ws, file)
