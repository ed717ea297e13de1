"""What a SOURCE names (a cfg file, a design YAML, or a built-in preset), and the design overrides applied to it.

`load` is the one entry point (designer.api): it returns the network with the notes of what lowering rounded;
callers decide where the notes go (the CLI prints them on stderr as `note: ...`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from designer.cfg import parse_cfg, with_net
from designer.design_io import load_preset, load_yaml, preset_names
from designer.embedded import embedded_design
from designer.errors import MixdesignError, excerpt
from designer.ir import Network
from designer.lower import lower
from designer.spec import Arch, gpu_variant, gpu_variant_report, resolve, rounding_report


class SourceError(MixdesignError):
    """A SOURCE argument that names no cfg, design YAML or preset, or overrides it cannot take."""


def load_source(name: str) -> Arch | Network:
    """`x.cfg` -> Network (a cfg made by this tool still comes back as a Network; to_network uses its embedded
    design, designer.embedded, only while it still describes the file);
    `x.yaml`/`x.yml` -> Arch; anything else -> a preset name."""
    if name.endswith(".cfg"):
        if not Path(name).is_file():
            raise SourceError(f"{name}: no such file")
        return parse_cfg(Path(name))
    if name.endswith((".yaml", ".yml")):
        if not Path(name).is_file():
            raise SourceError(f"{name}: no such file")
        return load_yaml(Path(name))
    if name in preset_names():
        return load_preset(name)
    raise SourceError(f"{excerpt(name)} is neither a .cfg, a design .yaml nor a preset ({', '.join(preset_names())})")


_OPTION = {
    "width_mult": "--width-mult",
    "depth_mult": "--depth-mult",
    "size": "--size",
    "classes": "--classes",
    "dw_group_size": "--dw-group-size",
}


def check_overrides(**overrides) -> None:
    """Each override given is finite and inside designer.limits (the limit and the fix in the message)."""
    from designer.limits import value_problem

    for name, v in overrides.items():
        if v is not None:
            problem = value_problem(name, v)
            if problem:
                raise SourceError(f"{_OPTION.get(name, name)}: {problem}")


def apply_overrides(
    arch: Arch,
    *,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    size: int | None = None,
    classes: int | None = None,
    dw_group_size: int | None = None,
) -> Arch:
    check_overrides(
        width_mult=width_mult, depth_mult=depth_mult, size=size, classes=classes, dw_group_size=dw_group_size
    )
    changes: dict[str, Any] = {
        k: v
        for k, v in dict(width_mult=width_mult, depth_mult=depth_mult, input_size=size, classes=classes).items()
        if v is not None
    }
    arch = replace(arch, **changes)
    if dw_group_size is not None:
        widest = max((rb.mid_channels // len(rb.spec.kernels) for rb in resolve(arch)), default=1)
        if dw_group_size > widest:
            raise SourceError(
                f"--dw-group-size {dw_group_size}: the widest kernel group of this design has "
                f"{widest} channels. Fix: use 1 (depthwise) up to {widest}, e.g. 4, 8 or 16"
            )
        arch = gpu_variant(arch, dw_group_size)
    return arch


def design_notes(arch: Arch, dw_group_size: int | None = None, base: Arch | None = None) -> list[str]:
    """What the lowering rounded (width scaling, --dw-group-size): printed as notes by every command."""
    notes = rounding_report(arch)
    if dw_group_size:
        notes += gpu_variant_report(base if base is not None else arch, dw_group_size)
    return notes


@dataclass(frozen=True)
class Loaded:
    """What `load` found: the design (None for a cfg that carries no design, or that is used as layers), the
    Darknet network it lowers to, and the notes of what lowering rounded (width scaling, --dw-group-size)."""

    design: Arch | None
    network: Network
    notes: tuple[str, ...] = ()


def _lowered(design: Arch, overrides: dict) -> Loaded:
    arch = apply_overrides(design, **overrides)
    notes = design_notes(arch, overrides.get("dw_group_size"), design)
    return Loaded(arch, lower(arch), tuple(notes))


def lower_source(src: Arch | Network, **overrides) -> Loaded:
    """Lower a design (with overrides), or take a cfg's network (only `size` applies to a cfg that carries no
    design, or whose embedded design no longer describes it)."""
    if isinstance(src, Arch):
        return _lowered(src, overrides)
    embedded = embedded_design(src)
    if embedded.arch is not None and any(v is not None for v in overrides.values()):
        return _lowered(embedded.arch, overrides)
    check_overrides(**overrides)
    other = sorted(k for k, v in overrides.items() if v is not None and k != "size")
    if other:
        flags = ", ".join("--" + k.replace("_", "-") for k in other)
        raise SourceError(
            f"{flags} need{'s' if len(other) == 1 else ''} a design (a preset, a .yaml, or a cfg "
            f"exported by mixdesign), but this cfg {embedded.reason or 'carries no design'}, so it "
            "is treated as layers: drop the option (only --size applies to a cfg's layers)"
        )
    if overrides.get("size"):
        src = with_net(src, width=overrides["size"], height=overrides["size"])
    return Loaded(embedded.arch, src)


def to_network(src: Arch | Network, **overrides) -> Network:
    """The network of `lower_source` without its notes (for callers that have no one to tell)."""
    return lower_source(src, **overrides).network


def load(
    source: str | Arch | Network,
    *,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    size: int | None = None,
    classes: int | None = None,
    dw_group_size: int | None = None,
) -> Loaded:
    """A preset name, a design .yaml, a .cfg path, or an Arch / Network already in hand, with the overrides
    applied: `size` sets the input width and height, `dw_group_size` makes the GPU variant (designer.gpu_variant).
    Every value is checked against designer.limits; a bad one raises SourceError naming the option and the fix."""
    src = load_source(source) if isinstance(source, str) else source
    return lower_source(
        src, width_mult=width_mult, depth_mult=depth_mult, size=size, classes=classes, dw_group_size=dw_group_size
    )
