"""`mixdesign workspace list|show|export|import|path` and `mixdesign history [DESIGN]`, and the hooks with which
`bench` and `train` record into the workspace (`record_measurement`, `record_training`, `--no-record`).

The workspace is designer/workspace (SQLAlchemy; imported only when a command runs). Which one: `--workspace
PATH|URL`, else $MIXDESIGN_WORKSPACE, else the default file in the user's data directory.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from designer.cli.errors import run_command
from designer.errors import MixdesignError

WS_HELP = (
    "workspace: an SQLite file or a database URL such as postgresql+psycopg://user@host/db "
    "(default: $MIXDESIGN_WORKSPACE, else the file `mixdesign workspace path` prints)"
)


def add_workspace_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", metavar="PATH|URL", help=WS_HELP)


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    """`--workspace` and `--no-record` for a command that records its results (bench, train)."""
    g = p.add_argument_group("workspace")
    g.add_argument("--workspace", metavar="PATH|URL", help=WS_HELP)
    g.add_argument("--no-record", action="store_true", help="do not record the result in the workspace")


def _open(args: argparse.Namespace):
    from designer.workspace import Workspace

    return Workspace.open(getattr(args, "workspace", None))


def design_label(source: str) -> str:
    """The name a source is filed under: a file's stem, or the preset name."""
    return Path(source).stem if source.endswith((".cfg", ".yaml", ".yml")) else source


def _note(command: str, text: str) -> None:
    print(f"mixdesign {command}: {text}", file=sys.stderr)


# ------------------------------------------------------------------ recording (bench, train)


def record_measurement(args: argparse.Namespace, network: Any, results: Any) -> None:
    """Record bench results (one BenchResult or a list) under the cfg's hash; a workspace problem is a note on
    stderr, never a failed measurement."""
    if getattr(args, "no_record", False):
        return
    from designer import count, emit_cfg

    results = results if isinstance(results, (list, tuple)) else [results]
    try:
        text = emit_cfg(network)
        params = results[0].params if getattr(results[0], "params", None) is not None else count(network).params
        with _open(args) as ws:
            for r in results:
                ws.add_bench_result(
                    {**r.to_json(), "params": params},
                    design_name=design_label(args.source),
                    cfg_text=text,
                    source="cli",
                    backend=getattr(args, "backend", None),
                    settings={"compile": bool(getattr(args, "compile", False))},
                )
            _note("bench", f"recorded {len(results)} measurement(s) in {ws.location}")
    except MixdesignError as e:
        _note("bench", f"not recorded in the workspace: {e}")


def record_training(args: argparse.Namespace, label: str, result: Any) -> None:
    """Record one finished or stopped training run (settings, per-epoch metrics, where its files are)."""
    if getattr(args, "no_record", False):
        return
    try:
        from designer.workspace import cfg_sha256

        cfg = Path(result.cfg_path)
        elapsed = float(result.history[-1].get("elapsed_s", 0.0)) if result.history else 0.0
        from datetime import timedelta, timezone

        finished = datetime.now(timezone.utc)
        settings = {
            k: getattr(args, k)
            for k in (
                "data",
                "size",
                "epochs",
                "batch",
                "lr",
                "weight_decay",
                "seed",
                "val_fraction",
                "threads",
                "width_mult",
                "depth_mult",
            )
            if hasattr(args, k)
        }
        with _open(args) as ws:
            ws.add_training_run(
                design_name=label,
                cfg_sha256=cfg_sha256(cfg.read_text()) if cfg.is_file() else None,
                device=str(getattr(args, "device", "cpu")),
                settings=settings,
                metrics=list(result.history),
                best_top1=result.best_top1,
                best_epoch=result.best_epoch,
                artifact_dir=str(result.out_dir),
                status="stopped" if (result.stopped or result.interrupted) else "finished",
                started=finished - timedelta(seconds=elapsed),
                finished=finished,
                source="cli",
            )
            _note("train", f"recorded the run of {label} in {ws.location}")
    except (MixdesignError, OSError) as e:
        _note("train", f"not recorded in the workspace: {e}")


