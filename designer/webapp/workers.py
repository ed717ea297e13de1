"""The work the Latency and Quick-train pages run in background jobs (designer/webapp/jobs.py).

torch and runtime are imported inside the functions, when a job runs or a page asks for devices, never at import
time, so the app's first page does not load torch. Pure: no streamlit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from designer import Network
from designer.webapp.jobs import Job


def devices() -> dict[str, str]:
    """Device id (designer.machine.Device's spelling: cpu, cuda:N) -> description; one cuda:N per CUDA device
    torch sees."""
    import torch

    from designer.machine import Device, usable_cores

    out = {"cpu": f"CPU: {Device('cpu').name()} ({usable_cores()} usable cores)"}
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        out[f"cuda:{i}"] = f"CUDA: {Device('cuda', i).name()} (cuda:{i})"
    return out


def default_device(devs: dict[str, str]) -> str:
    """The first CUDA device where there is one, else the CPU (what the pages preselect)."""
    return next((k for k in devs if k != "cpu"), "cpu")


# ------------------------------------------------------------------ latency


def expected_bench_s(settings: dict) -> float:
    """A rough duration for the progress bar: build + warm-up + timed runs (twice with per-layer timing)."""
    t = 2.0 + 2 * float(settings.get("min_run_time", 1.0))
    t += 3.0 if settings.get("backend", "torch") != "torch" else 0.0  # ONNX export and the runtime's compile
    return t * (2.5 if settings.get("per_layer") else 1.0)


def bench_work(network: Network, label: str, settings: dict) -> Callable[[Job], dict]:
    """A job body that measures `network` with runtime.bench.measure(**settings) and returns a history entry."""
    from designer import count

    cost = count(network)

    def work(job: Job) -> dict:
        from designer.memory import check_fits
        from designer.threads import threads_for_run

        training = settings.get("mode", "infer") == "train"
        # refuse what would not fit before torch allocates: the training estimate for a training step, the
        # device's own free memory (RAM for the CPU, the GPU's for CUDA)
        check_fits(network, int(settings.get("batch", 1)), training=training, device=settings.get("device", "cpu"))
        job.report("loading torch and building the model", 0.02)
        from runtime.bench import measure

        job.report(f"measuring with {settings.get('backend', 'torch')} on {settings.get('device', 'cpu')}", 0.05)
        s = dict(settings)
        s["threads"] = threads_for_run(s.get("threads"))  # the policy `mixdesign bench` applies (threads.py)
        if s.pop("mode", "infer") == "train":  # one training step: plain build, BN in training mode
            from runtime.train_step import measure_train_step

            s.pop("optimized", None)
            if s.pop("backend", "torch") != "torch":
                from runtime.bench import BenchError

                raise BenchError("a training step is measured with the torch backend")
            result = measure_train_step(network, **s)
        else:
            result = measure(network, **s)
        data = result.to_json()
        return {
            "label": label,
            "params": cost.params,
            "fma_counted": cost.fma,
            "settings": dict(settings),
            "measured_at": time.strftime("%H:%M:%S"),
            **data,
        }

    return work


# ------------------------------------------------------------------ quick-train


def train_work(runs: list[tuple[str, Any]], config: Any, root: str) -> Callable[[Job], dict]:
    """A job body that trains each (name, Arch|Network) in turn on the same data split.

    Each run writes to <root>/<job id>/<name>/; every finished epoch is reported as a job event
    {"design": name, "epoch", "train_loss", "val_loss", "val_top1", "images_per_s", "elapsed_s", "lr"}.
    """

    def work(job: Job) -> dict:
        from designer.webapp.model import safe_filename

        job.report("loading torch and the data", 0.01)
        from designer.edits import prepare_network
        from designer.memory import check_fits
        from runtime.train import train
        from runtime.train.data import load_dataset

        split = load_dataset(config.data, config.size, 3, config.val_fraction, config.seed)
        results: dict[str, Any] = {}
        total = len(runs) * config.epochs
        for k, (name, source) in enumerate(runs):
            if job.stop.is_set():
                break
            network = prepare_network(source, config.size, len(split.classes))
            check_fits(network, config.batch, training=True, device=config.device)  # before torch allocates
            out_dir = Path(root) / job.id / safe_filename(name, "")
            cfg = replace(config, out_dir=str(out_dir))
            job.report(f"training {name} ({k + 1}/{len(runs)})")

            def on_epoch(row: dict, name: str = name, k: int = k) -> None:
                job.report(
                    f"{name}: epoch {row['epoch']}/{config.epochs}, val top-1 {100 * row['val_top1']:.1f}%",
                    (k * config.epochs + row["epoch"]) / total,
                    {"design": name, **row},
                )

            results[name] = train(network, cfg, on_epoch=on_epoch, stop=job.stop, progress=False, split=split)
        return results

    return work
