"""The Darknet layer list (IR): what a cfg file means, independent of how it was spelled.

A `Layer` holds the resolved value of every key its section reads (sections.py), defaults filled in, so two
cfgs that darknet reads identically give equal IR even when one spells `[conv]` and writes `stride=1`
explicitly. Unused keys, duplicates and the like are not part of the meaning: the reader reports them as
`Diagnostic`s (what `lint` prints), which do not take part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Literal

from designer.sections import SECTIONS, Value


class CfgError(ValueError):
    """A cfg darknet would reject or mis-read. `line` is 1-based (0 when the layer was not read from text)."""

    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)


Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Layer:
    """One section: its canonical type and every key's resolved value, in section-table order."""

    type: str
    params: tuple[tuple[str, Value], ...]
    line: int = field(default=0, compare=False)

    @cached_property
    def _map(self) -> dict[str, Value]:
        return dict(self.params)

    def __getitem__(self, key: str) -> Value:
        return self._map[key]

    def get(self, key: str, default: Value = None) -> Value:
        v = self._map.get(key)
        return default if v is None else v

    def set(self, **changes: Value) -> "Layer":
        """A copy with some keys changed (keys must belong to the section)."""
        unknown = [k for k in changes if k not in self._map]
        if unknown:
            raise KeyError(f"[{self.type}] does not read {', '.join(unknown)}")
        return Layer(self.type, tuple((k, changes.get(k, v)) for k, v in self.params), self.line)


def make_layer(type_: str, line: int = 0, **values: Value) -> Layer:
    """A layer of a known section type; keys not given take darknet's defaults."""
    sec = SECTIONS[type_]
    from designer.sections import COMMON_KEYS

    specs = sec.keys + (COMMON_KEYS if type_ != "net" else ())
    names = {k.name for k in specs}
    unknown = [k for k in values if k not in names]
    if unknown:
        raise KeyError(f"[{type_}] does not read {', '.join(unknown)}")
    return Layer(type_, tuple((k.name, values.get(k.name, k.default)) for k in specs), line)


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


def resolve_index(ref: int, at: int) -> int:
    """Darknet's layer reference rule: negative is relative to the current layer, otherwise absolute."""
    return at + ref if ref < 0 else ref


def references(layer: Layer, at: int) -> tuple[int, ...]:
    """Absolute indices of the layers `layer` (at index `at`) reads besides its predecessor."""
    from designer.sections import REFERENCE_KEYS

    key = REFERENCE_KEYS.get(layer.type)
    if key is None:
        return ()
    v = layer[key]
    if v is None:
        return ()
    refs = v if isinstance(v, tuple) else (v,)
    return tuple(resolve_index(int(r), at) for r in refs)
