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
from designer.explore.space import (
    SweepSpecError,
    apply,
    grid,
    parse_axes,
    parse_axis,
    sample,
    space_size,
)
from designer.explore.store import JsonlStore
from designer.explore.sweep import failures, plan_sweep, run_sweep, summary
from designer.machine import Fingerprint
from tests.conftest import falling_latency_model


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
        return {
            "median_ms": ms,
            "iqr_ms": 0.1,
            "device_name": "fake",
            "threads": 1,
            "backend": "torch",
            "mode": kind,
            "trial_s": 0.0,
        }


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
    assert (
        run_sweep(
            plan_sweep(base, axes, Settings(measure=("count", "infer", "train"), rounds=2)),
            JsonlStore(store_path),
            fake,
        )
        == rows
    )
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
    rc = main(
        [
            "sweep",
            "mixnet-s",
            "--vary",
            "width-mult=0.5,1.0",
            "--vary",
            "row3.kernels=3.5.7|3",
            "--measure",
            "count",
            "--store",
            str(tmp_path / "s.jsonl"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
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
    assert (
        e.value.code == 2
        and "invalid choice: 'tensorrt' (choose from 'torch', 'onnxruntime', 'openvino')" in capsys.readouterr().err
    )
    from runtime.explore import check_backend

    with pytest.raises(designer.errors.MixdesignError, match="unknown backend"):  # the runner's own check
        check_backend("tensorrt")


# ------------------------------------------------------------------ Pareto front against cases worked by hand


@pytest.mark.parametrize(
    "points, front",
    [
        # one objective: the minimum (ties are both on the front)
        ([(3.0,), (1.0,), (2.0,), (1.0,)], [False, True, False, True]),
        # two objectives: (1,5) (2,4) (3,3) trade off; (2,6) is beaten by (1,5), (4,4) by (3,3)
        ([(1, 5), (2, 4), (3, 3), (2, 6), (4, 4)], [True, True, True, False, False]),
        # equal on all but one objective: only the better one stays, whichever objective it is
        ([(1, 2, 3), (1, 2, 4)], [True, False]),
        ([(1, 3, 3), (1, 2, 3)], [False, True]),
        ([(2, 2, 3), (1, 2, 3)], [False, True]),
        # a missing objective keeps a point off the front and out of the comparison
        ([(1, None), (2, 2), (3, 1)], [False, True, True]),
    ],
)
def test_pareto_front_on_cases_worked_by_hand(points, front):
    assert pareto_front(points) == front


@pytest.mark.parametrize(
    "key, better, worse", [("infer_ms", 1.0, 2.0), ("fma", 10, 20), ("params", 5, 6), ("accuracy", 0.9, 0.8)]
)
def test_each_objective_alone_decides_the_front(key, better, worse):
    """Two rows equal on every objective but one: the better one (lower, or higher accuracy) is the front."""
    keys = ("infer_ms", "fma", "params", "accuracy")
    same = {"infer_ms": 1.5, "fma": 15, "params": 5, "accuracy": 0.85}
    rows = [{**same, key: worse}, {**same, key: better}]
    assert pareto_front([runner.objectives(r, keys) for r in rows]) == [False, True]


# ------------------------------------------------------------------ medians, settings, machines


class RoundTrials:
    """Per-round latencies that differ: the n-th call for a design returns VALUES[n] x (its FMA in millions)."""

    VALUES = (3.0, 1.0, 2.5)

    def __init__(self):
        self.calls: dict[int, int] = {}

    def __call__(self, cfg_text, kind, s):
        fma = count(designer.parse_cfg(cfg_text)).fma
        n = self.calls.get(fma, 0)
        self.calls[fma] = n + 1
        return {
            "median_ms": self.VALUES[n % 3] * fma / 1e6,
            "iqr_ms": 0.01 * (n + 1),
            "device_name": "fake",
            "threads": 1,
            "backend": s.get("backend", "torch"),
            "mode": kind,
            "trial_s": 0.0,
        }


def test_a_design_is_the_median_of_its_rounds_and_its_spread_their_range(tmp_path):
    plan = plan_sweep(
        load_preset("mixnet-m"), parse_axes(["width-mult=0.75,1.0"]), Settings(measure=("infer",), rounds=3)
    )
    rows = run_sweep(plan, JsonlStore(tmp_path / "s.jsonl"), RoundTrials())
    for r in rows:
        m = r["fma"] / 1e6
        assert r["infer_ms"] == pytest.approx(2.5 * m)  # the median of 3, 1, 2.5 (not the mean 2.17, not the last)
        assert r["infer_spread_ms"] == pytest.approx(2.0 * m)  # 3 - 1
        assert r["infer_iqr_ms"] == pytest.approx(0.02) and r["infer_rounds"] == 3


def test_a_changed_batch_or_backend_measures_again(tmp_path):
    base, axes = load_preset("mixnet-m"), parse_axes(["width-mult=0.75,1.0"])
    store = JsonlStore(tmp_path / "s.jsonl")
    fake = FakeTrials()
    first = plan_sweep(base, axes, Settings(measure=("infer",), rounds=2))
    run_sweep(first, store, fake)
    assert len(fake.calls) == 4
    for changed in (
        Settings(measure=("infer",), rounds=2, batch=2),
        Settings(measure=("infer",), rounds=2, backend="onnxruntime"),
    ):
        p = plan_sweep(base, axes, changed)
        run_sweep(p, store, fake)
        assert p.measured == 4  # nothing reused from the batch-1 torch trials
        # and within one sweep id, the trial key alone keeps another setting's timings out of the summary
        alias = replace(
            p, sweep_id=first.sweep_id, trials=runner.plan(first.sweep_id, p.designs, changed, p.machine.key)
        )
        assert all(r["infer_ms"] is None for r in summary(alias, store))
    assert len(fake.calls) == 12


def test_machine_b_never_reuses_machine_a_timings(tmp_path):
    base, axes = load_preset("mixnet-m"), parse_axes(["width-mult=0.75,1.0"])
    store = JsonlStore(tmp_path / "shared.jsonl")
    a, b = (Fingerprint(cpu=f"CPU {x}", cores=2, system="Linux x86_64") for x in "AB")
    plan_a = plan_sweep(base, axes, Settings(measure=("infer",), rounds=1), machine=a)
    plan_b = plan_sweep(base, axes, Settings(measure=("infer",), rounds=1), machine=b)
    assert plan_a.sweep_id == plan_b.sweep_id and {t.key for t in plan_a.trials}.isdisjoint(
        t.key for t in plan_b.trials
    )
    run_sweep(plan_a, store, FakeTrials())
    slow = FakeTrials()
    rows_b = run_sweep(plan_b, store, lambda *x: {**slow(*x), "median_ms": 99.0})
    assert plan_b.measured == 2 and len(slow.calls) == 2
    assert all(r["infer_ms"] == 99.0 for r in rows_b)
    assert all(r["infer_ms"] == r["fma"] / 1e6 for r in summary(plan_a, store))  # A's own, untouched by B's


# ------------------------------------------------------------------ failures, invalid points, unstable trials


def failing_for(fma: int, inner):
    """A trial function that raises a MixdesignError for the design with this FMA (as a too-small batch does)."""
    calls = []

    def trial(cfg_text, kind, s):
        calls.append((count(designer.parse_cfg(cfg_text)).fma, kind))
        if calls[-1][0] == fma:
            raise designer.errors.MixdesignError("batch 1: BatchNorm needs more than one value per channel")
        return inner(cfg_text, kind, s)

    trial.calls = calls
    return trial


def test_a_failing_design_is_recorded_and_the_sweep_goes_on(tmp_path):
    base, axes = load_preset("mixnet-m"), parse_axes(["width-mult=0.75,1.0,1.25"])
    store = JsonlStore(tmp_path / "s.jsonl")
    plan = plan_sweep(base, axes, Settings(measure=("infer",), rounds=2))
    bad = plan.designs[1].fma
    trial = failing_for(bad, FakeTrials())
    rows = run_sweep(plan, store, trial)
    assert len(trial.calls) == 6  # every trial ran: the failure did not stop the sweep
    assert [(d, k, r) for d, k, r, _ in failures(plan, store)] == [
        (plan.designs[1].point.label, "infer", 0),
        (plan.designs[1].point.label, "infer", 1),
    ]
    assert "BatchNorm needs more than one value" in failures(plan, store)[0][3]
    (row,) = [r for r in rows if r["fma"] == bad]
    assert row["infer_ms"] is None and "infer round 1 failed: batch 1: BatchNorm" in row["failed"]
    assert not row["pareto_infer"] and sum(r["infer_ms"] is not None for r in rows) == 2
    # a rerun measures nothing twice: neither the good trials nor the failed ones
    again = plan_sweep(base, axes, Settings(measure=("infer",), rounds=2))
    run_sweep(again, store, trial)
    assert len(trial.calls) == 6 and again.measured == 0
    # unless asked: --retry-failed measures the failed ones (only those) again
    fixed = FakeTrials()
    rows = run_sweep(again, store, fixed, retry_failed=True)
    assert again.measured == 2 and {f for f, _ in fixed.calls} == {bad} and failures(again, store) == []
    assert all(r["infer_ms"] is not None for r in rows)


def test_invalid_points_are_trials_with_their_reason(tmp_path):
    store = JsonlStore(tmp_path / "s.jsonl")
    plan = plan_sweep(load_preset("mixnet-s"), parse_axes(["size=16,64"]), Settings(measure=("count",)))
    run_sweep(plan, store, no_trials)
    recs = [r for r in store.list(plan.sweep_id) if r.get("status") == "invalid"]
    assert [r["label"] for r in recs] == ["size=16"] and "stride" in recs[0]["message"]
    run_sweep(plan, store, no_trials)
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert len(store.list(plan.sweep_id)) == 1 and sum('"invalid"' in ln for ln in lines) == 1  # recorded once


def test_unstable_trials_are_measured_once_more_at_the_end(tmp_path):
    base, axes = load_preset("mixnet-m"), parse_axes(["width-mult=0.75,1.0"])
    store = JsonlStore(tmp_path / "s.jsonl")
    plan = plan_sweep(base, axes, Settings(measure=("infer",), rounds=2))
    shaky = plan.designs[0].fma
    inner = FakeTrials()

    def trial(cfg_text, kind, s):
        r = inner(cfg_text, kind, s)
        first_time = inner.calls[-1][0] == shaky and sum(f == shaky for f, _ in inner.calls) == 1
        return {**r, "unstable": "2.0 of 2 cores busy while timing" if first_time else None}

    rows = run_sweep(plan, store, trial)
    assert len(inner.calls) == 4 + 1 and plan.remeasured == 1  # the one unstable round, once, at the end
    assert inner.calls[-1][0] == shaky
    (row,) = [r for r in rows if r["fma"] == shaky]
    assert row["infer_rounds"] == 3 and row["infer_unstable"].startswith("1 of 3 rounds unstable: 2.0 of 2 cores")
    assert all(r["infer_unstable"] is None for r in rows if r["fma"] != shaky)
    run_sweep(plan_sweep(base, axes, Settings(measure=("infer",), rounds=2)), store, trial)
    assert len(inner.calls) == 5  # a rerun measures nothing twice, re-measurements included


def test_cli_sweep_lists_failures_and_exits_1_then_a_rerun_measures_nothing(tmp_path, capsys, monkeypatch):
    import runtime.explore
    from designer.cli.main import main

    bad = count(lower(apply(load_preset("mixnet-s"), (("width-mult", 1.0),)).arch)).fma
    trial = failing_for(bad, FakeTrials())
    monkeypatch.setattr(runtime.explore, "run_trial", trial)
    argv = [
        "sweep",
        "mixnet-s",
        "--vary",
        "width-mult=0.5,1.0",
        "--measure",
        "count,infer",
        "--rounds",
        "1",
        "--store",
        str(tmp_path / "s.jsonl"),
        "--no-progress",
    ]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "1 trial(s) failed" in err and "width-mult=1.0: infer round 1: batch 1: BatchNorm" in err
    assert "infer round 1 failed" in out  # the table's note
    assert main(argv) == 1 and len(trial.calls) == 2  # still failed, nothing measured twice
    capsys.readouterr()


def test_printed_front_marks_only_the_front(tmp_path, capsys):
    from designer.cli.main import main

    assert (
        main(
            [
                "sweep",
                "mixnet-s",
                "--vary",
                "width-mult=0.5,0.75,1.0",
                "--measure",
                "count",
                "--store",
                str(tmp_path / "s.jsonl"),
                "--no-progress",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    body = [ln for ln in lines if ln.lstrip().startswith(("0.5", "0.75", "1.0"))]
    assert len(body) == 3
    # over (FMA, params) the narrowest design is smaller in both: it alone is the front
    assert [ln.split()[0] for ln in body if "*" in ln] == ["0.5"]


def test_cli_sweep_shows_unstable_figures_with_why_and_the_fix(tmp_path, capsys, monkeypatch):
    import runtime.explore
    from designer.cli.main import main

    inner = FakeTrials()
    monkeypatch.setattr(runtime.explore, "run_trial", lambda *a: {**inner(*a), "unstable": "1.9 of 2 cores busy"})
    assert (
        main(
            [
                "sweep",
                "mixnet-s",
                "--vary",
                "width-mult=0.5,1.0",
                "--measure",
                "infer",
                "--rounds",
                "1",
                "--store",
                str(tmp_path / "s.jsonl"),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("infer: 2 of 2 rounds unstable: 1.9 of 2 cores busy") == 2  # each row's note says why
    assert "when fewer cores are busy" in out and "2 unstable trial(s) measured again" in out  # and what to do
    assert len(inner.calls) == 4  # each design's one round, then each once more


# ------------------------------------------------------------------ estimate sweeps (designer/explore/estimate.py)


def test_an_estimate_sweep_screens_then_confirms_the_best_on_its_front(tmp_path, stable_timings):
    from designer.explore.estimate import checks, median_abs_error_pct
    from designer.explore.sweep import confirm_sweep

    base, model = load_preset("mixnet-s"), falling_latency_model()
    axes = parse_axes(["width-mult=0.5,0.75,1.0"])
    settings = replace(Settings(measure=("count", "estimate"), rounds=2, threads=1), latency_model=model.uid)
    store = JsonlStore(tmp_path / "s.jsonl")
    plan = plan_sweep(base, axes, settings)
    fake = FakeTrials()
    rows = run_sweep(plan, store, fake, latency_model=model)
    assert fake.calls == [] and plan.estimated == 3  # estimates build nothing
    assert [r["estimate_ms"] for r in rows] == [model.estimate(lower(d.point.arch)).ms for d in plan.designs]
    assert all(r["pareto_estimate"] for r in rows) and "infer_ms" not in rows[0]
    assert plan.spec["settings"]["latency_model"] == model.uid
    assert "latency_model" not in plan_sweep(base, axes, Settings()).spec["settings"]  # ids of older sweeps hold
    confirmed = confirm_sweep(plan, store, fake, 2)
    widest = [d.point.label for d in confirmed.designs]
    assert widest == ["width-mult=1.0", "width-mult=0.75"]  # the two lowest estimates
    assert sorted(fake.calls) == sorted([(d.fma, "infer") for d in confirmed.designs] * 2)  # 2 rounds each
    rows = summary(plan, store)
    found = checks(rows, confirmed.designs)
    by_label = {d.point.label: d for d in plan.designs}
    assert [(c.design, c.measured_ms) for c in found] == [(w, by_label[w].fma / 1e6) for w in widest]
    errors = sorted(abs(c.estimate_ms - c.measured_ms) / c.measured_ms * 100 for c in found)
    assert median_abs_error_pct(found) == pytest.approx(sum(errors) / 2)
    # a rerun estimates and measures nothing again
    again = plan_sweep(base, axes, settings)
    assert run_sweep(again, store, fake, latency_model=model) == rows and again.estimated == 0
    assert confirm_sweep(again, store, fake, 2).measured == 0 and len(fake.calls) == 4
    recalibrated = plan_sweep(base, axes, replace(settings, latency_model="another-model"))
    run_sweep(recalibrated, store, fake, latency_model=replace(model, uid="another-model"))
    assert recalibrated.estimated == 3  # a new model's estimates are new trials


def test_to_confirm_takes_the_lowest_estimates_on_the_front_once_per_cfg():
    from designer.explore.estimate import to_confirm

    designs = [runner.Design(None, "", sha, 0, 0) for sha in ("a", "b", "c", "d")]  # type: ignore[arg-type]
    rows = [
        {"valid": True, "cfg_sha256": "a", "estimate_ms": 3.0, "pareto_estimate": True},
        {"valid": True, "cfg_sha256": "b", "estimate_ms": 1.0, "pareto_estimate": False},  # off the front
        {"valid": True, "cfg_sha256": "c", "estimate_ms": 2.0, "pareto_estimate": True},
        {"valid": True, "cfg_sha256": "c", "estimate_ms": 2.0, "pareto_estimate": True},  # same cfg, other point
        {"valid": True, "cfg_sha256": "d", "estimate_ms": 4.0, "pareto_estimate": True},
    ]
    assert [d.cfg_sha256 for d in to_confirm(rows, designs, 2)] == ["c", "a"]
    assert [d.cfg_sha256 for d in to_confirm(rows, designs, 9)] == ["c", "a", "d"]


def test_cli_estimate_sweep_without_a_model_names_calibrate_then_runs_with_one(tmp_path, capsys):
    import os

    from designer.cli.main import main
    from designer.latency.store import save_model
    from designer.workspace import Workspace

    argv = ["sweep", "mixnet-s", "--vary", "width-mult=0.5,1.0", "--measure", "estimate", "--threads", "1"]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mixdesign calibrate --backend torch --device cpu --threads 1" in err
    with Workspace.open(os.environ["MIXDESIGN_WORKSPACE"]) as ws:
        save_model(ws, falling_latency_model())
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "est. ms" in out and "latency model falling-" in out
    assert main([*argv[:-2], "--threads", "2", "--no-progress"]) == 2  # a model answers for one setting only
    assert main(["sweep", "mixnet-s", "--vary", "width-mult=0.5", "--confirm", "1"]) == 2
    assert "add estimate to --measure" in capsys.readouterr().err
