"""The work the Latency and Quick-train pages run in background jobs (designer/webapp/jobs.py).

torch and runtime are imported inside the functions, when a job runs or a page asks for devices, never at import
time, so the app's first page does not load torch. Pure: no streamlit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from designer import Network
from designer.webapp.jobs import Job


def devices() -> dict[str, str]:
    """Device id (cpu, cuda:N) -> description (designer.api.devices; loads torch)."""
    from designer.api import devices as found

    return found()


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
    """A job body that measures `network` with designer.api.measure(**settings) (the checks and the thread
    policy of `mixdesign bench`) and returns a history entry."""
    from designer import count

    cost = count(network)

    def work(job: Job) -> dict:
        from designer.api import measure

        m = measure(network, **settings, progress=lambda message, fraction: job.report(message, fraction))
        return {
            "label": label,
            "params": cost.params,
            "fma_counted": cost.fma,
            "settings": dict(settings),
            "measured_at": time.strftime("%H:%M:%S"),
            **m.result.to_json(),
        }

    return work


# ------------------------------------------------------------------ quick-train


def train_work(runs: list[tuple[str, Any]], settings: dict, root: str) -> Callable[[Job], dict]:
    """A job body that trains each (name, Arch|Network) in turn on the same data split with designer.api.train
    (`settings`: its training values: data, size, epochs, batch, lr, device, ...).

    Each run writes to <root>/<job id>/<name>/; every finished epoch is reported as a job event
    {"design": name, "epoch", "train_loss", "val_loss", "val_top1", "images_per_s", "elapsed_s", "lr"}.
    """

    def work(job: Job) -> dict:
        from designer.api import load_split, train
        from designer.webapp.model import safe_filename

        job.report("loading torch and the data", 0.01)
        split = load_split(
            settings.get("data", "digits"),
            size=settings["size"],
            channels=3,
            val_fraction=settings.get("val_fraction", 0.2),
            seed=settings.get("seed", 0),
        )
        results: dict[str, Any] = {}
        epochs = settings["epochs"]
        total = len(runs) * epochs
        for k, (name, source) in enumerate(runs):
            if job.stop.is_set():
                break
            out_dir = Path(root) / job.id / safe_filename(name, "")
            job.report(f"training {name} ({k + 1}/{len(runs)})")

            def on_epoch(row: dict, name: str = name, k: int = k) -> None:
                job.report(
                    f"{name}: epoch {row['epoch']}/{epochs}, val top-1 {100 * row['val_top1']:.1f}%",
                    (k * epochs + row["epoch"]) / total,
                    {"design": name, **row},
                )

            results[name] = train(
                source, **settings, out_dir=str(out_dir), split=split, on_epoch=on_epoch, stop=job.stop, progress=False
            ).result
        return results

    return work
