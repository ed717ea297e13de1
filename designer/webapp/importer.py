"""Uploaded files -> designs. Size-limited, decoded strictly, parsed with the core's safe readers.

- a design YAML (.yaml/.yml): designer.load_yaml (PyYAML safe loader) -> Arch, validated;
- a cfg written by this tool (it carries its design YAML in leading comments): the design comes back
  block-editable, after checking that the cfg's layers are still what that design lowers to;
- any other darknet cfg: a `LayersDesign`, shown, counted and benchmarked as layers.
Errors come back as `ImportProblem`s (a message, and the cfg line where there is one), never as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from designer import CfgError, DesignFormatError, load_yaml, parse_cfg, validate
from designer.embedded import embedded_design
from designer.webapp.model import Design, LayersDesign

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # also server.maxUploadSize in .streamlit/config.toml


@dataclass(frozen=True)
class ImportProblem:
    message: str
    line: int = 0  # 1-based cfg/YAML line, 0 when unknown
    excerpt: str = ""  # the offending line's text

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return where + self.message


@dataclass(frozen=True)
class ImportResult:
    design: Design | None
    kind: str  # "design-yaml", "designer-cfg", "layers-cfg", "failed"
    problems: tuple[ImportProblem, ...] = ()
    notes: tuple[str, ...] = ()


def _excerpt(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1].strip()[:200] if 0 < line <= len(lines) else ""


def decode(data: bytes) -> tuple[str | None, ImportProblem | None]:
    if len(data) > MAX_UPLOAD_BYTES:
        return None, ImportProblem(f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return None, ImportProblem("not UTF-8 text (is this a .weights file?)", data[: e.start].count(b"\n") + 1)


def import_text(text: str, filename: str = "upload.cfg") -> ImportResult:
    """Cfg or design YAML text -> a design the app can hold."""
    stem = PurePath(filename).stem or "imported"
    if filename.lower().endswith((".yaml", ".yml")):
        try:
            arch = load_yaml(text if "\n" in text else text + "\n")
        except DesignFormatError as e:
            return ImportResult(None, "failed", (ImportProblem(str(e)),))
        issues = validate(arch)
        if issues:
            return ImportResult(None, "failed", tuple(ImportProblem(str(i)) for i in issues))
        return ImportResult(arch, "design-yaml")
    try:
        network = parse_cfg(text if "\n" in text else text + "\n")
    except CfgError as e:
        return ImportResult(None, "failed", (ImportProblem(e.message, e.line, _excerpt(text, e.line)),))
    if network.design is None:
        return ImportResult(
            LayersDesign(stem, network),
            "layers-cfg",
            notes=("not made by mixnet-designer: shown, counted and benchmarked as layers",),
        )
    embedded = embedded_design(network)
    if embedded.arch is None:
        return ImportResult(
            LayersDesign(stem, network),
            "layers-cfg",
            notes=(f"this cfg {embedded.reason}: using its layers, which is what darknet runs",),
        )
    return ImportResult(embedded.arch, "designer-cfg")


def import_bytes(data: bytes, filename: str) -> ImportResult:
    text, problem = decode(data)
    if text is None:
        return ImportResult(None, "failed", (problem or ImportProblem("empty upload"),))
    return import_text(text, filename)
