"""What a re-render of the app costs after one stage edit of MixNet-M, measured side by side in one run.

1. The pure-function path behind a re-render (no streamlit): table rows -> Arch (validate) -> lower + emit the cfg
   -> infer_shapes + count -> groups, networkx layer graph and DOT -> per-layer and per-stage tables. Every
   iteration edits a different SE ratio, so the design-level caches miss as they do for a user's new edit (the
   core's per-block lowering cache stays warm for the unchanged blocks, as it does in the app).
2. The same with every cache cleared first (the first edit after a server start).
3. An AppTest rerun of the Design page after one edit, and a plain rerun for comparison. Under AppTest the edit
   is applied by the page body, which then calls st.rerun(): two script runs, where a browser session applies it
   in the editor's callback and runs the script once.
4. The graph path for yolov4.cfg (a large cfg without a design: chunking), if ../shared is present.

Run: python benchmarks/bench_app.py [--repeat N]. Prints the figures; tests never assert on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import designer  # noqa: E402
from designer.webapp import analysis, graph, model, stages  # noqa: E402


def render_path(arch: designer.Arch, rows: list[dict]) -> tuple[int, int]:
    """Everything the Design/Graph/Numbers pages compute for a new design after an edit."""
    new, issues = stages.with_rows(arch, rows)
    assert new is not None, issues
    low = model.lowered(new)
    a = analysis.analyse(low.network, low.spans, new)
    g = graph.layer_graph(a.network, a.shapes, a.cost)
    dot = graph.to_dot(g, a.groups, ("b3.0",))
    analysis.layer_records(a)
    analysis.stage_records(a)
    stages.table_records(new, rows, [])
    return a.cost.fma, len(dot)


def clear_caches() -> None:
    model._lower_arch.cache_clear()
    block = getattr(sys.modules["designer.lower"], "_lower_block", None)  # the core's per-block cache
    if block is not None:
        block.cache_clear()


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    q1, q3 = xs[len(xs) // 4], xs[(3 * len(xs)) // 4]
    return f"median {statistics.median(xs) * 1e3:7.2f} ms  (IQR {(q3 - q1) * 1e3:5.2f} ms, n={len(xs)})"


def bench_pure(repeat: int) -> None:
    arch = designer.load_preset("mixnet-m")
    base = stages.arch_rows(arch)
    warm, cold = [], []
    for i in range(repeat):
        rows = [dict(r) for r in base]
        rows[3]["SE ratio"] = 0.30 + 0.001 * i  # a new design every iteration
        t = time.perf_counter()
        render_path(arch, rows)
        warm.append(time.perf_counter() - t)
    for i in range(max(5, repeat // 4)):
        rows = [dict(r) for r in base]
        rows[3]["SE ratio"] = 0.60 + 0.001 * i
        clear_caches()
        t = time.perf_counter()
        render_path(arch, rows)
        cold.append(time.perf_counter() - t)
    low = model.lowered(arch)
    print(f"MixNet-M: {len(low.network.layers)} darknet layers, {len(low.spans)} groups in the graph")
    print(f"pure re-render path after one stage edit      {ms(warm)}")
    print(f"  same, every cache cleared first               {ms(cold)}")
    # the parts, warm
    parts: dict[str, list[float]] = {
        k: [] for k in ("validate+rows", "lower+emit", "shapes+count", "graph+DOT", "tables")
    }
    for i in range(repeat):
        rows = [dict(r) for r in base]
        rows[3]["SE ratio"] = 0.20 + 0.001 * i
        t0 = time.perf_counter()
        new, _ = stages.with_rows(arch, rows)
        t1 = time.perf_counter()
        low = model.lowered(new)
        t2 = time.perf_counter()
        a = analysis.analyse(low.network, low.spans, new)
        t3 = time.perf_counter()
        graph.to_dot(graph.layer_graph(a.network, a.shapes, a.cost), a.groups, ("b3.0",))
        t4 = time.perf_counter()
        analysis.layer_records(a), analysis.stage_records(a), stages.table_records(new, rows, [])
        t5 = time.perf_counter()
        for k, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            parts[k].append(dt)
    for k, v in parts.items():
        print(f"  {k:<14}                               {ms(v)}")


def bench_apptest(repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    from designer.webapp.apptest import edit_table  # fires the stage editor's callback, as a browser edit does

    at = AppTest.from_file(str(REPO / "designer" / "app.py"), default_timeout=120)
    t = time.perf_counter()
    at.run()
    first = time.perf_counter() - t
    plain, edit = [], []
    for i in range(repeat):
        t = time.perf_counter()
        at.run()
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        edit_table(at, {"edited_rows": {3: {"SE ratio": 0.30 + 0.001 * i}}})  # as the browser sends an edit
        edit.append(time.perf_counter() - t)
        assert at.session_state["_mixdesign"].design.blocks[3].se_ratio == 0.30 + 0.001 * i
    print(f"AppTest first run of the Design page          {first * 1e3:7.2f} ms (imports, cold caches)")
    print(f"AppTest rerun, no edit                        {ms(plain)}")
    print(f"AppTest rerun after one stage edit            {ms(edit)}  (two script runs, see docstring)")


def bench_large() -> None:
    path = REPO.parent / "shared" / "darknet" / "cfg" / "yolov4.cfg"
    if not path.is_file():
        print(f"yolov4 graph: skipped ({path} is absent)")
        return
    net = designer.parse_cfg(path)
    times, n_groups, dot_len = [], 0, 0
    for _ in range(10):
        t = time.perf_counter()
        a = analysis.analyse(net)
        g = graph.layer_graph(a.network, a.shapes, a.cost)
        dot = graph.to_dot(g, a.groups)
        times.append(time.perf_counter() - t)
        n_groups, dot_len = len(a.groups), len(dot)
    all_dot = graph.to_dot(g, a.groups, [grp.label for grp in a.groups])
    print(
        f"yolov4.cfg ({len(net.layers)} layers -> {n_groups} chunks, DOT {dot_len} chars; all expanded "
        f"{len(all_dot)} chars): shapes+count+chunks+graph+DOT {ms(times)}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=40)
    args = p.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    bench_pure(args.repeat)
    bench_apptest(max(5, args.repeat // 4))
    bench_large()


if __name__ == "__main__":
    main()
