"""What the app holds and how it becomes a Darknet network.

A design in the app is either an `Arch` (block-editable: made from a preset, a design YAML, or a cfg written by
this tool, which carries its design YAML in leading comments) or a `LayersDesign` (any other darknet cfg: shown,
counted and benchmarked as layers, never block-edited). Both are frozen; the app swaps whole values.

`lowered(design)` is the one place a design becomes IR and cfg text. The cfg text is the cache key for
everything derived (designer/webapp/cache.py): two designs that emit the same cfg are the same network.
For an Arch the text is exactly what `mixdesign export` writes: `emit_cfg(lower(arch))`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from designer import Arch, Network, emit_cfg, lower_with_spans
from designer.design_io import dump_yaml
from designer.lower import Span


@dataclass(frozen=True)
class LayersDesign:
    """An imported cfg that was not made by this tool: its layers are the design."""

    name: str
    network: Network


Design = Arch | LayersDesign


@dataclass(frozen=True)
class Lowered:
    """A design as Darknet sees it: the IR, the block spans (None for layer-only designs) and the cfg text."""

    network: Network
    spans: tuple[Span, ...] | None
    cfg_text: str

    @property
    def block_editable(self) -> bool:
        return self.spans is not None


@lru_cache(maxsize=128)
def _lower_arch(arch: Arch) -> Lowered:
    # Same as designer.lower(arch): the design YAML travels in the cfg's leading comments.
    network, spans = lower_with_spans(arch, dump_yaml(arch))
    return Lowered(network, spans, emit_cfg(network))


@lru_cache(maxsize=32)
def _lower_layers(design: LayersDesign) -> Lowered:
    return Lowered(design.network, None, emit_cfg(design.network))


def lowered(design: Design) -> Lowered:
    """Design -> (IR, spans, cfg text). Memoised on the frozen design value; raises DesignError if invalid."""
    if isinstance(design, Arch):
        return _lower_arch(design)
    return _lower_layers(design)


def short_label(design: Design) -> str:
    """The design's name plus what sets a variant apart: 'mixnet-m gs4 w1.25 @160' (for legends and history)."""
    if not isinstance(design, Arch):
        return design.name
    parts = [design.name]
    sizes = [b.dw_group_size for b in design.blocks if b.dw_group_size]
    if sizes:
        parts.append(f"gs{max(set(sizes), key=sizes.count)}")
    if design.width_mult != 1.0:
        parts.append(f"w{design.width_mult:g}")
    if design.depth_mult != 1.0:
        parts.append(f"d{design.depth_mult:g}")
    if design.input_size != 224:
        parts.append(f"@{design.input_size}")
    return " ".join(parts)


def safe_filename(name: str, suffix: str) -> str:
    """A download file name from a design name: letters, digits, '-', '_' and '.' only."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name.strip()) or "design"
    return f"{stem}{suffix}"
