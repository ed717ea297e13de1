"""Issue 16: every measurement says how many timed runs it rests on (at least 5), the load around it, and whether
it may be unstable (designer/noise.py, designer/load.py, runtime.bench.time_runs). Never asserts on time."""

from __future__ import annotations

import numpy as np
import pytest

from designer import load
from designer.noise import MAX_SPREAD, MIN_RUNS, spread, verdict

# ------------------------------------------------------------------ the verdict (pure)

QUIET = {"load_before": 0.0, "load_during": 0.1, "threads": 2, "cores": 2}


def test_spread_is_numpys_linear_quartiles() -> None:
    times = [0.9, 1.0, 1.3, 1.1, 5.0, 1.05, 0.95]
    q1, med, q3 = np.percentile(times, [25, 50, 75])  # an independent implementation of the same definition
    s = spread(times)
    assert (s.median, s.iqr, s.runs) == (pytest.approx(med), pytest.approx(q3 - q1), 7)
    assert spread([2.0]) == spread((2.0,)) and spread([2.0]).iqr == 0.0


def test_tight_series_is_not_flagged_noisy_one_is() -> None:
    tight = spread([10.0, 10.1, 9.9, 10.0, 10.05, 9.95])  # IQR 0.1 of 10: 1 %
    assert verdict(median=tight.median, iqr=tight.iqr, runs=tight.runs, **QUIET) is None
    noisy = spread([10.0, 14.0, 10.0, 14.0, 10.0, 14.0])  # sorted 10,10,10,14,14,14: q1 10, q3 14, median 12
    assert noisy.iqr == pytest.approx(4.0) and noisy.median == 12.0
    why = verdict(median=noisy.median, iqr=noisy.iqr, runs=noisy.runs, **QUIET)
    assert why is not None and "the IQR is 33% of the median" in why and "--min-run-time" in why
    # just below and just above the threshold
    assert verdict(median=1.0, iqr=MAX_SPREAD * 0.99, runs=5, **QUIET) is None
    assert verdict(median=1.0, iqr=MAX_SPREAD * 1.01, runs=5, **QUIET) is not None


def test_one_sample_is_not_a_distribution() -> None:
    why = verdict(median=1.3, iqr=0.0, runs=1, **QUIET)
    assert why is not None and "rests on 1 timed run (fewer than 5)" in why
    assert verdict(median=1.3, iqr=0.0, runs=MIN_RUNS, **QUIET) is None


@pytest.mark.parametrize("busy,threads,cores,expect", [
    (1.0, 2, 2, ("other processes kept 1.0 of 2 cores busy (during the timing, 2 threads measuring); close them "
                 "or use --threads 1")),
    (0.3, 2, 2, None),  # less than half a core: not flagged
    (1.0, 1, 2, None),  # one busy process beside one measuring thread: each has its core
    (1.7, 1, 2, "other processes kept 1.7 of 2 cores busy (during the timing, 1 thread measuring); close them"),
    (2.0, 4, 8, None),
    (5.0, 4, 8, "close them or use --threads 3"),
])  # fmt: skip
def test_load_is_judged_against_the_threads_used(busy, threads, cores, expect) -> None:
    why = verdict(median=1.0, iqr=0.01, runs=9, load_before=0.0, load_during=busy, threads=threads, cores=cores)
    assert (why is None) if expect is None else (why is not None and expect in why)


def test_load_before_counts_too() -> None:
    why = verdict(median=1.0, iqr=0.01, runs=9, load_before=1.2, load_during=0.0, threads=2, cores=2)
    assert why is not None and "just before the timing" in why


# ------------------------------------------------------------------ the load (designer/load.py)

STAT = """cpu  900 0 400 9000 100 0 0 0 0 0
cpu0 100 0 50 1000 10 5 5 0 0 0
cpu1 200 7 0 1000 0 0 0 40 0 0
cpu2 600 0 350 7000 90 0 0 0 0 0
intr 12345
"""


