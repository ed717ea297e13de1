"""Every `mixdesign ...` command shown in README.md and in the documentation pages (docs/*.md) runs as shown, so
neither can drift.

Each `$ mixdesign ...` line of a code block runs in one temporary folder per file, in the file's order (a later
command may read what an earlier one wrote). The command is run exactly as shown, except for:

- SUBSTITUTIONS below (the only edits; each says why), and
- PLACEHOLDERS: files the README names as stand-ins for the reader's own (net.cfg, cat.jpg, ...), made here.

Torch runs with one thread here (tests/conftest.py `one_torch_thread`), as in every test.
Expected: exit 2 when the README shows `mixdesign CMD: error:` after the command, else 0. Where the output is
not a measurement (bench, train and predict print timings and accuracies), every output line shown (spaces
collapsed, lines with "..." left out) must appear in what the command prints.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED

README = REPO / "README.md"
DOCUMENTS = [README, *sorted((REPO / "docs").glob("*.md"))]
SUBSTITUTIONS = [  # (as shown in the README, as run here, why)
    ("../shared/", f"{SHARED}/", "the README runs from the checkout; the test runs in a temporary folder"),
    ("--per-layer --top 3", "--per-layer --top 3 --min-run-time 0.05", "shorter timing runs (same output form)"),
]
MEASURED = ("bench", "train", "predict", "calibrate", "estimate")
CLASSIFIER = (
    "[net]\nwidth=12\nheight=10\nchannels=3\n\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n\n"
    "[avgpool]\n\n[softmax]\n"
)
BAD_CFG = (
    "[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=8\nsize=3\nstride=1\nactivation=leaky # relu?\n"
)


def readme_commands(text: str | None = None) -> list[tuple[int, str, list[str]]]:
    """(line number, command as shown, output lines shown after it) for each `$ mixdesign` line in a code block."""
    lines = (text if text is not None else README.read_text()).splitlines()
    out: list[tuple[int, str, list[str]]] = []
    in_block = False
    current: tuple[int, str, list[str]] | None = None
    for i, line in enumerate(lines, start=1):
        if line.startswith("```"):
            in_block = not in_block
            current = None
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            current = None
            if line.startswith("$ mixdesign"):
                command = re.sub(r"\s+#.*$", "", line[2:]).strip()
                current = (i, command, [])
                out.append(current)
        elif current is not None:
            current[2].append(line)
    return out


def _placeholders(folder: Path) -> None:
    torch = pytest.importorskip("torch")
    from PIL import Image

    import designer
    from runtime import build_model, save_weights

    (folder / "net.cfg").write_text(CLASSIFIER)
    torch.manual_seed(0)
    save_weights(build_model(designer.parse_cfg(folder / "net.cfg")), folder / "net.weights")
    Image.new("RGB", (40, 30), (200, 120, 40)).save(folder / "cat.jpg")
    (folder / "labels.txt").write_text("cat\ndog\nbird\nfish\n")
    (folder / "bad.cfg").write_text(BAD_CFG)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_readme_and_docs_show_commands():
    commands = [c for doc in DOCUMENTS for _, c, _ in readme_commands(doc.read_text())]
    assert len(commands) >= 30 and any(c.startswith("mixdesign train") for c in commands)
    assert any(c.startswith("mixdesign bench") for _, c, _ in readme_commands())


@pytest.mark.slow  # minutes on a quiet 2-core machine, all files together: short trainings, benches, a bundle
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_commands_run_as_shown(document, tmp_path, monkeypatch, capsys, one_torch_thread):
    if not SHARED.exists():
        pytest.skip(f"reference data {SHARED} is absent")
    from designer.cli import main

    _placeholders(tmp_path)
    monkeypatch.chdir(tmp_path)
    where = document.relative_to(REPO)
    for lineno, shown, output in readme_commands(document.read_text()):
        command = shown
        for before, after, _ in SUBSTITUTIONS:
            command = command.replace(before, after)
        argv = shlex.split(command)[1:]
        code = main(argv)
        out, err = capsys.readouterr()
        want = 2 if any(re.match(rf"mixdesign {argv[0]}: error:", ln) for ln in output) else 0
        assert code == want, f"{where} line {lineno}: `{shown}` exited {code}:\n{err[-2000:]}"
        if argv[0] in MEASURED:
            continue
        printed = _norm(out + "\n" + err)
        for ln in output:
            if ln.strip() and "..." not in ln:
                assert _norm(ln) in printed, f"{where} line {lineno}: `{shown}` no longer prints:\n{ln}"
