"""`mixdesign sweep --ray ADDRESS`: the sweep's trials as Ray tasks on an existing Ray cluster.

Each task holds a whole device so that no two timings share one: num_gpus=1 for --device cuda or cuda:N (Ray
gives the task one GPU and sets CUDA_VISIBLE_DEVICES to it, so the task measures on cuda:0, its only visible
device; the index N names a GPU of the driver's machine and means nothing on a cluster node); on CPU,
num_cpus = the CPU count of the largest node (a node with fewer CPUs runs no trial; a node runs one trial at
a time) and the trial uses that many threads unless --threads says otherwise. The driver submits every trial
not yet in the store, and records each result in the store as it comes back (ray.wait), so Ctrl-C on the driver
loses nothing finished and a rerun resumes. Rounds still rotate the design order, but on several nodes rounds
of one design may run on different machines: compare designs from one sweep on a homogeneous cluster.

`ADDRESS` is what ray.init takes: "auto", "ray://host:10001", or "local" to start a private local instance.
Ray is an optional extra (pip install mixnet-designer[ray]); it is imported only here.
"""

from __future__ import annotations

import threading

from designer.explore.runner import Progress, SweepError, Work, guarded
from designer.machine import Device


def task_resources(device: str) -> dict:
    """What one trial task asks Ray for: a whole GPU (any CUDA device), or every CPU of the largest node."""
    if Device.parse(device).is_cuda:
        return {"num_gpus": 1, "num_cpus": 1}
    import ray

    cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    return {"num_cpus": max(1, int(max(cpus, default=1)))}


def task_settings(kind_settings: dict, resources: dict, kind: str) -> dict:
    """What a task measures with: on a GPU task, the GPU Ray gave it (cuda:0 inside the task); on CPU, as many
    threads as the task holds CPUs unless --threads says otherwise (accuracy trials choose their own)."""
    s = dict(kind_settings)
    if "device" in s and Device.parse(s["device"]).is_cuda:
        s["device"] = "cuda:0"
    elif s.get("threads") is None and kind != "accuracy" and "num_gpus" not in resources:
        s["threads"] = resources["num_cpus"]
    return s


def run_ray(
    address: str,
    work: Work,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
    init_kwargs: dict | None = None,
) -> int:
    """Measure the trials of `work` still pending (runner.Work.pending) as Ray tasks running its trial function
    (runtime.explore.run_trial, wrapped in runner.guarded so a failing design is recorded, not fatal: the workers
    import both by name, so the package must be installed on every node); returns how many ran now."""
    try:
        import ray
    except ImportError:
        raise SweepError("--ray needs Ray: pip install 'mixnet-designer[ray]' (or pip install ray)") from None
    started_here = not ray.is_initialized()
    if started_here:
        kw = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
        try:
            ray.init(address=None if address == "local" else address, **kw)
        except ConnectionError as e:
            raise SweepError(f"--ray {address}: cannot connect to a Ray cluster there ({e})") from None
    try:
        res = task_resources(work.settings.device)
        remote = ray.remote(guarded).options(**res)
        todo = work.pending()
        total = len(work.trials)
        done = total - len(todo)
        if on_progress:
            on_progress(done, total, "")
        running = {}
        for t in todo:
            s = task_settings(work.settings.kind_settings(t.kind), res, t.kind)
            running[remote.remote(work.trial, work.designs[t.design].cfg_text, t.kind, s)] = t
        measured = 0
        while running:
            if stop is not None and stop.is_set():
                for ref in running:
                    ray.cancel(ref)
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                t = running.pop(ref)
                work.record(t, ray.get(ref))
                measured += 1
                done += 1
                if on_progress:
                    on_progress(done, total, f"{t.kind} round {t.round + 1}: {work.designs[t.design].point.label}")
        return measured
    finally:
        if started_here:
            ray.shutdown()
