"""Shapes are computed once per network: one `runtime.bench.measure` (and one `mixdesign bench` of a preset) calls
designer.infer_shapes exactly once; the model, the FMA count and the per-layer timing share the result."""

from __future__ import annotations

import sys

import pytest

import designer
import designer.shapes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def shape_calls(monkeypatch) -> list[int]:
    """Replace infer_shapes wherever a loaded module holds it (modules import it by name); count the calls."""
    import designer.cli.bench  # noqa: F401  (load every module that may hold it before patching)
    import runtime.bench  # noqa: F401
    import runtime.optimize.build  # noqa: F401

    original = designer.shapes.infer_shapes
    calls: list[int] = []

    def counted(network):
        calls.append(len(network.layers))
        return original(network)

    for mod in list(sys.modules.values()):
        if mod is None or not mod.__name__.startswith(("designer", "runtime")):
            continue
        for name, value in list(vars(mod).items()):
            if value is original:
                monkeypatch.setattr(mod, name, counted)
    return calls


@pytest.mark.parametrize("per_layer", [False, True])
def test_one_measure_infers_shapes_once(shape_calls, per_layer):
    from runtime.bench import measure

    network = designer.lower(designer.load_preset("mixnet-s"))
    r = measure(network, per_layer=per_layer, min_run_time=0.01)
    assert len(shape_calls) == 1, "measure() must infer shapes once (before this change: 4, 5 with per_layer)"
    assert r.fma == designer.count(network).fma


def test_mixdesign_bench_infers_shapes_once(shape_calls, monkeypatch, capsys):
    from designer.cli.main import main

    monkeypatch.setattr("runtime.bench.tune_cpu_allocator", lambda: True)
    assert main(["bench", "mixnet-s", "--min-run-time", "0.01", "--per-layer"]) == 0
    assert len(shape_calls) == 1
