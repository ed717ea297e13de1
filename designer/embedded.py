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
    """`arch`: the design, when the file still is what it lowers to; otherwise None and `reason` says why
    (empty for a cfg that carries no design at all)."""

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
        return Embedded(None, f"its embedded design cannot be read ({e}); the file is treated as layers")
    except DesignError as e:
        issues = "; ".join(str(i) for i in e.issues) or str(e)
        return Embedded(None, f"its embedded design does not lower ({issues}); the file is treated as layers")
    if again.layers != network.layers or again.input_shape != network.input_shape:
        return Embedded(None, f"its layers were edited by hand after export (they differ from its embedded design "
                              f"{arch.name!r}), so the file is treated as layers, which is what darknet runs")
    return Embedded(arch)
