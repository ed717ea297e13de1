"""`mixdesign workspace list|show|export|import|path`: what the workspace holds, and moving it as one file.

The workspace is designer/workspace (SQLAlchemy; imported only when a command runs), opened through
designer.api. Which one: `--workspace PATH|URL`, else $MIXDESIGN_WORKSPACE, else the default file in the user's
data directory. `mixdesign history` is designer/cli/history.py; the --workspace option, designer/cli/record.py.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from designer.cli.record import add_workspace_argument, workspace_of
from designer.commands import guarded


def _open(args: argparse.Namespace):
    from designer.api import open_workspace

    return open_workspace(getattr(args, "workspace", None))


# ------------------------------------------------------------------ workspace ...


def when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t is not None else "-"


def table(head: tuple[str, ...], rows: list[tuple], right: set[int]) -> None:
    """designer.cli.main's table, every cell as text."""
    from designer.cli.main import _print_table

    _print_table(head, [tuple(str(c) for c in r) for r in rows], right)


def _report(problems: list) -> None:
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)


def cmd_path(args: argparse.Namespace) -> int:
    from designer.workspace.engine import (
        chosen_by,
        describe,
        is_sqlite_file,
        resolve_url,
    )

    target = getattr(args, "workspace", None)
    url = resolve_url(target)
    print(describe(url))
    state = ("exists" if Path(url.database or "").exists() else "not created yet") if is_sqlite_file(url) else "server"
    print(f"(chosen by {chosen_by(target)}; {state})", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as ws:
        designs, imports = ws.designs(), ws.imported()
        counts = ws.counts()
        print(f"workspace {ws.location}")
        if designs.items:
            print()
            table(
                ("design", "from", "cfg sha256", "updated"),
                [
                    (d.name, d.row.derived_from or "-", d.row.cfg_sha256[:12], when(d.row.updated))
                    for d in designs.items
                ],
                set(),
            )
        if imports.items:
            print()
            table(
                ("imported", "kind", "file", "imported at"),
                [(i.name, i.row.kind, i.row.filename or "-", when(i.row.created)) for i in imports.items],
                set(),
            )
        print(
            f"\n{len(designs.items)} design(s), {len(imports.items)} import(s), {counts['measurements']} "
            f"measurement(s), {counts['training_runs']} training run(s), {counts['sweeps']} sweep(s)"
        )
        _report(designs.problems + imports.problems)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from designer.keys import layers_sha256
    from designer.workspace import WorkspaceError
    from designer.workspace.store import emitted_cfg

    with _open(args) as ws:
        d = ws.get_design(args.name)
        if d is not None:
            print(
                f"# design {d.name!r} (cfg sha256 {d.row.cfg_sha256}; from {d.row.derived_from or '-'}; "
                f"created {when(d.row.created)}, updated {when(d.row.updated)})"
            )
            sys.stdout.write(d.row.design_yaml)
            sha, text = d.row.cfg_sha256, emitted_cfg(d.arch)
        else:
            imp = next((i for i in ws.imported().items if i.name == args.name), None)
            if imp is None:
                raise WorkspaceError(
                    f"no saved design or import named {args.name!r} (see `mixdesign workspace list`)", file=ws.location
                )
            print(f"# imported {imp.name!r} ({imp.row.kind}, cfg sha256 {imp.row.cfg_sha256})")
            sys.stdout.write(imp.row.text)
            sha, text = imp.row.cfg_sha256, emitted_cfg(imp.design)
        layers = {m.id for m in ws.measurements(layers_sha256=layers_sha256(text))}
        n = len({m.id for m in ws.measurements(cfg_sha256=sha)} | layers)
        runs = len([r for r in ws.training_runs() if r.cfg_sha256 == sha or r.design_name == args.name])
        print(
            f"# {n} measurement(s) of this cfg, {runs} training run(s): mixdesign history {args.name}", file=sys.stderr
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from designer.api import export_workspace

    report = export_workspace(workspace_of(args), args.file)
    print(f"wrote {args.file}: {report.summary()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from designer.api import import_workspace

    with _open(args) as ws:
        report = import_workspace(ws, args.file)
        print(f"imported {args.file} into {ws.location}: {report.summary()}")
    return 0


# ------------------------------------------------------------------ registration


def register(subparsers) -> None:
    """Add `workspace` to mixdesign's sub-commands (called by designer/cli/main.py)."""
    w = subparsers.add_parser(
        "workspace", help="the saved designs, measurements and training runs (list, show, export, import, path)"
    )
    sub = w.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser("list", help="saved designs and imports, and how many measurements and runs")
    add_workspace_argument(s)
    s.set_defaults(func=guarded("workspace list", cmd_list))
    s = sub.add_parser("show", help="a saved design's YAML (or an import's text)")
    s.add_argument("name")
    add_workspace_argument(s)
    s.set_defaults(func=guarded("workspace show", cmd_show))
    s = sub.add_parser("export", help="write the whole workspace to one SQLite file a colleague can open")
    s.add_argument("file", metavar="FILE.sqlite")
    add_workspace_argument(s)
    s.set_defaults(func=guarded("workspace export", cmd_export))
    s = sub.add_parser("import", help="merge an exported workspace file into this one (duplicates skipped)")
    s.add_argument("file", metavar="FILE.sqlite")
    add_workspace_argument(s)
    s.set_defaults(func=guarded("workspace import", cmd_import))
    s = sub.add_parser("path", help="where the workspace is (and how it was chosen)")
    add_workspace_argument(s)
    s.set_defaults(func=guarded("workspace path", cmd_path))
