"""`measure`: the latency of a network in one setting, every check made once and here (the CLI's `bench`, the
app's Latency job and a notebook all call it).

Order of the checks, each before anything is allocated: the backend takes the device (runtime.deploy), the
largest batch fits the device's memory (designer.memory: host RAM for the CPU, the GPU's free memory for CUDA),
the thread count follows designer.threads' policy. The runtime (and torch) load inside the function body only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from designer.api.record import record_measurements
from designer.api.workspace import WorkspaceTarget
from designer.ir import Network

if TYPE_CHECKING:
    from runtime.bench import BenchResult

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Measurement:
    """One BenchResult per batch size, in the order asked (runtime.bench.BenchResult: median and IQR in ms per
    batch, runs, FMA/s, threads, device, backend, dtype, machine and the load around the timing), and where it
    was recorded: `recorded_in` (the workspace's location) or `not_recorded` (why not: a workspace problem never
    fails a measurement). Both None when no workspace was given."""

    results: tuple[BenchResult, ...]
    recorded_in: str | None = None
    not_recorded: str | None = None

    @property
    def result(self) -> BenchResult:
        """The first (for one batch size: the only) result."""
        return self.results[0]

    @property
    def median_ms(self) -> float:
        """Median latency of the first result, in ms per batch."""
        return self.results[0].median_ms


def measure(
    network: Network,
    *,
    backend: str = "torch",
    device: str = "cpu",
    mode: Literal["infer", "train"] = "infer",
    batch: int | Sequence[int] = 1,
    dtype: Literal["fp32", "fp16", "bf16"] = "fp32",
    threads: int | None = None,
    per_layer: bool = False,
    min_run_time: float = 1.0,
    channels_last: bool | None = None,
    optimized: bool = True,
    execution: str = "auto",
    compile: bool = False,
    workspace: WorkspaceTarget = None,
    design_name: str = "api",
    source: str = "api",
    settings: Mapping[str, Any] | None = None,
    tune_allocator: bool = False,
    progress: Progress | None = None,
) -> Measurement:
    """Time `network` once per batch size: one forward pass (`mode="infer"`, under `backend`: torch, or the
    exported ONNX model in onnxruntime / OpenVINO) or one training step (`mode="train"`: torch only, plain build,
    BN in training mode). Refuses (a MixdesignError, nothing measured) a backend that cannot run on `device`, a
    batch that would not fit in memory, a thread count outside designer.limits.

    `channels_last`: NHWC (True) or NCHW (False); None lets the runtime choose (NHWC on CPU, NCHW on CUDA).
    `threads`: None applies designer.threads' policy (OMP_NUM_THREADS, else every usable core).
    `workspace`: where to record the results (designer.api.record: a path, URL, open Workspace, or True for the
    default one); None records nothing. `design_name`, `source` and `settings` are stored with each row.
    `tune_allocator`: raise glibc's mmap threshold first (process-wide: for processes that only measure, such
    as `mixdesign bench`). `progress(message, fraction)` hears each stage."""
    from designer.machine import Device
    from designer.memory import check_fits
    from designer.shapes import infer_shapes
    from designer.threads import threads_for_run

    batches = (batch,) if isinstance(batch, int) else tuple(batch)
    shapes = infer_shapes(network)  # once for the memory check, the build and the counts
    dev = Device.parse(device)
    from runtime.deploy import check_backend_device

    check_backend_device(backend, dev)  # before the device's memory is asked
    check_fits(network, max(batches), training=mode == "train", shapes=shapes, device=dev)
    if progress is not None:
        progress("loading torch and building the model", 0.02)
    from runtime.bench import BenchError, tune_cpu_allocator
    from runtime.bench import measure as bench_measure

    if tune_allocator and not dev.is_cuda:
        tune_cpu_allocator()
    if mode == "train" and backend != "torch":
        raise BenchError(f"--mode train is measured with the torch backend, not {backend}")
    if progress is not None:
        progress(f"measuring with {backend} on {device}", 0.05)
    timing = dict(
        device=dev,
        dtype=dtype,
        channels_last=channels_last,
        threads=threads_for_run(threads),
        per_layer=per_layer,
        min_run_time=min_run_time,
        shapes=shapes,
    )
    if mode == "train":
        results = _train_steps(network, batches, timing)
    else:
        build = dict(optimized=optimized, compile=compile, backend=backend, execution=execution)
        results = tuple(bench_measure(network, batch=b, **build, **timing) for b in batches)  # type: ignore[arg-type]
    if workspace is None or workspace is False:
        return Measurement(results)
    kept = settings if settings is not None else {"compile": compile}
    rec = record_measurements(
        workspace, network, results, design_name=design_name, source=source, backend=backend, settings=kept
    )
    return Measurement(results, recorded_in=rec.location, not_recorded=rec.problem)


def _train_steps(network: Network, batches: tuple[int, ...], timing: dict[str, Any]) -> tuple[BenchResult, ...]:
    """One training step's timing per batch size (runtime.train_step: plain build, BN in training mode)."""
    from runtime.train_step import measure_train_step

    plain = {**timing, "channels_last": bool(timing["channels_last"])}  # a training step: NCHW unless asked
    return tuple(measure_train_step(network, batch=b, **plain) for b in batches)


def devices() -> dict[str, str]:
    """Device id (designer.machine.Device's spelling: cpu, cuda:N) -> description; one cuda:N per CUDA device
    torch sees (loads torch)."""
    import torch

    from designer.machine import Device, usable_cores

    out = {"cpu": f"CPU: {Device('cpu').name()} ({usable_cores()} usable cores)"}
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        out[f"cuda:{i}"] = f"CUDA: {Device('cuda', i).name()} (cuda:{i})"
    return out
