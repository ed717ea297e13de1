"""Darknet cfg text <-> IR: the reader (parse_cfg), the strict writer (emit_cfg) and lint.

The reader follows AlexeyAB darknet's parser.c (read_cfg, option_find_*, parse_net_options, parse_*) as
described in ../shared/darknet/NOTES.md: whitespace is deleted anywhere in a line, '#'/';' lines are comments,
the first occurrence of a key wins, and keys not given take the parser's defaults. Where darknet would go on
with a network that is not what the file says (unknown section, unknown activation, inline comment in a
string value, malformed number, dangling reference...), the reader raises `CfgError` naming the line.

The writer emits only keys the section reads, each once, `activation=` always, no inline comments, no BOM,
numbers without exponents: what both AlexeyAB darknet and hank-ai darknet accept (DIALECTS.md).
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from designer.activations import ACTIVATIONS, HANK_ACTIVATIONS, cpu_gives_zero
from designer.checks import key_problem
from designer.errors import excerpt
from designer.ir import CfgError, Diagnostic, Layer, Network, Severity, make_layer
from designer.sections import ALIASES, REFERENCE_KEYS, SECTIONS, KeySpec, Value

DESIGN_BEGIN = "# --- mixdesign design (YAML) ---"
DESIGN_END = "# --- end mixdesign design ---"

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HANK_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")
_STRIP = str.maketrans("", "", " \t\r\n")

POLICIES = ("random", "poly", "constant", "step", "exp", "sigmoid", "steps", "sgdr")
CHOICES: dict[str, tuple[str, ...]] = {
    "weights_type": ("none", "per_feature", "per_layer", "per_channel"),
    "weights_normalization": ("none", "relu", "avg_relu", "softmax"),
    "policy": POLICIES,
}


class _Section:
    __slots__ = ("name", "line", "options")

    def __init__(self, name: str, line: int):
        self.name = name
        self.line = line
        self.options: list[tuple[str, str, int]] = []  # key, raw value (the text after '='), line


def read_cfg(text: str, diags: list[Diagnostic]) -> tuple[list[_Section], str | None]:
    """Split cfg text into sections of raw options, as darknet's read_cfg does. Returns (sections, design)."""
    if text.startswith("\ufeff"):
        raise CfgError(1, "the file starts with a UTF-8 byte-order mark; darknet crashes on it (save without BOM)")
    sections: list[_Section] = []
    design_lines: list[str] | None = None
    design: str | None = None
    design_line = 0  # where the open design block starts
    for lineno, raw in enumerate(text.splitlines(), start=1):
        rawr = raw.rstrip("\r\n")
        if design_lines is not None:
            if rawr.strip() == DESIGN_END:
                design = "\n".join(design_lines) + "\n"
                design_lines = None
            else:
                design_lines.append(rawr[2:] if rawr.startswith("# ") else rawr.lstrip("#"))
            continue
        if rawr.strip() == DESIGN_BEGIN and not sections:
            design_lines, design_line = [], lineno
            continue
        line = rawr.translate(_STRIP)
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            m = re.fullmatch(r"\[([^\[\]]+)\]", line)
            if not m:
                raise CfgError(
                    lineno, f"malformed section header {excerpt(rawr.strip())}: a header line is only [name]"
                )
            sections.append(_Section(m.group(1), lineno))
            continue
        if not sections:
            raise CfgError(lineno, f"option {excerpt(line)} before the first section; the file must start with [net]")
        if "=" not in line:
            raise CfgError(lineno, f"expected key=value, got {excerpt(line)}")
        key, value = line.split("=", 1)
        sections[-1].options.append((key, value, lineno))
    if design_lines is not None:
        raise CfgError(
            design_line,
            f"design block opened by {DESIGN_BEGIN!r} is never closed (add "
            f"{DESIGN_END!r} after the design, before [net])",
        )
    return sections, design


def _number(kind: str, text: str, key: str, line: int, diags: list[Diagnostic]) -> Value:
    cut = re.split(r"[#;]", text, maxsplit=1)
    if len(cut) > 1:
        diags.append(
            Diagnostic(
                line,
                "warning",
                f"inline comment after {key}= (darknet reads the number before it; hank-ai darknet rejects the file)",
            )
        )
        text = cut[0]
    if kind == "int":
        if not _INT.fullmatch(text):
            raise CfgError(line, f"{key}={excerpt(text)} is not an integer")
        if len(text.lstrip("+-")) > 19:  # before int(): Python refuses 4,300+ digits, darknet's atoi overflows
            raise CfgError(line, f"{key}={excerpt(text)} does not fit darknet's C int (at most 2,147,483,647)")
        return int(text)
    if not _FLOAT.fullmatch(text):
        raise CfgError(line, f"{key}={excerpt(text)} is not a number")
    if not _HANK_NUMBER.fullmatch(text):
        diags.append(Diagnostic(line, "warning", f"{key}={text}: hank-ai darknet accepts only -.0123456789 in numbers"))
    return float(text)


