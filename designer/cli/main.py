"""`mixdesign`: the designer without the app.

Core commands live here (presets, export, stats, lint); the runtime's (bench, predict) and the trainer's
(train, bundle) register themselves from runtime/ without importing torch until they run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from designer.api import export_cfg
from designer.api.sources import SourceError
from designer.cfg import lint
from designer.commands import run_command
from designer.cost import Cost, count
from designer.describe import detail
from designer.design_io import dump_yaml, load_preset, preset_names
from designer.embedded import embedded_design
from designer.files import write_text
from designer.ir import Network
from designer.lower import lower
from designer.options import (
    SOURCE_HELP,
    SOURCE_METAVAR,
    Parser,
    add_out,
    add_overrides,
    add_source,
    network_of,
    overrides,
)

TORCH_FREE = (
    "presets",
    "export",
    "stats",
    "lint",
    "estimate",
)  # commands that never load torch (no OpenMP choice to make)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def network_from_args(args: argparse.Namespace) -> Network:
    return network_of(args.source, **overrides(args))


# ------------------------------------------------------------------ presets


def cmd_presets(args: argparse.Namespace) -> int:
    rows = []
    for name in preset_names():
        arch = load_preset(name)
        c = count(lower(arch, with_design=False))
        rows.append((name, _fmt_int(c.params), _fmt_int(c.fma), f"{c.bflops:.3f}", str(arch.input_size)))
    head = ("preset", "params", "FMA (multiply-adds)", "darknet BFLOPs", "input")
    _print_table(head, rows)
    return 0


def _print_table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int] | None = None) -> None:
    right = right if right is not None else set(range(1, len(head)))
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(r):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


# ------------------------------------------------------------------ export


def cmd_export(args: argparse.Namespace) -> int:
    network = network_of(args.source, **overrides(args))  # notes on stderr where scaling rounded
    text = export_cfg(network)
    arch = None
    if args.yaml:
        arch = embedded_design(network).arch
        if arch is None:
            raise SourceError(
                f"{args.source}: --yaml needs a design (a preset, a design .yaml or a cfg exported "
                "by mixdesign); this cfg has none"
            )
    if args.out == "-":
        sys.stdout.write(text)
    else:
        write_text(args.out, text)
        c = count(network)
        print(
            f"wrote {args.out}: {len(text.splitlines())} lines, params {_fmt_int(c.params)}, "
            f"FMA {_fmt_int(c.fma)}, darknet BFLOPs {c.bflops:.3f}"
        )
    if arch is not None:
        write_text(args.yaml, dump_yaml(arch))
    return 0


# ------------------------------------------------------------------ stats


def print_stats(network: Network, cost: Cost, with_layers: bool, title: str) -> None:
    c, h, w = network.input_shape
    print(f"{title}: input {w}x{h}x{c}, {len(network.layers)} darknet layers")
    if with_layers:
        rows = []
        for L, lc in zip(network.layers, cost.layers):
            s = lc.shape
            inp = f"{s.in_w}x{s.in_h}x{s.in_c}"
            if L.type == "route":  # a route reads its sources, not the previous layer
                src = [cost.layers[j].shape for j in s.sources]
                inp = f"{src[0].w}x{src[0].h}x{'+'.join(str(x.c) for x in src)}"
            rows.append(
                (
                    str(lc.index),
                    L.type,
                    detail(L, lc.index),
                    inp,
                    f"{s.w}x{s.h}x{s.c}",
                    _fmt_int(lc.params),
                    _fmt_int(lc.fma),
                    f"{lc.bflops:.3f}",
                )
            )
        _print_table(
            ("#", "type", "", "input WxHxC", "output WxHxC", "params", "FMA", "BFLOPs"), rows, right={0, 3, 4, 5, 6, 7}
        )
        print()
    print(f"params (trainable)       {cost.params:>16,}")
    print(f"params stored (.weights) {cost.params_stored:>16,}   ({4 * cost.params_stored + 20:,} bytes)")
    print(f"FMA (multiply-adds)      {cost.fma:>16,}   ({cost.fma / 1e9:.3f} G)")
    print(f"FLOPs = 2 x FMA          {cost.flops:>16,}")
    print(f"darknet BFLOPs           {cost.bflops:>16.3f}   (what darknet prints as Total BFLOPS)")


def cmd_stats(args: argparse.Namespace) -> int:
    network = network_from_args(args)
    cost = count(network)
    if args.json:
        print(json.dumps(cost.to_json(with_layers=True)))
    else:
        print_stats(network, cost, args.layers, args.source)
    return 0


# ------------------------------------------------------------------ lint


def cmd_lint(args: argparse.Namespace) -> int:
    if args.cfg.endswith(".cfg"):
        if not Path(args.cfg).is_file():
            raise SourceError(f"{args.cfg}: no such file")
        diags = lint(Path(args.cfg))
    else:  # a preset or design YAML: lint the cfg it lowers to (what `export` would write)
        diags = lint(export_cfg(network_of(args.cfg)))
    for d in diags:
        print(f"{args.cfg}:{d}" if d.line else f"{args.cfg}: {d.severity}: {d.message}")
    errors = sum(d.severity == "error" for d in diags)
    warnings = sum(d.severity == "warning" for d in diags)
    print(
        f"{errors} error(s), {warnings} warning(s)"
        if diags
        else f"{args.cfg}: clean (both darknets read it as written)"
    )
    return 1 if errors else 0


# ------------------------------------------------------------------ main


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mixnet-designer")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="mixdesign", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("presets", help="list the built-in designs with their params and FMA")
    s.set_defaults(func=cmd_presets)

    s = sub.add_parser("export", help="write the Darknet cfg of a preset, design or cfg (with overrides)")
    add_source(s)
    add_out(s, required=True, help="cfg path ('-' for stdout)")
    s.add_argument("--yaml", metavar="PATH", help="also write the (overridden) design YAML")
    add_overrides(s)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("stats", help="params, FMA and darknet BFLOPs of a cfg, design or preset")
    add_source(s)
    s.add_argument("--json", action="store_true", help="one JSON object")
    s.add_argument("--layers", action="store_true", help="per-layer table")
    add_overrides(s)
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("lint", help="what darknet would silently mis-read, and what hank-ai would reject")
    s.add_argument("cfg", metavar=SOURCE_METAVAR, help=SOURCE_HELP + " (a preset or design: the cfg it exports)")
    s.set_defaults(func=cmd_lint)

    for module in (
        "designer.cli.bench",
        "designer.cli.onnx",
        "designer.cli.sweep",
        "designer.cli.train",
        "designer.cli.workspace",
        "designer.cli.history",
        "designer.cli.latency",
    ):
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError as e:
            if e.name not in (module, "runtime"):
                raise
            continue
        mod.register(sub)
    return p


def _run(args: argparse.Namespace) -> int:
    from designer.options import check_run_options

    check_run_options(args)  # --threads and --device of every command, one line each
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in TORCH_FREE:
        from designer.threads import configure

        configure()  # OpenMP waiting, before the subcommand imports torch (designer/threads.py)
    try:
        return run_command(f"mixdesign {args.command}", lambda: _run(args))
    except BrokenPipeError:  # `mixdesign stats x --layers | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
