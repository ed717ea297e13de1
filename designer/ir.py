"""The Darknet layer list (IR): what a cfg file means, independent of how it was spelled.

A `Layer` holds the resolved value of every key its section reads (sections.py), defaults filled in, so two
cfgs that darknet reads identically give equal IR even when one spells `[conv]` and writes `stride=1`
explicitly. Unused keys, duplicates and the like are not part of the meaning: the reader reports them as
`Diagnostic`s (what `lint` prints), which do not take part in equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from designer.errors import MixdesignError
from designer.sections import REFERENCE_KEYS, SECTIONS, Value


class CfgError(MixdesignError):
    """A cfg darknet would reject or mis-read. `line` is 1-based (0 when the layer was not read from text)."""

    line: int  # never None, unlike MixdesignError's: every cfg problem has a line (0: not read from text)

    def __init__(self, line: int, message: str, *, file: str | None = None):
        super().__init__(message, file=file, line=line or None)
        self.line = line


Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.severity}: {self.message}"


# Per section type: key names in table order, key -> position, and the defaults. Layers store only values.
_NAMES: dict[str, tuple[str, ...]] = {t: tuple(k.name for k in SECTIONS[t].all_keys) for t in SECTIONS}
_POS: dict[str, dict[str, int]] = {t: {n: i for i, n in enumerate(names)} for t, names in _NAMES.items()}
_DEFAULTS: dict[str, tuple[Value, ...]] = {t: tuple(k.default for k in SECTIONS[t].all_keys) for t in SECTIONS}


@dataclass(frozen=True)
class Layer:
    """One section: its canonical type and every key's resolved value, in section-table order."""

    type: str
    values: tuple[Value, ...]
    line: int = field(default=0, compare=False)

    @property
    def params(self) -> tuple[tuple[str, Value], ...]:
        return tuple(zip(_NAMES[self.type], self.values))

    # A key's type is the section table's (designer/sections.py: int, float, str or a tuple of them), known per
    # key at run time, so the accessors return Any rather than the union every caller would have to narrow.
    def __getitem__(self, key: str) -> Any:
        return self.values[_POS[self.type][key]]

    def get(self, key: str, default: Value = None) -> Any:
        i = _POS[self.type].get(key)
        v = None if i is None else self.values[i]
        return default if v is None else v

    def set(self, **changes: Value) -> Layer:
        """A copy with some keys changed (keys must belong to the section)."""
        return Layer(self.type, _with(self.type, list(self.values), changes), self.line)


def _with(type_: str, vals: list[Value], changes: dict[str, Value]) -> tuple[Value, ...]:
    pos = _POS[type_]
    for k, v in changes.items():
        i = pos.get(k)
        if i is None:
            raise KeyError(f"[{type_}] does not read {k}")
        vals[i] = v
    return tuple(vals)


def make_layer(type_: str, line: int = 0, **values: Value) -> Layer:
    """A layer of a known section type; keys not given take darknet's defaults."""
    return Layer(type_, _with(type_, list(_DEFAULTS[type_]), values), line)


@dataclass(frozen=True)
class Network:
    """[net] plus the layers in file order (layer i is the i-th section after [net])."""

    net: Layer
    layers: tuple[Layer, ...]
    design: str | None = None  # the design YAML carried in the cfg's leading '#' lines, if any
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(c, h, w) of the network input."""
        c, h, w = (self.net.get("channels", 0), self.net.get("height", 0), self.net.get("width", 0))
        if not (c and h and w):
            inputs = self.net.get("inputs")
            if inputs:
                return int(inputs), 1, 1
        return int(c), int(h), int(w)


INPUT = -1  # the index that stands for the network input in a layer's reads

# Sections that do not read the previous layer's output: [route] reads only its layers=, [implicit] reads nothing
# (make_implicit_layer: its output is its own weights).
NO_PREVIOUS = frozenset({"route", "implicit"})


@dataclass(frozen=True)
class Ref:
    """One layer reference as written in the cfg (`layers=`/`from=`) and the absolute index darknet resolves."""

    layer: int  # the layer holding the reference
    key: str  # "layers" or "from"
    written: int
    absolute: int


def resolve_index(ref: int, at: int) -> int:
    """Darknet's layer reference rule: negative is relative to the current layer, otherwise absolute."""
    return at + ref if ref < 0 else ref


def layer_refs(layer: Layer, at: int) -> tuple[Ref, ...]:
    """The references of `layer` (at index `at`), as written and as resolved (sections.REFERENCE_KEYS)."""
    key = REFERENCE_KEYS.get(layer.type)
    if key is None:
        return ()
    v = layer[key]
    if v is None:
        return ()
    return tuple(Ref(at, key, int(r), resolve_index(int(r), at)) for r in (v if isinstance(v, tuple) else (v,)))


def references(layer: Layer, at: int) -> tuple[int, ...]:
    """Absolute indices of the layers `layer` (at index `at`) reads besides its predecessor."""
    return tuple(r.absolute for r in layer_refs(layer, at))


def layer_inputs(layer: Layer, at: int) -> tuple[int, ...]:
    """Every index `layer` reads, in the order darknet uses them: the previous layer (INPUT for layer 0) unless the
    section reads only its references, then the references. The one rule used by shapes, graph and run plan."""
    refs = references(layer, at)
    if layer.type in NO_PREVIOUS:
        return refs
    return (at - 1 if at else INPUT, *refs)
