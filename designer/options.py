"""The options every `mixdesign` subcommand shares, declared once so they read the same everywhere.

add_source(p)      the SOURCE positional: a preset name, a design .yaml or a Darknet .cfg
add_overrides(p)   --width-mult --depth-mult --size --classes --dw-group-size (designer.limits ranges)
overrides(args)    the override values as keyword arguments for designer.api.load
load_noting(source, **overrides)   designer.api.load with its notes printed on stderr (network_of: its network)
add_out(p, ...)    -o/--out (the old spelling --output stays accepted, hidden)
add_device(p)      --device cpu | cuda | cuda:N
add_threads(p)     --threads, with the default designer.threads chooses
check_run_options(args)   --threads and --device checked (designer.limits, designer.machine) before any work
HelpFormatter      shows each option's default where its help does not already state it
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from designer.errors import MixdesignError

if TYPE_CHECKING:
    from designer.api.sources import Loaded
    from designer.ir import Network

SOURCE_METAVAR = "SOURCE"
SOURCE_HELP = "a preset name (see `mixdesign presets`), a design .yaml, or a Darknet .cfg"


class OptionError(MixdesignError):
    """A run setting (--threads, --device) outside what it can be."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults formatter, minus '(default: None/False)' and help texts that already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows defaults (used for mixdesign and each of its subcommands)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar=SOURCE_METAVAR, help=SOURCE_HELP)


def add_overrides(
    p: argparse.ArgumentParser,
    *,
    size_default: int | None = None,
    size_help: str | None = None,
    classes_help: str | None = None,
) -> None:
    """The five design overrides (a preset or design YAML, or a cfg exported by mixdesign; a plain cfg takes
    only --size). Values are checked against designer.limits where they enter (sources.check_overrides)."""
    g = p.add_argument_group("design overrides (presets, design YAML, cfgs exported by mixdesign)")
    g.add_argument(
        "--width-mult",
        type=float,
        help="width multiplier, 0.1-4 (TF round_filters to multiples of 8; expanded channels rounded "
        "to split into the kernel groups, with a note) (default: the design's)",
    )
    g.add_argument(
        "--depth-mult", type=float, help="depth multiplier, 0.1-4 (TF round_repeats: ceil) (default: the design's)"
    )
    g.add_argument(
        "--size",
        type=int,
        default=size_default,
        help=size_help
        or "input width and height, 8-4096 and at least the total stride (default: the design's or the cfg's)",
    )
    g.add_argument("--classes", type=int, help=classes_help or "classes the classifier outputs (default: the design's)")
    g.add_argument(
        "--dw-group-size",
        type=int,
        metavar="N",
        help="GPU variant: N channels per group in the MixConv convs instead of depthwise; rows where N "
        "does not divide take the nearest divisor, with a note (default: depthwise)",
    )


def overrides(args: argparse.Namespace, *, with_classes: bool = True) -> dict:
    out = dict(width_mult=args.width_mult, depth_mult=args.depth_mult, size=args.size, dw_group_size=args.dw_group_size)
    if with_classes:
        out["classes"] = args.classes
    return out


def load_noting(source: str, **overrides: Any) -> Loaded:
    """designer.api.load, with its notes (what lowering rounded) printed on stderr as `note: ...`: what every
    command that reads a SOURCE does."""
    from designer.api import load

    loaded = load(source, **overrides)
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    return loaded


def network_of(source: str, **overrides: Any) -> Network:
    """The network `load_noting` found."""
    return load_noting(source, **overrides).network


def add_out(
    p: argparse.ArgumentParser, *, help: str, required: bool = False, default: str | None = None, metavar: str = "PATH"
) -> None:
    """-o/--out PATH; `--output` is kept as a hidden alias of the same option."""
    p.add_argument("-o", "--out", dest="out", required=required, default=default, metavar=metavar, help=help)
    p.add_argument("--output", dest="out", help=argparse.SUPPRESS)


def add_device(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")


def add_threads(p: argparse.ArgumentParser, what: str = "torch intra-op threads") -> None:
    from designer.threads import describe_default

    p.add_argument("--threads", type=int, help=f"{what} (default: {describe_default()})")


def check_run_options(args: argparse.Namespace) -> None:
    """--threads inside designer.limits and --device one of cpu, cuda, cuda:N, for every command that has them:
    one line naming the limit and the fix, before anything is built."""
    from designer.limits import value_problem
    from designer.machine import Device

    threads = getattr(args, "threads", None)
    if threads is not None:
        problem = value_problem("threads", threads)
        if problem:
            raise OptionError(f"--threads: {problem}")
    if isinstance(getattr(args, "device", None), str):
        Device.parse(args.device)
