"""Designs kept in the workspace: a saved copy (`save_design`) and an import (`save_import`), for a block design
(kept as its YAML) and a layers-only network (kept as its emitted cfg) alike."""

from __future__ import annotations

from designer.api.workspace import WorkspaceTarget, opened
from designer.ir import Network
from designer.spec import Arch


def save_design(workspace: WorkspaceTarget, name: str, design: Arch | Network, *, source: str = "api") -> None:
    """Keep `design` under `name`, replacing an earlier one of that name: a block design as its YAML (derived
    from its own name), a layers-only network as an imported cfg."""
    from designer import emit_cfg

    with opened(workspace) as ws:
        if isinstance(design, Arch):
            ws.save_design(name, design, derived_from=design.name, source=source)
        else:
            ws.add_imported(name, "layers-cfg", emit_cfg(design))


def save_import(workspace: WorkspaceTarget, name: str, design: Arch | Network) -> None:
    """Keep an imported design under `name`: a design YAML as its YAML, a cfg as its emitted text."""
    from designer import dump_yaml, emit_cfg

    with opened(workspace) as ws:
        if isinstance(design, Arch):
            ws.add_imported(name, "design-yaml", dump_yaml(design))
        else:
            ws.add_imported(name, "layers-cfg", emit_cfg(design))
