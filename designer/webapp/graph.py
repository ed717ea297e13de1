"""The network as a graph: networkx layer graph, block/chunk groups, and Graphviz DOT text with expandable groups.

Nodes are Darknet layers, numbered as darknet numbers them (0 = first section after [net]); edges are "previous
layer" inputs and the references of [route] layers= / [shortcut] from= / [scale_channels] from=, read by the one
rule in designer.ir (layer_inputs: a [route] reads only its layers=, every other layer its predecessor too). Each
reference keeps the value written in the cfg and the absolute index it resolves to (designer.ir.Ref), because that
is what users get wrong. Node text is designer.describe.

Groups keep big networks readable: a design's blocks (designer.lower spans), or, for a cfg without a design,
chunks cut where the fewest tensors are live (runs between branch points, packed to a target size).
Pure Python: no streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from designer import Cost, Network, Shape
from designer.describe import describe
from designer.ir import INPUT, layer_inputs, layer_refs
from designer.lower import Span
from designer.webapp.fmt import si


@dataclass(frozen=True)
class Group:
    """Layers [start, end) shown as one node unless expanded."""

    label: str  # "b3.0", "stem", "head", "L12-L20"
    start: int
    end: int
    kind: str  # "stem", "block", "head", "chunk"
    title: str = ""

    def __contains__(self, index: int) -> bool:
        return self.start <= index < self.end


def layer_graph(network: Network, shapes: tuple[Shape, ...], cost: Cost) -> nx.DiGraph:
    """Nodes: INPUT and every layer (type, text, shape, params, fma); edges: kind 'prev' or 'ref' (with Ref)."""
    g = nx.DiGraph()
    c, h, w = network.input_shape
    g.add_node(INPUT, type="input", text=f"input {c}x{h}x{w}", out=(c, h, w), params=0, fma=0)
    for i, (L, s) in enumerate(zip(network.layers, shapes)):
        lc = cost.layers[i]
        g.add_node(i, type=L.type, text=describe(L, i), out=s.out, params=lc.params, fma=lc.fma)
        refs = {r.absolute: r for r in layer_refs(L, i)}
        for src in layer_inputs(L, i):
            ref = refs.get(src)
            g.add_edge(src, i, kind="prev" if ref is None else "ref", ref=ref)
    return g


# ------------------------------------------------------------------ groups


def block_groups(spans: Iterable[Span], titles: dict[str, str] | None = None) -> tuple[Group, ...]:
    titles = titles or {}
    return tuple(Group(s.label, s.start, s.end, s.kind, titles.get(s.label, "")) for s in spans)


def crossings(network: Network) -> list[int]:
    """crossings[p]: how many layers before p are still read at or after p (tensors live across the cut p-1|p)."""
    n = len(network.layers)
    last_use = list(range(n))
    for j, L in enumerate(network.layers):
        for src in layer_inputs(L, j):
            if src >= 0:
                last_use[src] = max(last_use[src], j)
    diff = [0] * (n + 2)
    for a, end in enumerate(last_use):
        if end > a:
            diff[a + 1] += 1
            diff[end + 1] -= 1
    out, run = [], 0
    for p in range(n + 1):
        run += diff[p]
        out.append(run)
    return out


def _type_summary(network: Network, start: int, end: int) -> str:
    counts: dict[str, int] = {}
    for L in network.layers[start:end]:
        name = "conv" if L.type == "convolutional" else L.type
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {t}" if n > 1 else t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def chunk_groups(network: Network, target: int = 10, max_size: int = 16) -> tuple[Group, ...]:
    """Chunks for a cfg without blocks: cut where one tensor is live (clean cuts), pack runs up to `target`
    layers, and split longer runs where the fewest tensors cross."""
    n = len(network.layers)
    cross = crossings(network)
    clean = [p for p in range(1, n) if cross[p] <= 1]
    segments, prev = [], 0
    for p in clean + [n]:
        if p > prev:
            segments.append((prev, p))
            prev = p
    pieces: list[tuple[int, int]] = []
    for s, e in segments:
        c = s
        while e - c > max_size:
            lo, hi = c + max(2, target // 2), c + max_size
            p = min(range(lo, hi + 1), key=lambda q: (cross[q], -q))
            pieces.append((c, p))
            c = p
        pieces.append((c, e))
    chunks: list[tuple[int, int]] = []
    for s, e in pieces:
        merged = e - chunks[-1][0] if chunks else 0
        small = e - s <= 2 or (chunks and chunks[-1][1] - chunks[-1][0] <= 2)
        if chunks and (merged <= target or (small and merged <= max_size)):
            chunks[-1] = (chunks[-1][0], e)
        else:
            chunks.append((s, e))
    return tuple(
        Group(f"L{s}-L{e - 1}" if e - s > 1 else f"L{s}", s, e, "chunk", _type_summary(network, s, e))
        for s, e in chunks
    )


def group_of(groups: tuple[Group, ...]) -> list[int]:
    """Layer index -> position of its group in `groups`."""
    out = [0] * (groups[-1].end if groups else 0)
    for gi, grp in enumerate(groups):
        for i in range(grp.start, grp.end):
            out[i] = gi
    return out


def reference_rows(network: Network, shapes: tuple[Shape, ...]) -> list[dict]:
    """Every reference: layer, key, the value written, the absolute index it resolves to, and what is there."""
    rows = []
    for i, L in enumerate(network.layers):
        for r in layer_refs(L, i):
            src = network.layers[r.absolute] if 0 <= r.absolute < len(network.layers) else None
            rows.append(
                {
                    "layer": i,
                    "type": L.type,
                    "key": r.key,
                    "written in cfg": r.written,
                    "resolves to layer": r.absolute,
                    "relative form": r.absolute - i,
                    "absolute form": r.absolute,
                    "source": describe(src, r.absolute) if src is not None else "?",
                    "source out (CxHxW)": "x".join(map(str, shapes[r.absolute].out)) if src is not None else "?",
                }
            )
    return rows


# ------------------------------------------------------------------ DOT

_FILL = {"convolutional": "#dbeafe", "route": "#fef3c7", "shortcut": "#dcfce7", "scale_channels": "#ede9fe",
         "avgpool": "#ede9fe", "input": "#f3f4f6", "softmax": "#fee2e2", "dropout": "#f3f4f6",
         "stem": "#e0f2fe", "block": "#e0e7ff", "head": "#fce7f3", "chunk": "#e0e7ff"}  # fmt: skip


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _lines(*lines: str) -> str:
    return "\\n".join(_esc(x) for x in lines if x)


def _layer_node(g: nx.DiGraph, i: int) -> str:
    d = g.nodes[i]
    if i == INPUT:
        label = d["text"]
    else:
        c, h, w = d["out"]
        label = _lines(
            f"{i}: {d['text']}",
            f"out {c}x{h}x{w}",
            f"{si(d['params'])} params, {si(d['fma'])} FMA" if d["params"] or d["fma"] else "",
        )
    return f'  n{i if i >= 0 else "in"} [label="{label}", fillcolor="{_FILL.get(d["type"], "#ffffff")}"];'


def _group_label(g: nx.DiGraph, grp: Group) -> str:
    params = sum(g.nodes[i]["params"] for i in range(grp.start, grp.end))
    fma = sum(g.nodes[i]["fma"] for i in range(grp.start, grp.end))
    c, h, w = g.nodes[grp.end - 1]["out"]
    span = f"L{grp.start}-L{grp.end - 1}" if grp.end - grp.start > 1 else f"L{grp.start}"
    head = grp.label if grp.kind == "chunk" else f"{grp.label}: {grp.title}" if grp.title else grp.label
    return _lines(
        head,
        f"{span} ({grp.end - grp.start} layers)" if grp.kind != "chunk" else grp.title,
        f"out {c}x{h}x{w}",
        f"{si(params)} params, {si(fma)} FMA",
    )


def to_dot(g: nx.DiGraph, groups: tuple[Group, ...], expanded: Iterable[str] = (), rankdir: str = "TB") -> str:
    """DOT text: collapsed groups are one node, expanded groups a cluster of their layers with every reference."""
    expanded = set(expanded)
    owner = group_of(groups)

    def node_id(i: int) -> str:
        if i == INPUT:
            return "nin"
        grp = groups[owner[i]]
        return f"n{i}" if grp.label in expanded else f"g{owner[i]}"

    out = [
        f"digraph G {{\n  rankdir={rankdir}; nodesep=0.25; ranksep=0.3;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.08,0.04"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#6b7280", arrowsize=0.6];',
        _layer_node(g, INPUT),
    ]
    for gi, grp in enumerate(groups):
        if grp.label in expanded:
            title = f"{grp.label}: {grp.title}" if grp.title and grp.kind != "chunk" else grp.label
            out.append(
                f'  subgraph cluster_{gi} {{\n    label="{_esc(title)}"; style="rounded"; color="#6366f1"; '
                f'fontname="Helvetica"; fontsize=10;'
            )
            out += ["  " + _layer_node(g, i) for i in range(grp.start, grp.end)]
            out.append("  }")
        else:
            out.append(
                f'  g{gi} [label="{_group_label(g, grp)}", fillcolor="{_FILL.get(grp.kind, "#ffffff")}", penwidth=1.4];'
            )
    seen: set[tuple[str, str, str]] = set()
    for a, b, d in g.edges(data=True):
        na, nb = node_id(a), node_id(b)
        if na == nb:
            continue
        ref = d["ref"]
        label = ""
        if ref is not None:  # the reference as written at layer b, and the layer it resolves to
            label = (
                f"{ref.key}={ref.written} = L{ref.absolute}"
                if nb.startswith("n")
                else f"L{b} {ref.key}={ref.written} = L{ref.absolute}"
            )
        key = (na, nb, label)
        if key in seen:
            continue
        seen.add(key)
        attrs = [f'label="{_esc(label)}"'] if label else []
        if ref is not None:
            attrs.append('style="dashed", color="#b45309", fontcolor="#b45309"')
        out.append(f"  {na} -> {nb}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"
