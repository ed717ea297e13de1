"""Sweeps (designer/explore): axis parsing, grid and seeded samples, invalid points with their reason, the Pareto
front against its brute-force definition, the JSON-lines trial store, interleaved rounds and resuming after an
interruption. Count-only or a stubbed measurement: no torch here (the runtime paths are in test_explore_runtime)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import designer
from designer import count, gpu_variant, load_preset, lower
from designer.explore import runner
from designer.explore.pareto import dominates, pareto_front
from designer.explore.runner import Settings
from designer.explore.space import SweepSpecError, apply, grid, parse_axes, parse_axis, sample, space_size
from designer.explore.store import JsonlStore
from designer.explore.sweep import plan_sweep, run_sweep


@pytest.fixture()
def mixnet_s():
    return load_preset("mixnet-s")


# ------------------------------------------------------------------ axes

def test_parse_axes_keys_values_and_errors(mixnet_s):
    a = parse_axis("row3.kernels=3.5.7.9|3.5|3", mixnet_s)
    assert a.values == ((3, 5, 7, 9), (3, 5), (3,))
    assert parse_axis("width-mult=0.75,1.0,1.0").values == (0.75, 1.0)  # duplicates dropped
    assert parse_axis("dw-group-size=1|2").values == (1, 2)
    with pytest.raises(SweepSpecError, match="unknown key; the keys are width-mult"):
        parse_axis("widthmult=1")
    with pytest.raises(SweepSpecError, match="rows 0..10"):
        parse_axis("row11.se=0.5", mixnet_s)
    with pytest.raises(SweepSpecError, match="'x' is not a number"):
        parse_axis("depth-mult=1,x")
    with pytest.raises(SweepSpecError, match="not a finite number"):
        parse_axis("width-mult=nan")
    with pytest.raises(SweepSpecError, match="KEY=VALUES"):
        parse_axis("size")
    with pytest.raises(SweepSpecError, match="given twice"):
        parse_axes(["size=64", "size=96"])


def test_point_applies_rows_then_scaling_then_gpu_variant():
    mixnet_m = load_preset("mixnet-m")
    axes = parse_axes(["row3.kernels=3.5", "row3.se=0", "width-mult=0.75", "dw-group-size=2"], mixnet_m)
    (values,) = grid(axes)
    p = apply(mixnet_m, values)
    rows = list(mixnet_m.blocks)
    rows[3] = replace(rows[3], kernels=(3, 5), se_ratio=0.0)
    expected = gpu_variant(replace(mixnet_m, blocks=tuple(rows), width_mult=0.75), 2)
    assert p.arch == expected and p.reason == ""
    assert p.label == "row3.kernels=3.5, row3.se=0.0, width-mult=0.75, dw-group-size=2"


def test_invalid_points_are_listed_with_validate_reason(mixnet_s):
    # width scaling never gives an invalid design (issue 12 rounds); an input below the total stride does
    pts = runner.designs_of([apply(mixnet_s, v) for v in grid(parse_axes(["size=16,224"]))])
    designs, invalid = pts
    assert [d.point.label for d in designs] == ["size=224"]
    assert [p.label for p in invalid] == ["size=16"]
    assert "smaller than the total stride 32" in invalid[0].reason
    assert invalid[0].reason == str(designer.DesignError(designer.validate(replace(mixnet_s, input_size=16))))


def test_grid_and_seeded_samples(mixnet_s):
    axes = parse_axes(["width-mult=0.75,1.0,1.25", "dw-group-size=1,2,4,8", "size=128,160,192,224"])
    assert space_size(axes) == 48 and len(set(grid(axes))) == 48
    s1, s2 = sample(axes, 10, seed=3), sample(axes, 10, seed=3)
    assert s1 == s2 and len(set(s1)) == 10 and set(s1) <= set(grid(axes))
    assert sample(axes, 10, seed=4) != s1
    assert sample(axes, 100, seed=0) == grid(axes)  # more samples than points: the grid


# ------------------------------------------------------------------ Pareto

vectors = st.lists(st.tuples(*(st.integers(0, 6),) * 3), min_size=0, max_size=25)


@settings(max_examples=200, deadline=None)
@given(vectors)
def test_pareto_front_is_the_brute_force_definition(points):
    brute = [not any(dominates(q, p) for q in points) for p in points]
    assert pareto_front(points) == brute


@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 4))), max_size=12))
def test_points_with_a_missing_objective_are_off_the_front(points):
    flags = pareto_front(points)
    full = [p for p in points if None not in p]
    for p, f in zip(points, flags):
        if None in p:
            assert not f
        else:
            assert f == (not any(dominates(q, p) for q in full))


def no_trials(*_):
    raise AssertionError("a count-only sweep measures nothing")


def test_count_only_front_matches_counts(mixnet_s, tmp_path):
    axes = parse_axes(["width-mult=0.75,1.0,1.25", "dw-group-size=1,4"])
    plan = plan_sweep(load_preset("mixnet-m"), axes, Settings(measure=("count",)))
    rows = run_sweep(plan, JsonlStore(tmp_path / "s.jsonl"), no_trials)
    assert len(rows) == 6 and all(r["valid"] for r in rows)
    for r in rows:
        arch = apply(load_preset("mixnet-m"), tuple((k, r[k]) for k in ("width-mult", "dw-group-size"))).arch
        c = count(lower(arch, with_design=False))
        assert (r["params"], r["fma"]) == (c.params, c.fma)
    assert [r["design"] for r in rows if r["pareto_count"]] == ["width-mult=0.75, dw-group-size=1"]


# ------------------------------------------------------------------ store, rounds, resume

class Stop(Exception):
    pass


class FakeTrials:
    """A trial function without torch: a latency from the design's FMA, and a log of what was measured."""

    def __init__(self):
        self.calls: list[tuple[int, str]] = []

    def __call__(self, cfg_text, kind, s):
        n = designer.parse_cfg(cfg_text)
        self.calls.append((count(n).fma, kind))
        ms = count(n).fma / 1e6 * (3 if kind == "train" else 1)
        return {"median_ms": ms, "iqr_ms": 0.1, "device_name": "fake", "threads": 1, "backend": "torch",
                "mode": kind, "trial_s": 0.0}


