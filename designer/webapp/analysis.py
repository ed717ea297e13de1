"""Everything the pages show about one network, derived by the pure core functions (infer_shapes, count).

`analyse(network, spans, arch)` returns an `Analysis`: shapes, cost, the groups the graph collapses to (a design's
blocks, or chunks for a cfg without one), a stage for every layer (block row for designs), the per-layer table
and the per-stage totals. designer/webapp/cache.py caches it on the cfg text. Pure: no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer import Arch, Cost, Network, Shape, count, infer_shapes, resolve
from designer.describe import describe
from designer.lower import Span
from designer.spec import head_channels, round_filters
from designer.webapp.graph import Group, block_groups, chunk_groups


@dataclass(frozen=True)
class Analysis:
    network: Network
    shapes: tuple[Shape, ...]
    cost: Cost
    groups: tuple[Group, ...]
    stage_of: tuple[str, ...]  # per layer: "stem", "row 3", "head" (designs) or a chunk label

    def summary(self) -> dict[str, float]:
        c = self.cost
        return {
            "params": c.params,
            "params_stored": c.params_stored,
            "fma": c.fma,
            "flops": c.flops,
            "bflops": c.bflops,
            "layers": len(self.network.layers),
        }


def block_titles(arch: Arch) -> dict[str, str]:
    """Span label -> short description of what that block is ('k3.5.7.9 e6 s2 se0.5 dw 40>240>80 swish')."""
    out = {}
    s = arch.stem
    out["stem"] = f"conv {s.kernel}x{s.kernel}/{s.stride} {round_filters(s.channels, arch.width_mult)}f {s.activation}"
    for rb in resolve(arch):
        b = rb.spec
        parts = [f"k{'.'.join(map(str, b.kernels))}", f"e{b.expand_ratio:g}", f"s{rb.stride}"]
        if rb.se_channels:
            parts.append(f"se{b.se_ratio:g}")
        parts.append(f"gs{b.dw_group_size}" if b.dw_group_size else "dw")
        parts.append(f"{rb.in_channels}>{rb.mid_channels}>{rb.out_channels}")
        parts.append(b.activation)
        out[rb.label] = " ".join(parts)
    out["head"] = f"conv 1x1 {head_channels(arch)}f, avgpool, FC {arch.classes}"
    return out


def _stage_label(group: Group) -> str:
    if group.kind == "block":
        return "row " + group.label[1:].split(".")[0]
    return group.label


def analyse(network: Network, spans: tuple[Span, ...] | None = None, arch: Arch | None = None) -> Analysis:
    shapes = infer_shapes(network)
    cost = count(network, shapes)
    if spans is not None:
        groups = block_groups(spans, block_titles(arch) if arch is not None else None)
    else:
        groups = chunk_groups(network)
    stage_of = [""] * len(network.layers)
    for grp in groups:
        for i in range(grp.start, grp.end):
            stage_of[i] = _stage_label(grp)
    return Analysis(network, shapes, cost, groups, tuple(stage_of))


def layer_records(a: Analysis) -> list[dict]:
    """The per-layer table: one row per darknet layer, units in the column names."""
    fma_total = a.cost.fma or 1
    rows = []
    for i, (L, s, lc) in enumerate(zip(a.network.layers, a.shapes, a.cost.layers)):
        rows.append(
            {
                "layer": i,
                "stage": a.stage_of[i],
                "type": L.type,
                "what": describe(L, i),
                "out (CxHxW)": f"{s.c}x{s.h}x{s.w}",
                "params": lc.params,
                "params stored": lc.params_stored,
                "FMA (multiply-adds)": lc.fma,
                "FMA share %": round(100 * lc.fma / fma_total, 2),
                "Darknet BFLOPs": round(lc.bflops, 6),
            }
        )
    return rows


def stage_records(a: Analysis) -> list[dict]:
    """Totals per stage, in network order."""
    order: list[str] = []
    acc: dict[str, dict] = {}
    for i, lc in enumerate(a.cost.layers):
        st = a.stage_of[i]
        if st not in acc:
            order.append(st)
            acc[st] = {
                "stage": st,
                "layers": 0,
                "params": 0,
                "FMA (multiply-adds)": 0,
                "Darknet BFLOPs": 0.0,
                "out (CxHxW)": "",
            }
        r = acc[st]
        r["layers"] += 1
        r["params"] += lc.params
        r["FMA (multiply-adds)"] += lc.fma
        r["Darknet BFLOPs"] += lc.bflops
        r["out (CxHxW)"] = "x".join(map(str, a.shapes[i].out))
    return [acc[s] for s in order]
