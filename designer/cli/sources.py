"""What a command-line argument names: a cfg file, a design YAML, or a built-in preset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from designer.cfg import parse_cfg, with_net
from designer.design_io import load_preset, load_yaml, preset_names
from designer.embedded import embedded_design
from designer.errors import MixdesignError
from designer.ir import Network
from designer.lower import lower
from designer.spec import Arch, gpu_variant


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
    raise SourceError(f"{name!r} is neither a .cfg, a design .yaml nor a preset ({', '.join(preset_names())})")


def apply_overrides(arch: Arch, *, width_mult: float | None = None, depth_mult: float | None = None,
                    size: int | None = None, classes: int | None = None, dw_group_size: int | None = None) -> Arch:
    changes = {k: v for k, v in dict(width_mult=width_mult, depth_mult=depth_mult, input_size=size,
                                     classes=classes).items() if v is not None}
    arch = replace(arch, **changes)
    if dw_group_size is not None:
        arch = gpu_variant(arch, dw_group_size)
    return arch


def to_network(src: Arch | Network, **overrides) -> Network:
    """Lower a design (with overrides) or return a cfg's network (only `size` applies to a plain cfg)."""
    if isinstance(src, Arch):
        return lower(apply_overrides(src, **overrides))
    embedded = embedded_design(src)
    if embedded.arch is not None and any(v is not None for v in overrides.values()):
        return lower(apply_overrides(embedded.arch, **overrides))
    other = sorted(k for k, v in overrides.items() if v is not None and k != "size")
    if other:
        flags = ", ".join("--" + k.replace("_", "-") for k in other)
        raise SourceError(f"{flags} need{'s' if len(other) == 1 else ''} a design (a preset, a .yaml, or a cfg "
                          f"exported by mixdesign), but this cfg {embedded.reason or 'carries no design'}, so it "
                          "is treated as layers: drop the option (only --size applies to a cfg's layers)")
    if overrides.get("size"):
        return with_net(src, width=overrides["size"], height=overrides["size"])
    return src