def _value(spec: KeySpec, text: str, line: int, diags: list[Diagnostic]) -> Value:
    if spec.kind in ("int", "float"):
        return _number(spec.kind, text, spec.name, line, diags)
    if spec.kind in ("ints", "floats"):
        cut = re.split(r"[#;]", text, maxsplit=1)
        if len(cut) > 1:
            diags.append(
                Diagnostic(line, "warning", f"inline comment after {spec.name}= (darknet stops reading there)")
            )
        kind = spec.kind[:-1]
        items = [t for t in cut[0].split(",") if t]
        if not items:
            raise CfgError(line, f"{spec.name}= has no values")
        return tuple(_number(kind, t, spec.name, line, diags) for t in items)
    # strings: darknet keeps everything, an inline comment included, and then fails the lookup silently
    if "#" in text or ";" in text:
        raise CfgError(
            line,
            f"{spec.name}={excerpt(text)}: inline comment in a value; darknet reads the whole text "
            "(e.g. 'leaky#x') and silently falls back to a default. Put comments on their own line",
        )
    if spec.name in ("activation", "lstm_activation") and text not in ACTIVATIONS:
        raise CfgError(
            line,
            f"unknown activation {excerpt(text)} (darknet would silently use relu); known: {', '.join(ACTIVATIONS)}",
        )
    choices = CHOICES.get(spec.name)
    if choices and text not in choices:
        raise CfgError(line, f"{spec.name}={excerpt(text)} is not one of {', '.join(choices)}")
    return text


def parse_section(sec: _Section, diags: list[Diagnostic]) -> Layer:
    """One section's raw options -> Layer with every read key resolved (darknet's parse_<type>)."""
    type_ = ALIASES.get(sec.name)
    if type_ is None:
        near = [a for a in ALIASES if a.lower() == sec.name.lower()]
        hint = f" (section names are case-sensitive: did you mean [{near[0]}]?)" if near else ""
        raise CfgError(sec.line, f"unknown section [{sec.name}]{hint}")
    sdef = SECTIONS[type_]
    by_name = {k.name: k for k in sdef.all_keys}
    values: dict[str, Value] = {}
    for key, raw, line in sec.options:
        spec = by_name.get(key)
        if spec is None:
            sev: Severity = "info" if type_ == "net" else "warning"
            diags.append(Diagnostic(line, sev, f"[{sec.name}] does not read {key!r} (darknet: Unused field)"))
            continue
        if key in values:
            diags.append(Diagnostic(line, "warning", f"duplicate key {key!r} in [{sec.name}]: darknet uses the first"))
            continue
        if raw == "":
            diags.append(Diagnostic(line, "warning", f"{key}= has no value; darknet ignores the line"))
            continue
        values[key] = _value(spec, raw, line, diags)
        problem = key_problem(type_, key, values[key])
        if problem:
            raise CfgError(line, f"[{sec.name}] {problem}")
    if type_ in ("convolutional", "connected") and "activation" not in values:
        diags.append(Diagnostic(sec.line, "warning", f"[{sec.name}] without activation=: darknet uses logistic"))
    return make_layer(type_, sec.line, **values)


def _check_required(layer: Layer) -> None:
    key = REFERENCE_KEYS.get(layer.type)  # every reference key is required (darknet crashes without it)
    if key and layer[key] is None:
        raise CfgError(layer.line, f"[{layer.type}] needs {key}= (darknet crashes without it)")
    if layer.type == "shortcut" and layer["weights_type"] != "none" and layer["weights_normalization"] == "none":
        raise CfgError(
            layer.line,
            "weights_type needs weights_normalization=relu or softmax (darknet exits with "
            "'Incorrect weights_normalization')",
        )
    if layer.type == "net":
        c, h, w = layer["channels"], layer["height"], layer["width"]
        if not (c and h and w) and not layer["inputs"]:
            raise CfgError(layer.line, "[net] needs width, height and channels (or inputs)")
        if layer["policy"] == "steps" and (layer["steps"] is None or layer["scales"] is None):
            raise CfgError(layer.line, "policy=steps needs both steps= and scales=")


def parse_cfg(source: str | Path, validate: bool = True) -> Network:
    """Read a cfg (a path, or the text itself) into the IR. Raises CfgError naming the line."""
    text = _read_source(source)
    diags: list[Diagnostic] = []
    sections, design = read_cfg(text, diags)
    if not sections:
        raise CfgError(1, "no sections: a cfg starts with [net]")
    if ALIASES.get(sections[0].name) != "net":
        raise CfgError(sections[0].line, f"first section must be [net] or [network], found [{sections[0].name}]")
    layers = []
    for sec in sections[1:]:
        if ALIASES.get(sec.name) == "net":
            raise CfgError(sec.line, "a second [net] section")
        layers.append(parse_section(sec, diags))
    net = parse_section(sections[0], diags)
    for layer in (net, *layers):
        _check_required(layer)
    if not layers:
        raise CfgError(sections[0].line, "the cfg has no layers after [net]")
    network = Network(net, tuple(layers), design, tuple(diags))
    if validate:
        from designer.shapes import infer_shapes

        infer_shapes(network)  # raises CfgError on dangling references and shape mismatches
    return network


