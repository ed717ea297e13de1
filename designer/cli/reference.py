"""The CLI reference as Markdown, rendered from the argparse parsers themselves (docs/cli.md is filled in from
here when the documentation is built: mkdocs_hooks.py), so every command, option and default in the
documentation is the one `mixdesign` accepts.

    reference_markdown()   every command (nested ones such as `workspace list` included), in parser order
    commands(parser)       (name, parser) for every leaf command, for tests that walk the same tree
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from designer.cli.main import build_parser


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(full command name, its parser) for every command that runs something, depth first in declared order."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for action in subs:
        for name, child in action.choices.items():
            yield from commands(child, f"{prefix} {name}".strip())


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions a user can give, as `--help` lists them (help-suppressed aliases and -h left out)."""
    return [
        a
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
    ]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(action: argparse.Action) -> str:
    if not action.option_strings or action.default in (None, argparse.SUPPRESS):
        return ""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return ""  # a flag: off unless given
    default = action.default
    if isinstance(default, (list, tuple)):  # a parsed comma list (--batch 1,8): shown as it is typed
        default = ",".join(map(str, default))
    return f"`{default}`"


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        if action.choices is not None and action.metavar is None:
            metavar = " {" + ",".join(map(str, action.choices)) + "}"
        else:
            metavar = f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{s}{metavar}`" for s in action.option_strings)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as `--help` prints it (%(default)s expanded), less the '(default: ...)' our formatter
    appends: the table has its own default column."""
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "prog": parser.prog}
    return _cell(text)


def _command(name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
    lines = [f"## `mixdesign {name}`", "", summary, "", "```", usage, "```", ""]
    if parser.description:
        lines += [parser.description, ""]
    rows = options(parser)
    if rows:
        lines += ["| argument | default | meaning |", "|---|---|---|"]
        lines += [f"| {_spelling(a)} | {_default(a)} | {_help(parser, a)} |" for a in rows]
        lines.append("")
    return lines


def _summaries(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Each command's one-line help, as `mixdesign --help` lists it."""
    out: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
            for name, child in action.choices.items():
                full = f"{prefix} {name}".strip()
                out[full] = helps.get(name, "")
                out.update(_summaries(child, full))
    return out


def reference_markdown() -> str:
    """The whole reference: the top-level options, then one section per command."""
    parser = build_parser()
    summaries = _summaries(parser)
    lines = ["| command | what it does |", "|---|---|"]
    lines += [
        f"| [`{name}`](#mixdesign-{name.replace(' ', '-')}) | {_cell(summaries.get(name, ''))} |"
        for name, _ in commands(parser)
    ]
    top = [a for a in options(parser) if a.option_strings]
    lines += [
        "",
        "Besides the commands, `mixdesign` itself takes "
        + ", ".join(f"`{a.option_strings[-1]}` ({_cell(a.help or '')})" for a in top)
        + ".",
        "",
    ]
    for name, sub in commands(parser):
        lines += _command(name, sub, _cell(summaries.get(name, "")))
    return "\n".join(lines)
