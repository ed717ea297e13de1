"""The work of one sweep trial (designer/explore): measure one design once, as `mixdesign sweep`, the app's
Explore page and GPU-variant advisor, and a Ray task on a cluster run it.

    infer     runtime.bench.measure (the optimised build; `backend=` passed through when it is not torch)
    train     runtime.train_step.measure_train_step (one training iteration, torch)
    accuracy  runtime.train.train: a quick-train on a small data set, best validation top-1

Before anything is built, a timed trial is checked against the memory its device has free
(designer/memory.py: the training estimate for a training step), so `sweep --vary size=4096 --measure train`
is refused with the figures (a MemoryEstimateError: the sweep records it as a failed trial) instead of dying in
torch's allocator inside the app's server or a Ray worker. A trial without threads takes the thread policy
(designer.threads.threads_for_run), as `mixdesign bench` does. Timed results carry runtime.bench's record:
median, IQR, runs, load_before, load_during, unstable and machine (the fingerprint).

The design travels as its cfg text (plain data for Ray). torch loads only when a trial runs.
"""

from __future__ import annotations

import tempfile
import time

from designer.explore.runner import SweepError


def check_backend(backend: str) -> None:
    """Refuse a backend runtime.bench.measure does not take."""
    from runtime.deploy import BACKEND_LABELS

    if backend not in BACKEND_LABELS:
        raise SweepError(f"--backend {backend}: unknown backend (choose {', '.join(BACKEND_LABELS)})")


def run_trial(cfg_text: str, kind: str, settings: dict) -> dict:
    """Measure one design once; returns the fields a trial record keeps. Runs locally or as a Ray task."""
    from designer.cfg import parse_cfg
    from designer.machine import fingerprint
    from designer.memory import check_fits
    from designer.threads import threads_for_run

    network = parse_cfg(cfg_text)
    s = dict(settings)
    t0 = time.perf_counter()
    if kind in ("infer", "train"):
        check_fits(network, int(s.get("batch", 1)), training=kind == "train", device=s.get("device", "cpu"))
        s["threads"] = threads_for_run(s.get("threads"))
    if kind == "infer":
        from runtime.bench import measure

        backend = s.pop("backend", "torch")
        extra = {} if backend == "torch" else {"backend": backend}
        r = measure(network, **s, **extra)
        out = {k: v for k, v in r.to_json().items() if k != "per_layer"}
        out["backend"] = backend
    elif kind == "train":
        from runtime.train_step import measure_train_step

        s.pop("backend", None)
        r = measure_train_step(network, **s)
        out = {k: v for k, v in r.to_json().items() if k != "per_layer"}
        out["backend"] = "torch"
    elif kind == "accuracy":
        from runtime.train import TrainConfig, train

        with tempfile.TemporaryDirectory(prefix="mixdesign-sweep-") as tmp:
            cfg = TrainConfig(
                data=s["data"],
                size=s["size"],
                epochs=s["epochs"],
                device=s["device"],
                threads=s["threads"],
                out_dir=tmp,
            )
            res = train(network, cfg, progress=False)
        out = {
            "accuracy": res.best_top1,
            "best_epoch": res.best_epoch,
            "device": s["device"],
            "mode": "accuracy",
            "backend": "torch",
            "machine": fingerprint(s["device"]).to_json(),
        }
    else:
        raise SweepError(f"unknown trial kind {kind!r}")
    out["trial_s"] = time.perf_counter() - t0
    return out
