"""The design a cfg carries, and whether it still describes the file.

A cfg written by mixdesign starts with its design YAML in comments (designer.cfg DESIGN_BEGIN/END). The design
is only the truth about the file while it lowers to exactly the file's layers and input ([net] training keys
such as batch= may differ: they are not part of a design): once someone edits the
layers by hand, darknet runs the layers, so every front end (CLI sources, app import, training, bundling) must
treat the file as layers. `embedded_design` is that one check.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.design_io import DesignFormatError, load_yaml
from designer.ir import Network
from designer.lower import lower
from designer.spec import Arch, DesignError


@dataclass(frozen=True)
class Embedded:
    """`arch`: the design, when the file still is what it lowers to; otherwise None and `reason` says why, as
    "this cfg <reason>" (empty for a cfg that carries no design at all). Such a file is treated as its layers."""

    arch: Arch | None
    reason: str = ""

    @property
    def hand_edited(self) -> bool:
        """The file carries a design that no longer describes it."""
        return self.arch is None and bool(self.reason)


def embedded_design(network: Network) -> Embedded:
    """The design embedded in a cfg, only when it still lowers to exactly the file's layers and input."""
    if not network.design:
        return Embedded(None)
    try:
        arch = load_yaml(network.design)
        again = lower(arch)
    except DesignFormatError as e:
        return Embedded(None, f"carries an embedded design that cannot be read ({e})")
    except DesignError as e:
        issues = "; ".join(str(i) for i in e.issues) or str(e)
        return Embedded(None, f"carries an embedded design that does not lower ({issues})")
    if again.layers != network.layers or again.input_shape != network.input_shape:
        return Embedded(
            None, f"was edited by hand after export (its layers differ from its embedded design {arch.name!r})"
        )
    return Embedded(arch)
