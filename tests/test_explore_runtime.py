"""The runtime side of exploring: the training-step measurement (runtime/train_step.py), `mixdesign bench --mode
train`, a real (tiny) timed sweep, and the sweep's trials as Ray tasks on a local Ray instance."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

import designer
from designer import count, load_preset, lower

torch = pytest.importorskip("torch")


@pytest.fixture()
def tiny() -> designer.Arch:
    """MixNet-S at width 0.35, depth 0.25, 32x32, 10 classes: a whole training step in milliseconds."""
    return replace(load_preset("mixnet-s"), width_mult=0.35, depth_mult=0.25, input_size=32, classes=10)


def test_train_step_result_and_per_layer_shares(one_torch_thread):
    from runtime.train_step import measure_train_step

    blocks = (
        designer.Block(16, kernels=(3, 5), expand_ratio=2, se_ratio=0.25, stride=2, activation="swish"),
        designer.Block(24, kernels=(3,), expand_ratio=3, stride=2),
    )
    net = lower(designer.Arch("two-rows", blocks, head=designer.Head(64), input_size=32, classes=10))
    r = measure_train_step(net, batch=4, threads=1, per_layer=True, min_run_time=0.05)
    assert r.mode == "train" and r.batch == 4 and not r.optimized and r.threads == 1 and r.device == "cpu"
    assert r.median_ms > 0 and r.iqr_ms >= 0
    assert r.fma == count(net).fma * 4 and r.fma_per_s == pytest.approx(r.fma / (r.median_ms / 1e3))
    shares = [t.time_share for t in r.per_layer]
    assert sum(shares) == pytest.approx(1.0) and all(s >= 0 for s in shares)
    assert sum(t.fma for t in r.per_layer) == r.fma  # every step up to the logits, whole batch
    assert sum(t.fma_share for t in r.per_layer) == pytest.approx(1.0)
    assert r.to_json()["mode"] == "train"


def test_train_step_updates_the_weights_and_refuses_non_classifiers(tiny, one_torch_thread):
    from runtime.bench import BenchError
    from runtime.train_step import measure_train_step, train_model

    net = lower(tiny)
    model = train_model(net)
    before = [p.detach().clone() for p in model.parameters()]
    assert model.training
    import runtime.train_step as ts

    r = ts.measure_train_step(net, batch=2, threads=1, min_run_time=0.01)
    assert r.median_ms > 0
    # the measured step is a real step: run it once on a model and parameters move
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=ts.MOMENTUM)
    x = torch.randn(2, *net.input_shape)
    torch.nn.functional.cross_entropy(model(x).flatten(1), torch.tensor([1, 2])).backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    no_softmax = replace(net, layers=net.layers[:-1])
    with pytest.raises(BenchError, match="needs a classifier"):
        measure_train_step(no_softmax, batch=2)
    with pytest.raises(BenchError, match="batch must be at least 1"):
        measure_train_step(net, batch=0)


def test_cli_bench_mode_train(capsys, one_torch_thread):
    from designer.cli.main import main

    rc = main(
        [
            "bench",
            "mixnet-s",
            "--size",
            "32",
            "--mode",
            "train",
            "--batch",
            "2",
            "--threads",
            "1",
            "--min-run-time",
            "0.05",
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    import json

    d = json.loads(out.out)
    assert d["mode"] == "train" and d["batch"] == 2 and d["optimized"] is False
    assert main(["bench", "mixnet-s", "--size", "32", "--batch", "1", "--min-run-time", "0.05", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "infer"


def test_timed_sweep_on_a_tiny_design(tmp_path, one_torch_thread, stable_timings):
    from designer.explore.runner import Settings
    from designer.explore.space import parse_axes
    from designer.explore.store import JsonlStore
    from designer.explore.sweep import plan_sweep, run_sweep
    from runtime.explore import run_trial

    base = replace(load_preset("mixnet-s"), depth_mult=0.25, classes=10)
    axes = parse_axes(["width-mult=0.35", "size=32", "dw-group-size=1,2"])
    plan = plan_sweep(
        base, axes, Settings(measure=("count", "infer", "train"), rounds=2, min_run_time=0.02, threads=1, train_batch=2)
    )
    rows = run_sweep(plan, JsonlStore(tmp_path / "s.jsonl"), run_trial)
    assert len(rows) == 2 and plan.measured == 8 and len(plan.trial_s) == 8
    for r in rows:
        assert r["infer_ms"] > 0 and r["train_ms"] > 0 and r["infer_rounds"] == r["train_rounds"] == 2
        assert r["infer_backend"] == r["train_backend"] == "torch" and r["threads"] == 1
    assert any(r["pareto_infer"] for r in rows) and any(r["pareto_train"] for r in rows)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install .[ray])")
def test_sweep_trials_as_ray_tasks_on_a_local_instance(tmp_path, monkeypatch):
    import os

    from designer.explore.runner import Settings
    from designer.explore.space import parse_axes
    from designer.explore.store import JsonlStore
    from designer.explore.sweep import plan_sweep, run_sweep
    from runtime.explore import run_trial

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [str(designer.__path__[0].rsplit("/", 1)[0]), os.environ.get("PYTHONPATH")])),
    )
    import ray

    base = replace(load_preset("mixnet-s"), width_mult=0.35, depth_mult=0.25, input_size=32, classes=10)
    axes = parse_axes(["dw-group-size=1,2"])
    settings = Settings(measure=("count", "infer"), rounds=1, min_run_time=0.02)
    store = JsonlStore(tmp_path / "s.jsonl")
    plan = plan_sweep(base, axes, settings)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = run_sweep(plan, store, run_trial, ray_address="local")
    finally:
        ray.shutdown()
    # Ray workers are processes of their own (no stable_timings there): an unstable trial adds one extra round
    assert plan.measured - plan.remeasured == 2 and len(store.list(plan.sweep_id)) == 2 + plan.remeasured
    for r in rows:
        assert r["infer_ms"] > 0 and r["threads"] == 2  # the task held every CPU of the node
    assert {t.key for t in plan.trials} <= {r["key"] for r in store.list(plan.sweep_id)}


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_ray_reserves_a_gpu_for_every_cuda_spelling(device):
    """Without a GPU here: what each task asks Ray for, and the device it measures on (Ray's one visible GPU)."""
    from designer.explore.ray_runner import task_resources, task_settings

    res = task_resources(device)
    assert res == {"num_gpus": 1, "num_cpus": 1}
    s = task_settings({"device": device, "threads": None, "batch": 1}, res, "infer")
    assert s == {"device": "cuda:0", "threads": None, "batch": 1}
    cpu = task_settings({"device": "cpu", "threads": None}, {"num_cpus": 4}, "infer")
    assert cpu["threads"] == 4
    assert task_settings({"device": "cpu", "threads": 2}, {"num_cpus": 4}, "train")["threads"] == 2


def test_sweep_trials_and_app_jobs_apply_the_thread_policy(tiny, monkeypatch):
    """A trial or a Latency job without --threads takes designer.threads.threads_for_run's count, not whatever
    torch holds at the time."""
    from designer import threads
    from designer.cfg import emit_cfg
    from designer.webapp import jobs, workers
    from runtime.explore import run_trial

    monkeypatch.setattr(threads, "threads_for_run", lambda explicit=None, processes=1: explicit or 1)
    net = lower(tiny)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        settings = {"device": "cpu", "batch": 1, "dtype": "fp32", "threads": None, "min_run_time": 0.01}
        assert run_trial(emit_cfg(net), "infer", settings)["threads"] == 1
        assert run_trial(emit_cfg(net), "train", {**settings, "batch": 2})["threads"] == 1
        job = workers.bench_work(net, "t", {**settings, "per_layer": False})(jobs.Job(id="t", kind="bench", label="t"))
        assert job["threads"] == 1
    finally:
        torch.set_num_threads(old)