def test_rounds_interleave_designs_in_rotated_order(tmp_path):
    axes = parse_axes(["width-mult=0.75,1.0,1.25"])
    plan = plan_sweep(load_preset("mixnet-m"), axes, Settings(measure=("infer",), rounds=3))
    fake = FakeTrials()
    run_sweep(plan, JsonlStore(tmp_path / "s.jsonl"), fake)
    fmas = [d.fma for d in plan.designs]
    order = [fmas.index(f) for f, _ in fake.calls]
    assert order == [0, 1, 2, 1, 2, 0, 2, 0, 1]


def test_resume_after_interruption_measures_only_the_rest(tmp_path):
    base = load_preset("mixnet-m")
    axes = parse_axes(["width-mult=0.75,1.0", "dw-group-size=1,2,4"])
    store_path = tmp_path / "s.jsonl"
    plan = plan_sweep(base, axes, Settings(measure=("count", "infer", "train"), rounds=2))
    assert len(plan.trials) == 6 * 2 * 2
    fake = FakeTrials()

    def stops_after_5(*a):
        if len(fake.calls) == 5:
            raise Stop  # Ctrl-C in the middle of the sixth trial
        return fake(*a)

    with pytest.raises(Stop):
        run_sweep(plan, JsonlStore(store_path), stops_after_5)
    assert len(store_path.read_text().splitlines()) == 1 + 5  # the sweep header and the five finished trials
    again = plan_sweep(base, axes, Settings(measure=("count", "infer", "train"), rounds=2))
    assert again.sweep_id == plan.sweep_id
    rows = run_sweep(again, JsonlStore(store_path), fake)
    assert len(fake.calls) == 5 + 19 and again.measured == 19
    assert all(r["infer_rounds"] == 2 and r["train_rounds"] == 2 for r in rows)
    # what the fake says: latency grows with FMA, so the front is the smallest design on every front
    assert [r["design"] for r in rows if r["pareto_infer"]] == ["width-mult=0.75, dw-group-size=1"]
    # a third run measures nothing
    assert run_sweep(plan_sweep(base, axes, Settings(measure=("count", "infer", "train"), rounds=2)),
                     JsonlStore(store_path), fake) == rows
    assert len(fake.calls) == 24


def test_store_skips_a_line_cut_short_and_keeps_appending(tmp_path):
    path = tmp_path / "t.jsonl"
    s = JsonlStore(path)
    s.record_sweep("sw", {"a": 1})
    s.record("k1", {"sweep_id": "sw", "median_ms": 1.0})
    with open(path, "a") as f:
        f.write('{"type":"trial","key":"k2","sweep_id":"sw","med')  # killed mid-write
    fresh = JsonlStore(path)
    assert fresh.done("k1")["median_ms"] == 1.0 and fresh.done("k2") is None
    fresh.record("k2", {"sweep_id": "sw", "median_ms": 2.0})
    again = JsonlStore(path)
    assert [r["key"] for r in again.list("sw")] == ["k1", "k2"]
    assert [s["sweep_id"] for s in again.sweeps()] == ["sw"]
    assert all(json.loads(x) for x in path.read_text().splitlines()[-1:])


def test_cli_sweep_count_only_table_and_csv(tmp_path, capsys):
    from designer.cli.main import main

    out = tmp_path / "r.csv"
    rc = main(["sweep", "mixnet-s", "--vary", "width-mult=0.5,1.0", "--vary", "row3.kernels=3.5.7|3", "--measure",
               "count", "--store", str(tmp_path / "s.jsonl"), "--out", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "384 -> 385" in cap.out and "front:count" in cap.out  # width 0.5: rounded to 5 equal kernel slices
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 4 and lines[0].startswith("design,")
    assert main(["sweep", "mixnet-s", "--vary", "row99.se=1", "--store", str(tmp_path / "s.jsonl")]) == 2
    assert "rows 0..10" in capsys.readouterr().err


def test_cli_refuses_an_unknown_backend(tmp_path, capsys):
    from designer.cli.main import main

    with pytest.raises(SystemExit) as e:  # argparse: the one backend list, runtime.deploy.BACKEND_LABELS
        main(["sweep", "mixnet-s", "--vary", "size=64", "--backend", "tensorrt", "--store", str(tmp_path / "s")])
    assert e.value.code == 2 and "invalid choice: 'tensorrt' (choose from 'torch', 'onnxruntime', 'openvino')" in \
        capsys.readouterr().err
    from runtime.explore import check_backend

    with pytest.raises(designer.errors.MixdesignError, match="unknown backend"):  # the runner's own check
        check_backend("tensorrt")
