"""Session state: the current design, its undo/redo stacks, saved designs, and per-page bookkeeping.

The design is a frozen value (an `Arch`, or a `LayersDesign` for an imported cfg). Widgets never mutate it: their
callbacks build a new value with dataclasses.replace and hand it to `propose`, which validates it and either makes
it current (pushing the old one on the undo stack) or returns the issues and keeps the last valid design.
`rev` counts design changes; widgets that show design fields put it in their key, so they re-read the design after
an undo, a preset load or an import, while a rejected edit (rev unchanged) stays visible next to its message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from designer import Arch, DesignIssue, load_preset, preset_names, validate
from designer.webapp import persist
from designer.webapp.model import Design, LayersDesign, short_label

DEFAULT_PRESET = "mixnet-m"
MAX_UNDO = 100
_KEY = "_mixdesign"


@dataclass
class Workspace:
    design: Design
    undo: list[Design] = field(default_factory=list)
    redo: list[Design] = field(default_factory=list)
    rev: int = 0
    table_rev: int = 0
    table_rows: list[dict[str, Any]] | None = None  # rows of a rejected stage-table edit, shown until fixed
    table_issues: list[DesignIssue] = field(default_factory=list)
    setting_issues: list[DesignIssue] = field(default_factory=list)  # rejected global-setting edit
    notice: tuple[str, str] | None = None  # (kind, text) of the last action: "success", "info", "warning"
    saved: dict[str, Design] = field(default_factory=dict)
    imported: dict[str, Design] = field(default_factory=dict)
    bench_history: list[dict] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # page -> job id
    widgets: dict[str, Any] = field(default_factory=dict)  # last values of page settings (see remember)


def ws() -> Workspace:
    """This session's workspace (created with the default preset on first use)."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = Workspace(design=load_preset(DEFAULT_PRESET))
        problems = persist.stored()[2]  # saved designs that no longer load: say so once per session
        if problems:
            st.session_state[_KEY].notice = ("warning", "Skipped in the workspace: " + "; ".join(problems))
    return st.session_state[_KEY]


def design() -> Design:
    return ws().design


def previous() -> Design | None:
    w = ws()
    return w.undo[-1] if w.undo else None


def set_design(new: Design, notice: tuple[str, str] | None = None) -> None:
    """Make `new` current (it must be valid); the old design goes on the undo stack."""
    w = ws()
    if new == w.design:
        w.notice = notice
        return
    w.undo.append(w.design)
    del w.undo[:-MAX_UNDO]
    w.redo.clear()
    w.design = new
    _changed(w, notice)


def _changed(w: Workspace, notice: tuple[str, str] | None) -> None:
    w.rev += 1
    w.table_rev += 1
    w.table_rows = None
    w.table_issues = []
    w.setting_issues = []
    w.notice = notice


def propose(candidate: Arch, notice: tuple[str, str] | None = None) -> list[DesignIssue]:
    """Validate `candidate`; make it current if valid. Returns the issues (empty when accepted)."""
    issues = validate(candidate)
    if not issues:
        set_design(candidate, notice)
    return issues


def undo() -> None:
    w = ws()
    _step_back(w, w.undo, w.redo, "undone")


def redo() -> None:
    w = ws()
    _step_back(w, w.redo, w.undo, "redone")


def _step_back(w: Workspace, take: list[Design], keep: list[Design], notice: str) -> None:
    """Undo and redo alike: the last design on `take` becomes current, the current one goes on `keep`."""
    if take:
        keep.append(w.design)
        w.design = take.pop()
        _changed(w, ("info", notice))


def save_copy(name: str) -> str:
    """Keep a copy of the current design under `name` (for comparisons, latency history and quick-train)."""
    w = ws()
    name = name.strip() or w.design.name
    w.saved[name] = w.design
    persist.save_design(name, w.design)  # the workspace keeps it across reloads and restarts
    return name


def remember(defaults: dict[str, Any]) -> None:
    """Keep page settings across page switches. Streamlit drops a widget's state when a run does not draw it;
    call this at the top of a page, before its widgets (which then take no `value=`): a key still in session
    state is recorded, a dropped one is restored (or set to its default)."""
    w = ws()
    for key, default in defaults.items():
        if key in st.session_state:
            w.widgets[key] = st.session_state[key]
        else:
            st.session_state[key] = w.widgets.get(key, default)


def add_imported(d: Design) -> None:
    ws().imported[d.name] = d
    persist.save_imported(d)


def _saved() -> dict[str, Design]:
    """Saved copies: the workspace's (every session, CLI imports too), then this session's."""
    return {**persist.stored()[0], **ws().saved}


def _imported() -> dict[str, Design]:
    return {**persist.stored()[1], **ws().imported}


def choices() -> dict[str, str]:
    """Picker label -> source ('preset:<name>', 'saved:<name>', 'imported:<name>')."""
    out = {name: f"preset:{name}" for name in preset_names()}
    out.update({f"saved: {n}": f"saved:{n}" for n in _saved()})
    out.update({f"imported: {n}": f"imported:{n}" for n in _imported()})
    return out


def resolve_choice(source: str) -> Design:
    kind, _, name = source.partition(":")
    w = ws()
    if kind == "preset":
        return load_preset(name)
    if kind == "saved":
        return w.saved.get(name) or _saved()[name]
    return w.imported.get(name) or _imported()[name]


def is_layers(d: Design) -> bool:
    return isinstance(d, LayersDesign)


def measurable() -> dict[str, Design]:
    """What the Latency and Quick-train pages offer: the current design, saved copies and the presets."""
    w = ws()
    out: dict[str, Design] = {f"current: {short_label(w.design)}": w.design}
    out.update({f"saved: {n}": d for n, d in _saved().items()})
    for label, source in choices().items():
        if source.startswith("preset:"):
            out[f"preset: {label}"] = resolve_choice(source)
    return out
