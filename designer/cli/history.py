"""`mixdesign history [DESIGN]`: recorded latency measurements side by side (the query is designer.api.history;
this module formats it)."""

from __future__ import annotations

import argparse

from designer.cli.record import add_workspace_argument
from designer.cli.workspace import table, when
from designer.commands import guarded

UNSTABLE_FIX = (
    "unstable: the spread or the load around that figure says it may be off; measure it again when "
    "fewer cores are busy (see the load columns), or with a longer --min-run-time"
)


def cmd_history(args: argparse.Namespace) -> int:
    from designer.api import history, open_workspace

    with open_workspace(args.workspace) as ws:
        found = history(
            ws, design=args.design, device=args.device, backend=args.backend, machine=args.machine, limit=args.limit
        )
        rows, key, this = found.rows, found.machine, found.this_machine
        where = "" if key is None else f" on machine {key}{' (this one)' if key == this else ''}"
        if not rows:
            print(f"no measurements{' of ' + args.design if args.design else ''}{where} in {ws.location}")
            return 0
        table(
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
                    when(m.measured_at),
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


def register(subparsers) -> None:
    """Add `history` to mixdesign's sub-commands (called by designer/cli/main.py)."""
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
    h.set_defaults(func=guarded("history", cmd_history))
