"""Designs as text: YAML files (safe loader only), timm-style block strings, and the built-in presets.

Block strings follow timm's `_decode_block_str` grammar (../shared/reference/mixnet_arch.md section 7):
`ir_r3_k3.5.7.9_a1.1_p1.1_s2_e6_c80_se0.25_nsw`, with `gsN` for N channels per depthwise group (timm's group
size) and `noskip`. The activation token is `n` + designer.activations' token (nre relu, nsw swish, nlo logistic,
...); without one, the design's default activation applies.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields
from pathlib import Path

import yaml

from designer.activations import NO_DARKNET, TOKEN_FOR, TOKENS
from designer.errors import MixdesignError, excerpt
from designer.spec import ACTIVATION_NAMES, Arch, Block, Head, Stem

PRESET_DIR = Path(__file__).resolve().parent.parent / "cfg_templates"


class DesignFormatError(MixdesignError):
    """A design file or block string that cannot be read; says where."""


def parse_block_string(s: str, default_activation: str = "relu") -> Block:
    """timm-style block string -> Block."""
    parts = s.strip().split("_")
    kind = parts[0]
    if kind not in ("ir", "ds"):
        raise DesignFormatError(f"block {excerpt(s)}: type {kind!r} is not supported (use ir or ds)")
    kw: dict = {"activation": default_activation}
    seen = set()
    for tok in parts[1:]:
        if tok == "noskip":
            kw["skip"] = False
            continue
        if tok == "skip":
            kw["skip"] = True
            continue
        if tok.startswith("n") and not tok[1:2].isdigit():
            key = tok[1:]
            if key in NO_DARKNET:
                raise DesignFormatError(f"block {excerpt(s)}: {NO_DARKNET[key]} has no darknet activation")
            if key not in TOKENS:
                raise DesignFormatError(
                    f"block {excerpt(s)}: unknown activation token {excerpt(tok)} "
                    f"(known: {', '.join('n' + k for k in TOKENS)})"
                )
            kw["activation"] = TOKENS[key]
            continue
        m = re.fullmatch(r"([a-z]+)(\d[\d.]*)", tok)
        if not m:
            raise DesignFormatError(f"block {excerpt(s)}: cannot read token {excerpt(tok)}")
        key, val = m.groups()
        if key in seen:
            raise DesignFormatError(f"block {excerpt(s)}: token {key!r} given twice")
        seen.add(key)
        try:
            if key == "r":
                kw["repeats"] = int(val)
            elif key == "k":
                kw["kernels"] = tuple(int(v) for v in val.split("."))
            elif key in ("a", "p"):
                ks = val.split(".")
                if any(k != "1" for k in ks):
                    raise DesignFormatError(
                        f"block {excerpt(s)}: {key}{val}: only 1x1 expand/project groups are supported"
                    )
                kw["expand_groups" if key == "a" else "project_groups"] = len(ks)
            elif key == "s":
                kw["stride"] = int(val)
            elif key == "e":
                kw["expand_ratio"] = float(val)
            elif key == "c":
                kw["out_channels"] = int(val)
            elif key == "se":
                kw["se_ratio"] = float(val)
            elif key == "gs":
                kw["dw_group_size"] = int(val)
            else:
                raise DesignFormatError(f"block {excerpt(s)}: unknown token {excerpt(tok)}")
        except ValueError as e:
            if isinstance(e, DesignFormatError):
                raise
            raise DesignFormatError(f"block {excerpt(s)}: bad number in {excerpt(tok)}") from None
    if "out_channels" not in kw:
        raise DesignFormatError(f"block {excerpt(s)}: needs the output channels token cN")
    if kind == "ds" and kw.get("expand_ratio", 1.0) != 1.0:
        raise DesignFormatError(f"block {excerpt(s)}: a ds block has no expansion (use ir for e != 1)")
    return Block(**kw)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def format_block_string(b: Block) -> str:
    """Block -> timm-style string (always with an explicit activation token)."""
    toks = ["ds" if b.expand_ratio == 1 else "ir", f"r{b.repeats}", "k" + ".".join(str(k) for k in b.kernels)]
    if b.expand_groups > 1:
        toks.append("a" + ".".join(["1"] * b.expand_groups))
    if b.project_groups > 1:
        toks.append("p" + ".".join(["1"] * b.project_groups))
    toks += [f"s{b.stride}", f"e{_fmt(b.expand_ratio)}", f"c{b.out_channels}"]
    if b.se_ratio:
        toks.append(f"se{_fmt(b.se_ratio)}")
    if b.dw_group_size:
        toks.append(f"gs{b.dw_group_size}")
    if not b.skip:
        toks.append("noskip")
    toks.append("n" + TOKEN_FOR[b.activation])
    return "_".join(toks)


# ------------------------------------------------------------------ YAML


def to_dict(arch: Arch) -> dict:
    return {
        "name": arch.name,
        "input_size": arch.input_size,
        "input_channels": arch.input_channels,
        "classes": arch.classes,
        "dropout": arch.dropout,
        "width_mult": arch.width_mult,
        "depth_mult": arch.depth_mult,
        "stem": asdict(arch.stem),
        "head": asdict(arch.head),
        "blocks": [format_block_string(b) for b in arch.blocks],
    }


def dump_yaml(arch: Arch) -> str:
    return yaml.safe_dump(to_dict(arch), sort_keys=False, default_flow_style=None, width=120)


def _sub(cls, data, where: str):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise DesignFormatError(f"{where}: expected a mapping")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise DesignFormatError(
            f"{where}: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(names))})"
        )
    obj = cls(**data)
    for f in fields(cls):
        if f.name == "activation" and getattr(obj, f.name) not in ACTIVATION_NAMES:
            raise DesignFormatError(f"{where}: unknown activation {getattr(obj, f.name)!r}")
    return obj


def from_dict(d: dict) -> Arch:
    if not isinstance(d, dict):
        raise DesignFormatError("a design is a mapping with name, stem, blocks, head, ...")
    known = {f.name for f in fields(Arch)}
    unknown = set(d) - known - {"default_activation"}
    if unknown:
        raise DesignFormatError(f"unknown design keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    default_act = d.get("default_activation", "relu")
    blocks = []
    for i, item in enumerate(d.get("blocks") or []):
        if isinstance(item, str):
            blocks.append(parse_block_string(item, default_act))
        elif isinstance(item, dict):
            b = _sub(Block, {**item, "kernels": tuple(item.get("kernels", (3,)))}, f"blocks[{i}]")
            blocks.append(b)
        else:
            raise DesignFormatError(f"blocks[{i}]: expected a block string or a mapping")
    try:
        arch = Arch(
            name=str(d.get("name", "design")),
            blocks=tuple(blocks),
            stem=_sub(Stem, d.get("stem"), "stem"),
            head=_sub(Head, d.get("head"), "head"),
            classes=int(d.get("classes", 1000)),
            input_size=int(d.get("input_size", 224)),
            input_channels=int(d.get("input_channels", 3)),
            dropout=float(d.get("dropout", 0.2)),
            width_mult=float(d.get("width_mult", 1.0)),
            depth_mult=float(d.get("depth_mult", 1.0)),
        )
    except (TypeError, ValueError) as e:
        if isinstance(e, DesignFormatError):
            raise
        raise DesignFormatError(f"design: {e}") from None
    return arch


def load_yaml(source: str | Path) -> Arch:
    """Design YAML (a path or the text) -> Arch. PyYAML's safe loader only."""
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        try:
            source = Path(source).read_text()
        except OSError as e:
            raise DesignFormatError(f"cannot read {source}: {e.strerror}") from None
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise DesignFormatError(f"{where}not valid YAML ({getattr(e, 'problem', e)})") from None
    return from_dict(data)


# ------------------------------------------------------------------ presets


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> Arch:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise DesignFormatError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    return load_yaml(path)
