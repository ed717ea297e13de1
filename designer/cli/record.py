"""The workspace options of the commands that read or record into it (`--workspace`, `--no-record`), and the
one line each says about where its results went. Recording itself is designer.api.record."""

from __future__ import annotations

import argparse
import sys
from typing import Any

WS_HELP = (
    "workspace: an SQLite file or a database URL such as postgresql+psycopg://user@host/db "
    "(default: $MIXDESIGN_WORKSPACE, else the file `mixdesign workspace path` prints)"
)


def add_workspace_argument(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--workspace", metavar="PATH|URL", help=WS_HELP)


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    """`--workspace` and `--no-record` for a command that records its results (bench, train)."""
    g = p.add_argument_group("workspace")
    add_workspace_argument(g)
    g.add_argument("--no-record", action="store_true", help="do not record the result in the workspace")


def workspace_of(args: argparse.Namespace) -> Any:
    """The workspace --workspace names, or True for the default one (designer.api.WorkspaceTarget)."""
    return getattr(args, "workspace", None) or True


def record_target(args: argparse.Namespace) -> Any:
    """Where a command records: None with --no-record, else `workspace_of(args)`."""
    return None if getattr(args, "no_record", False) else workspace_of(args)


def note_recorded(command: str, location: str | None, problem: str | None, what: str) -> None:
    """The stderr line after recording: where `what` was recorded, or why not (never a failed command)."""
    if location is not None:
        print(f"mixdesign {command}: recorded {what} in {location}", file=sys.stderr)
    elif problem is not None:
        print(f"mixdesign {command}: not recorded in the workspace: {problem}", file=sys.stderr)
