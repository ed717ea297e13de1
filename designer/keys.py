"""The hashes measurements are filed under (torch-free, database-free: the workspace, sweeps and the app share
them).

- `cfg_sha256`: sha256 of the emitted cfg text (designer.emit_cfg), design header included: the exact file.
- `layers_sha256`: sha256 of the same text without comment lines (the embedded design header among them) and
  blank lines, each line stripped: the network's layers only, so the same layers under another design name, or
  a design saved again, keep their measurement history.
"""

from __future__ import annotations

import hashlib


def cfg_sha256(cfg_text: str) -> str:
    """The key measurements and runs are filed under: sha256 of the emitted cfg text (designer.emit_cfg)."""
    return hashlib.sha256(cfg_text.encode("utf-8")).hexdigest()


def layers_sha256(cfg_text: str) -> str:
    """The key a measurement's history lines up by: sha256 of the cfg's sections and options only."""
    lines = (ln.strip() for ln in cfg_text.splitlines())
    body = "\n".join(ln for ln in lines if ln and not ln.startswith(("#", ";")))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
