"""`history`: the recorded latency measurements of a workspace, filtered by design, device, backend and machine
(what `mixdesign history` shows). A design is matched by name, by its cfg's hash and by its layers' hash, so the
same network measured under another name is found too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from designer.api.record import design_label
from designer.errors import MixdesignError

if TYPE_CHECKING:
    from designer.workspace import Workspace
    from designer.workspace.models import MeasurementRow


@dataclass(frozen=True)
class History:
    """The rows found (newest first), the machine key filtered on (None: every machine; 4-16 hex digits: a key
    or its prefix) and this machine's key for the device asked (to mark its rows)."""

    rows: tuple[MeasurementRow, ...]
    machine: str | None
    this_machine: str


def _source_text(text: str) -> str | None:
    """The emitted cfg of DESIGN when it names a preset, a design YAML or a cfg; None otherwise."""
    from designer import emit_cfg
    from designer.api.sources import load

    try:
        return emit_cfg(load(text).network)
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


def history(
    ws: Workspace,
    *,
    design: str | None = None,
    device: str | None = None,
    backend: str | None = None,
    machine: str = "all",
    limit: int | None = 50,
) -> History:
    """The newest `limit` measurements in `ws` that match every filter given. `design`: a saved design's name, a
    preset, a design .yaml or a cfg; `machine`: "all", "this" (this machine, for `device`, default cpu) or a
    fingerprint key (4 to 16 hex digits: a prefix matches)."""
    from designer.keys import cfg_sha256, layers_sha256
    from designer.workspace.store import emitted_cfg

    key, this = _machines(machine, device)
    exact = key if key is not None and len(key) == 16 else None
    rows = ws.measurements(
        device=device,
        backend=backend,
        machine_key=exact,
        limit=None if design or (key and not exact) else limit,
    )
    if key is not None and exact is None:
        rows = [m for m in rows if (m.machine_key or "").startswith(key)][:limit]
    if design:
        text = _source_text(design)
        saved = ws.get_design(design) if text is None else None
        if saved is not None:
            text = emitted_cfg(saved.arch)
        shas = {cfg_sha256(text)} if text else set()
        layers = {layers_sha256(text)} if text else set()
        names = {design, design_label(design)}
        rows = [m for m in rows if m.design_name in names or m.cfg_sha256 in shas or m.layers_sha256 in layers][:limit]
    return History(tuple(rows), key, this)