def _read_source(source: str | Path) -> str:
    if isinstance(source, Path) or ("\n" not in source and source.endswith(".cfg")):
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise CfgError(0, f"cannot read {source}: {e.strerror}") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CfgError(data[: e.start].count(b"\n") + 1, "not UTF-8 text") from None
    return source


# ---------------------------------------------------------------- writer


def fmt_number(v: float | int) -> str:
    """Shortest text that reads back to the same value, never with an exponent (hank-ai rejects 1e-3)."""
    if isinstance(v, int):
        return str(v)
    s = repr(float(v))
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    if s.endswith(".0"):
        s = s[:-2]
    return s


def fmt_value(v: Value) -> str:
    if isinstance(v, tuple):
        return ",".join(fmt_number(x) for x in v)
    if isinstance(v, (int, float)):
        return fmt_number(v)
    return str(v)


def emit_section(layer: Layer) -> list[str]:
    lines = [f"[{layer.type}]"]
    for spec in SECTIONS[layer.type].all_keys:
        v = layer[spec.name]
        if v is None or (not spec.always and v == spec.default):
            continue
        lines.append(f"{spec.name}={fmt_value(v)}")
    return lines


def emit_cfg(network: Network) -> str:
    """IR -> cfg text that both AlexeyAB and hank-ai darknet read as this IR."""
    out: list[str] = []
    if network.design:
        out.append(DESIGN_BEGIN)
        out += [("# " + ln) if ln else "#" for ln in network.design.rstrip("\n").split("\n")]
        out.append(DESIGN_END)
        out.append("")
    for i, layer in enumerate((network.net, *network.layers)):
        if i:
            out.append("")
            out.append(f"# layer {i - 1}")
        out += emit_section(layer)
    return "\n".join(out) + "\n"


def with_net(network: Network, **changes: Value) -> Network:
    return replace(network, net=network.net.set(**changes))


# ---------------------------------------------------------------- lint


def lint(source: str | Path) -> list[Diagnostic]:
    """What darknet would silently mis-read, and what hank-ai darknet would reject. Never raises."""
    try:
        text = _read_source(source)
    except CfgError as e:
        return [Diagnostic(e.line, "error", e.message)]
    if text.startswith("\ufeff"):
        return [Diagnostic(1, "error", "UTF-8 byte-order mark: darknet crashes on it")]
    diags: list[Diagnostic] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.translate(_STRIP)
        if stripped.startswith(";"):
            diags.append(Diagnostic(lineno, "warning", "a comment line starting with ';' is fatal in hank-ai darknet"))
        elif stripped and stripped[0] not in "#[" and re.search(r"[#;]", stripped):
            diags.append(
                Diagnostic(lineno, "warning", "inline comment: darknet has none; the text becomes part of the value")
            )
    try:
        network = parse_cfg(text, validate=False)
    except CfgError as e:
        return _dedupe(diags + [Diagnostic(e.line, "error", e.message)])
    diags += network.diagnostics
    for layer in network.layers:
        if not SECTIONS[layer.type].hank:
            diags.append(Diagnostic(layer.line, "warning", f"[{layer.type}] does not exist in hank-ai darknet"))
        act = layer.get("activation")
        if act and act not in HANK_ACTIVATIONS:
            diags.append(Diagnostic(layer.line, "warning", f"activation={act} is unknown to hank-ai darknet"))
        if act and cpu_gives_zero(act, layer.type):
            diags.append(
                Diagnostic(layer.line, "warning", f"activation={act} in [{layer.type}] gives 0 on CPU darknet")
            )
    for key in ("max_crop", "min_crop"):
        if network.net[key] is not None:
            diags.append(
                Diagnostic(
                    network.net.line,
                    "info",
                    f"[net] {key} is fatal in hank-ai darknet (AlexeyAB uses it for classifier training)",
                )
            )
    try:
        from designer.shapes import infer_shapes

        shapes = infer_shapes(network)
    except CfgError as e:
        diags.append(Diagnostic(e.line, "error", e.message))
    else:
        for i, layer in enumerate(network.layers):
            if layer.type == "route" and layer["groups"] > 1:
                for src in shapes[i].sources:
                    c = shapes[src].c
                    if c % layer["groups"]:
                        diags.append(
                            Diagnostic(
                                layer.line,
                                "warning",
                                f"route groups={layer['groups']} does not divide "
                                f"the {c} channels of layer {src}: darknet slices through a channel",
                            )
                        )
    return _dedupe(diags)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[int, str, str]] = set()
    out = []
    for d in sorted(diags, key=lambda d: d.line):
        k = (d.line, d.severity, d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out
