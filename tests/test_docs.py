"""The documentation site builds with `mkdocs build --strict` (no broken link or anchor, no page outside the nav),
and its CLI reference, generated from the parsers at build time (mkdocs_hooks.py, designer/cli/reference.py),
names every command and every option `mixdesign` accepts, with each option's default."""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", **_env()},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    return out


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


def _text(path) -> str:
    """The page's text with tags removed and entities decoded (what a reader sees)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_site_builds_strict(site):
    assert (site / "index.html").is_file() and (site / "cli" / "index.html").is_file()


def test_cli_reference_lists_every_command_option_and_default(site):
    from designer.cli import build_parser
    from designer.cli.reference import commands

    raw = (site / "cli" / "index.html").read_text()
    page = _text(site / "cli" / "index.html")
    rows = [html.unescape(re.sub(r"<[^>]+>", " ", r)) for r in raw.split("<tr>")[1:]]
    missing = []
    for name, parser in commands(build_parser()):
        if f"mixdesign {name}" not in page:
            missing.append(f"command {name}")
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            spellings = action.option_strings or [action.metavar or action.dest]
            for spelling in spellings:  # in a row of the options table, not only in the usage line
                if not any(re.search(rf"(^|\s){re.escape(spelling)}(\s|,|$)", r) for r in rows):
                    missing.append(f"{name} {spelling}")
            if action.option_strings and action.default not in (None, False, True, argparse.SUPPRESS):
                shown = (
                    ",".join(map(str, action.default))
                    if isinstance(action.default, (list, tuple))
                    else str(action.default)
                )
                if not any(
                    re.search(rf"{re.escape(action.option_strings[-1])}\b.*\b{re.escape(shown)}\b", r, re.S)
                    for r in rows
                ):
                    missing.append(f"{name} {action.option_strings[-1]} default {action.default!r}")
    assert not missing, missing


def test_every_page_is_in_the_nav():
    import yaml

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!!python", "#"))["nav"]
    listed = {next(iter(item.values())) for item in nav}
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert pages == listed