def test_busy_jiffies_reads_only_the_cpus_of_the_affinity_set(tmp_path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(STAT)
    # by hand: cpu0 100+0+50+5+5+0 = 160, cpu1 200+7+40 (steal) = 247; cpu2 is another process's set
    assert load.busy_jiffies({0, 1}, str(stat)) == 160 + 247
    assert load.busy_jiffies({2}, str(stat)) == 950
    assert load.busy_jiffies(None, str(tmp_path / "missing")) is None


def test_busy_between_subtracts_this_process(monkeypatch) -> None:
    monkeypatch.setattr(load, "usable_cores", lambda: 4)
    t = load._TICKS
    a = load.LoadSample(wall_s=10.0, busy_jiffies=0, own_cpu_s=5.0)
    b = load.LoadSample(wall_s=12.0, busy_jiffies=3 * t, own_cpu_s=6.0)  # 3 busy s, 1 of them ours, in 2 s
    assert load.busy_between(a, b) == pytest.approx(1.0)
    assert load.busy_between(a, load.LoadSample(12.0, 20 * t, 5.0)) == 4.0  # at most the cores we may use
    assert load.busy_between(None, b) == 0.0 and load.busy_between(b, a) == 0.0


def test_busy_cores_of_the_threads_module_is_the_affinity_reading(monkeypatch) -> None:
    from designer import threads

    monkeypatch.setattr(load, "busy_jiffies", lambda cpus=None, stat="/proc/stat": 0)
    assert threads.busy_cores(0.01) == 0.0  # host-wide jiffies would not be 0 on a live machine


# ------------------------------------------------------------------ at least MIN_RUNS timed runs

torch = pytest.importorskip("torch")


def test_time_runs_tops_up_a_slow_call(monkeypatch) -> None:
    """A call slower than the window: blocked_autorange gives one block; time_runs adds runs up to MIN_RUNS."""
    from runtime import bench

    monkeypatch.setattr(load, "busy_cores", lambda sample_s=0.05: 0.0)
    calls = []
    timing = bench.time_runs(lambda: calls.append(1), threads=1, min_run_time=1e-9)
    assert len(timing.times) >= MIN_RUNS and timing.spread.runs == len(timing.times)
    assert len(calls) >= MIN_RUNS  # every run really called the function


@pytest.fixture()
def two_rows():
    import designer

    blocks = (
        designer.Block(16, kernels=(3, 5), expand_ratio=2, se_ratio=0.25, stride=2, activation="swish"),
        designer.Block(24, kernels=(3,), expand_ratio=3, stride=2),
    )
    return designer.lower(designer.Arch("two-rows", blocks, head=designer.Head(64), input_size=32, classes=10))


def test_every_measurement_rests_on_at_least_five_runs(two_rows, one_torch_thread) -> None:
    from runtime.bench import measure
    from runtime.train_step import measure_train_step

    for r in (
        measure(two_rows, threads=1, min_run_time=1e-9),
        measure_train_step(two_rows, batch=2, threads=1, min_run_time=1e-9),
        measure(two_rows, backend="onnxruntime", threads=1, min_run_time=1e-9),
    ):
        assert r.runs >= MIN_RUNS, (r.mode, r.backend)


def test_timed_training_step_runs_backward_and_the_optimizer(two_rows, one_torch_thread, monkeypatch) -> None:
    """Spies on Tensor.backward and SGD.step, and the model the step trains: each timed run is a whole step."""
    import runtime.train_step as ts

    counts = {"backward": 0, "step": 0}
    real_backward, real_step = torch.Tensor.backward, torch.optim.SGD.step

    def backward(self, *a, **k):
        counts["backward"] += 1
        return real_backward(self, *a, **k)

    def step(self, *a, **k):
        counts["step"] += 1
        return real_step(self, *a, **k)

    models = []
    real_train_model = ts.train_model

    def train_model(*a, **k):
        m = real_train_model(*a, **k)
        models.append((m, [p.detach().clone() for p in m.parameters()]))
        return m

    monkeypatch.setattr(torch.Tensor, "backward", backward)
    monkeypatch.setattr(torch.optim.SGD, "step", step)
    monkeypatch.setattr(ts, "train_model", train_model)
    r = ts.measure_train_step(two_rows, batch=2, threads=1, min_run_time=1e-9)
    assert counts["backward"] >= r.runs + 1 and counts["step"] >= r.runs + 1  # the warm-up step and the runs
    ((model, before),) = models
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert all(moved), f"{moved.count(False)} parameter tensors never changed"