# ------------------------------------------------------------------ workspace ...


def _when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t is not None else "-"


def _table(head: tuple[str, ...], rows: list[tuple], right: set[int]) -> None:
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
    state = ("exists" if Path(url.database).exists() else "not created yet") if is_sqlite_file(url) else "server"
    print(f"(chosen by {chosen_by(target)}; {state})", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as ws:
        designs, imports = ws.designs(), ws.imported()
        counts = ws.counts()
        print(f"workspace {ws.location}")
        if designs.items:
            print()
            _table(
                ("design", "from", "cfg sha256", "updated"),
                [
                    (d.name, d.row.derived_from or "-", d.row.cfg_sha256[:12], _when(d.row.updated))
                    for d in designs.items
                ],
                set(),
            )
        if imports.items:
            print()
            _table(
                ("imported", "kind", "file", "imported at"),
                [(i.name, i.row.kind, i.row.filename or "-", _when(i.row.created)) for i in imports.items],
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
                f"created {_when(d.row.created)}, updated {_when(d.row.updated)})"
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
    from designer.workspace.transfer import export_workspace

    with _open(args) as ws:
        report = export_workspace(ws, args.file)
        print(f"wrote {args.file}: {report.summary()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from designer.workspace.transfer import import_workspace

    with _open(args) as ws:
        report = import_workspace(ws, args.file)
        print(f"imported {args.file} into {ws.location}: {report.summary()}")
    return 0


# ------------------------------------------------------------------ history

UNSTABLE_FIX = (
    "unstable: the spread or the load around that figure says it may be off; measure it again when "
    "fewer cores are busy (see the load columns), or with a longer --min-run-time"
)


def _source_text(text: str) -> str | None:
    """The emitted cfg of DESIGN when it names a preset, a design YAML or a cfg; None otherwise."""
    try:
        from designer import emit_cfg
        from designer.cli.sources import load_source, to_network

        return emit_cfg(to_network(load_source(text)))
    except (MixdesignError, OSError):
        return None


def _machines(choice: str, device: str | None) -> tuple[str | None, str]:
    """(machine key or key prefix to filter on, None for every machine; this machine's key for `device`)."""
    from designer.machine import fingerprint
    from designer.workspace import WorkspaceError

    this = fingerprint(device or "cpu").key
    if choice == "all":
        return None, this
    if choice == "this":
        return this, this
    if not re.fullmatch(r"[0-9a-f]{4,16}", choice):
        raise WorkspaceError(
            f"--machine {choice}: use this, all, or a machine key (4 to 16 hex digits, as the machine column shows it)"
        )
    return choice, this


def cmd_history(args: argparse.Namespace) -> int:
    from designer.keys import cfg_sha256, layers_sha256

    with _open(args) as ws:
        key, this = _machines(args.machine, args.device)
        exact = key if key is not None and len(key) == 16 else None
        rows = ws.measurements(
            device=args.device,
            backend=args.backend,
            machine_key=exact,
            limit=None if args.design or (key and not exact) else args.limit,
        )
        if key is not None and exact is None:
            rows = [m for m in rows if (m.machine_key or "").startswith(key)][: args.limit]
        if args.design:
            text = _source_text(args.design)
            saved = ws.get_design(args.design) if text is None else None
            if saved is not None:
                from designer.workspace.store import emitted_cfg

                text = emitted_cfg(saved.arch)
            shas = {cfg_sha256(text)} if text else set()
            layers = {layers_sha256(text)} if text else set()
            names = {args.design, design_label(args.design)}
            rows = [m for m in rows if m.design_name in names or m.cfg_sha256 in shas or m.layers_sha256 in layers][
                : args.limit
            ]
        where = "" if key is None else f" on machine {key}{' (this one)' if key == this else ''}"
        if not rows:
            print(f"no measurements{' of ' + args.design if args.design else ''}{where} in {ws.location}")
            return 0
        _table(
            (
                "design",
                "machine",
                "device",
                "backend",
                "dtype",
                "batch",
                "threads",
                "median ms",
                "IQR ms",
                "runs",
                "GFMA/s",
                "when",
                "source",
                "cfg",
                "note",
            ),
            [
                (
                    m.design_name,
                    _machine_cell(m.machine_key, this),
                    f"{m.device} ({m.device_name})" if m.device_name else m.device,
                    m.backend,
                    m.dtype,
                    m.batch,
                    m.threads if m.threads is not None else "-",
                    f"{m.median_ms:.3f}",
                    f"{m.iqr_ms:.3f}",
                    m.runs if m.runs is not None else "-",
                    f"{m.fma_per_s / 1e9:.2f}" if m.fma_per_s else "-",
                    _when(m.measured_at),
                    m.source,
                    m.cfg_sha256[:8],
                    f"unstable: {m.unstable}"[:70] if m.unstable else "",
                )
                for m in rows
            ],
            {5, 6, 7, 8, 9, 10},
        )
        print(
            f"\nmedian and IQR in ms per batch over `runs` timed runs; GFMA/s = 10^9 multiply-adds per second; "
            f"times are local; machine = fingerprint key (this = this machine); {len(rows)} row(s){where} from "
            f"{ws.location}"
        )
        if any(m.unstable for m in rows):
            print(UNSTABLE_FIX)
    return 0


def _machine_cell(key: str | None, this: str) -> str:
    if key is None:
        return "-"
    return f"{key[:8]} (this)" if key == this else key[:8]


# ------------------------------------------------------------------ registration


def _guard(command: str, func):
    """The handler with its full command name in its one-line errors (designer/cli/errors.py)."""
    return lambda args: run_command(f"mixdesign {command}", lambda: func(args))


def register(subparsers) -> None:
    """Add `workspace` and `history` to mixdesign's sub-commands (called by designer/cli/main.py)."""
    w = subparsers.add_parser(
        "workspace", help="the saved designs, measurements and training runs (list, show, export, import, path)"
    )
    sub = w.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser("list", help="saved designs and imports, and how many measurements and runs")
    add_workspace_argument(s)
    s.set_defaults(func=_guard("workspace list", cmd_list))
    s = sub.add_parser("show", help="a saved design's YAML (or an import's text)")
    s.add_argument("name")
    add_workspace_argument(s)
    s.set_defaults(func=_guard("workspace show", cmd_show))
    s = sub.add_parser("export", help="write the whole workspace to one SQLite file a colleague can open")
    s.add_argument("file", metavar="FILE.sqlite")
    add_workspace_argument(s)
    s.set_defaults(func=_guard("workspace export", cmd_export))
    s = sub.add_parser("import", help="merge an exported workspace file into this one (duplicates skipped)")
    s.add_argument("file", metavar="FILE.sqlite")
    add_workspace_argument(s)
    s.set_defaults(func=_guard("workspace import", cmd_import))
    s = sub.add_parser("path", help="where the workspace is (and how it was chosen)")
    add_workspace_argument(s)
    s.set_defaults(func=_guard("workspace path", cmd_path))

    h = subparsers.add_parser("history", help="recorded latency measurements side by side (app and CLI)")
    h.add_argument(
        "design",
        nargs="?",
        metavar="DESIGN",
        help="a design name, a preset, a design .yaml or a cfg (matched by name and by cfg hash)",
    )
    h.add_argument("--device", help="only this device (cpu, cuda)")
    h.add_argument("--backend", help="only this backend (torch, ...)")
    h.add_argument(
        "--machine",
        default="all",
        metavar="this|KEY|all",
        help="only measurements taken on this machine (for --device, default cpu), on the machine with "
        "this fingerprint KEY, or all (default; the machine column tells them apart)",
    )
    h.add_argument("--limit", type=int, default=50, help="newest N rows (default 50)")
    add_workspace_argument(h)
    h.set_defaults(func=_guard("history", cmd_history))
