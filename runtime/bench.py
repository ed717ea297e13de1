"""Latency of a darknet network under torch, measured with torch.utils.benchmark.

`measure(network, ...)` builds the model from the IR (random weights: latency does not depend on their
values), warms it up (oneDNN / cuDNN pick and build kernels on the first calls), then times whole forward
passes with `Timer.blocked_autorange` (which synchronises CUDA and sets the thread count), topped up to at
least designer.noise.MIN_RUNS timed runs (a slow step gets one block of one call from blocked_autorange). It
reports the median and interquartile range in ms and how many runs they rest on, the cores other processes kept
busy just before and during the timing (designer/load.py), the verdict on both (designer/noise.py: `unstable`,
the reason and the fix, or None), the machine (designer.machine.fingerprint), the network's FMA
(designer.count: one fused multiply-add = 1, batch included) and the multiply-adds per second achieved.
`time_runs` and `result_fields` are that timing and record for every measurement: torch here, the training
step (runtime/train_step.py) and onnxruntime / OpenVINO (runtime/deploy/backends.py). With `per_layer`, each
step of the eager model is timed alone on its real inputs during two forward sweeps (best of the two), giving
each layer's share of the time next to its share of the FMA.

The optimised build (`optimized=True`) is runtime.optimize with the settings that were fastest here
(benchmarks/RESULTS_runtime.md): BN folded, squeeze-excitation spans fused, MixConv spans as one zero-padded
grouped conv on CPU; on CUDA the MixConv form is chosen by timing both. `channels_last` applies to either
build; unset, it is NHWC on CPU and NCHW on CUDA (default_channels_last). `execution` (runtime.execution) says how the model runs while timed: eager, torchscript (the default
for the optimised build on CPU), compiled (torch.compile) or cuda-graph (replays timed with CUDA events,
runtime.cuda_graphs); the record states it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch.utils import benchmark
from torch.utils.benchmark.utils.timer import timer as synced_clock

from designer.cost import Cost, count
from designer.errors import MixdesignError
from designer.ir import Network
from designer.machine import Device, fingerprint, usable_cores
from designer.shapes import Shape, infer_shapes
from runtime.model import DarknetModel, PlannedStep, build_model

DType = Literal["fp32", "fp16", "bf16"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class BenchError(MixdesignError):
    """A measurement that cannot run here (no CUDA, dtype unsupported on the device, ...)."""


@dataclass(frozen=True)
class LayerTime:
    index: int  # first IR layer of the step
    type: str  # darknet layer type, or a fused span's kind ("mixconv", "squeeze_excite")
    ms: float
    time_share: float
    fma: int
    fma_share: float


@dataclass(frozen=True)
class BenchResult:
    device: str
    device_name: str
    threads: int
    batch: int
    dtype: str
    optimized: bool
    channels_last: bool
    median_ms: float
    iqr_ms: float
    fma: int
    fma_per_s: float
    per_layer: tuple[LayerTime, ...] | None = None
    mode: str = "infer"  # "infer": one forward pass; "train": one training step (runtime/train_step.py)
    params: int | None = None  # trainable parameters of the network measured (counted with the same shapes)
    backend: str = "torch"  # torch, onnxruntime, openvino (runtime.deploy.backends)
    runs: int = 0  # timed runs the median and IQR rest on (at least designer.noise.MIN_RUNS)
    load_before: float = 0.0  # cores other processes kept busy just before the timing (designer/load.py)
    load_during: float = 0.0  # ... and during it (this process's own CPU time subtracted)
    unstable: str | None = None  # designer.noise.verdict: why the figure may be unreliable, with the fix
    machine: dict | None = None  # designer.machine.fingerprint(device).to_json()
    execution: str = "eager"  # eager, torchscript, compiled, cuda-graph (runtime.execution)

    def to_json(self) -> dict:
        d = asdict(self)
        d["per_layer"] = [asdict(t) for t in self.per_layer] if self.per_layer is not None else None
        return d


def tune_cpu_allocator() -> bool:
    """Raise glibc's mmap threshold (mallopt) so large activations are reused, not page-faulted in on every call.

    glibc serves blocks above its mmap threshold (at most 32 MiB by default) with a fresh mmap each time, and a
    38 MB activation (MixNet's 96x112x112 expansion at batch 8) then costs ~20 ms of page faults per forward,
    5x the convolution itself. PyTorch's CPU performance guide recommends jemalloc / tcmalloc for the same
    reason. Process-wide, so it is for command-line runs (mixdesign bench, benchmarks/), not for a library
    call; returns False where the C library has no mallopt.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


def device_name(device: str | Device) -> str:
    """The CPU's model or the CUDA device's name (designer.machine.Device.name)."""
    return Device.parse(device).name()


def check_device_dtype(device: str | Device, dtype: str) -> Device:
    """The device, when this machine has it (else designer.machine.DeviceError) and `dtype` runs on it in this
    torch build (else BenchError with the reason)."""
    if dtype not in DTYPES:
        raise BenchError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    dev = Device.parse(device).require()
    if not dev.is_cuda and dtype == "fp16":
        try:
            with torch.no_grad():
                torch.nn.functional.conv2d(
                    torch.ones(1, 2, 4, 4, dtype=torch.float16), torch.ones(2, 1, 3, 3, dtype=torch.float16), groups=2
                )
        except RuntimeError as e:
            raise BenchError(
                f"fp16 convolution is not supported on CPU by this torch build ({e}); "
                "use bf16 or fp32 on CPU, or fp16 on cuda"
            ) from None
    return dev


def default_channels_last(device: str | Device) -> bool:
    """The memory format measure() builds in when the caller does not choose: NHWC (channels_last) on the CPU,
    where oneDNN runs convs in a blocked NHWC layout and an NCHW build pays a reorder around each conv, most on
    grouped convs (benchmarks/bench_memory_format.py, docs/performance.md); NCHW on CUDA, where the choice
    depends on the GPU and the dtype and is the user's (`--channels-last`)."""
    return not Device.parse(device).is_cuda


def prepare(
    network: Network,
    *,
    device: str | Device = "cpu",
    dtype: str = "fp32",
    channels_last: bool = False,
    optimized: bool = True,
    compile: bool = False,
    execution: str = "eager",
    shapes: tuple[Shape, ...] | None = None,
) -> torch.nn.Module:
    """The model measure() times: eval mode, on the device, in the dtype, wrapped for its execution
    (torchscript: FrozenModel, compiled: torch.compile; eager and cuda-graph: the model itself).

    The optimised build is runtime.optimize with BN folded, SE spans fused and MixConv spans as one
    zero-padded grouped conv on CPU (faster there than the split form in benchmarks/RESULTS_runtime.md), or
    whichever form times faster on CUDA; an fp32 CPU build in channels_last also runs each conv and its
    activation as one oneDNN call (runtime.optimize.fused_conv). `compile` adds torch.compile (minutes of compilation on a small CPU).
    `shapes`: infer_shapes(network) when the caller has it (shapes are computed once per network).
    """
    dev = check_device_dtype(device, dtype)
    model = build_model(network, shapes=shapes).to(str(dev))
    if optimized:
        from runtime.optimize.build import optimize

        model = optimize(model, mixconv="auto" if dev.is_cuda else "padded", channels_last=channels_last)
    elif channels_last:
        model.set_channels_last()
    model = model.to(DTYPES[dtype])
    if optimized and channels_last and not dev.is_cuda and dtype == "fp32" and not (compile or execution == "compiled"):
        from runtime.optimize.fused_conv import fuse_conv_activations

        fuse_conv_activations(model)
    if compile or execution == "compiled":
        return torch.compile(model, dynamic=False)  # type: ignore[return-value]  # an nn.Module; the stub says Callable
    if execution == "torchscript":
        from runtime.optimize.build import FrozenModel

        return FrozenModel(model)
    return model


def _timer(fn, threads: int, min_run_time: float) -> benchmark.Measurement:
    """blocked_autorange as it is (the per-layer windows, where a few runs per step are enough)."""
    t = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    return t.blocked_autorange(min_run_time=min_run_time)


LOAD_SAMPLE_S = 0.1  # the look at the machine just before a timing: 10 clock ticks per core at 100 Hz


@dataclass(frozen=True)
class Timing:
    """A whole measurement's timed runs (seconds per call) and the load around them."""

    times: tuple[float, ...]
    load_before: float
    load_during: float

    @property
    def spread(self):
        from designer.noise import spread

        return spread(self.times)


def time_runs(
    fn: Callable[[], Any], threads: int, min_run_time: float, *, sampler: Callable[..., tuple[float, ...]] | None = None
) -> Timing:
    """Time `fn` with blocked_autorange for `min_run_time` s, then add single timed runs until there are
    designer.noise.MIN_RUNS (a call slower than the window gives blocked_autorange one block). Samples the cores
    other processes keep busy just before (LOAD_SAMPLE_S) and during the timing (designer/load.py).
    `sampler(fn, min_run_time)`, when given, takes the per-call samples instead (CUDA events for a graph replay:
    runtime.cuda_graphs.event_samples, which takes at least MIN_RUNS itself)."""
    from designer import load
    from designer.noise import MIN_RUNS

    before = load.busy_cores(LOAD_SAMPLE_S)
    a = load.sample()
    if sampler is not None:
        return Timing(tuple(sampler(fn, min_run_time)), before, load.busy_between(a, load.sample()))
    m = _timer(fn, threads, min_run_time)
    times = list(m.times)
    per = max(1, int(m.number_per_run))
    while len(times) < MIN_RUNS:
        t0 = synced_clock()  # synchronises CUDA, as the Timer's own clock does
        for _ in range(per):
            fn()
        times.append((synced_clock() - t0) / per)
    return Timing(tuple(times), before, load.busy_between(a, load.sample()))


def timing_fields(timing: Timing, *, device: str | Device, threads: int) -> dict[str, Any]:
    """The BenchResult fields every measurement fills from its Timing: median_ms, iqr_ms, runs, load_before,
    load_during, unstable (designer.noise.verdict; a CUDA run counts as one CPU thread) and machine."""
    from designer.noise import verdict

    dev = Device.parse(device)
    s = timing.spread
    cpu_threads = 1 if dev.is_cuda else threads
    why = verdict(
        median=s.median,
        iqr=s.iqr,
        runs=s.runs,
        load_before=timing.load_before,
        load_during=timing.load_during,
        threads=cpu_threads,
        cores=usable_cores(),
    )
    return {
        "median_ms": s.median * 1e3,
        "iqr_ms": s.iqr * 1e3,
        "runs": s.runs,
        "load_before": round(timing.load_before, 2),
        "load_during": round(timing.load_during, 2),
        "unstable": why,
        "machine": fingerprint(dev).to_json(),
    }


def result_fields(
    timing: Timing, *, device: Device, threads: int, batch: int, cost: Cost, device_name: str | None = None
) -> dict[str, Any]:
    """The BenchResult fields every measurement fills alike: where it ran (the device, its name unless the
    runtime reports its own, the threads), the batch, the network's FMA (batch included) and trainable params,
    the multiply-adds per second achieved, and timing_fields."""
    timed = timing_fields(timing, device=device, threads=threads)
    fma = cost.fma * batch
    return {
        "device": str(device),
        "device_name": device_name if device_name is not None else device.name(),
        "threads": threads,
        "batch": batch,
        "fma": fma,
        "fma_per_s": fma / (timed["median_ms"] / 1e3),
        "params": cost.params,
        **timed,
    }


def check_threads(threads: int | None) -> None:
    """An explicit thread count inside designer.limits (BenchError naming the limit); None is the default."""
    from designer.limits import value_problem

    problem = None if threads is None else value_problem("threads", threads)
    if problem:
        raise BenchError(problem)


@contextlib.contextmanager
def timing_threads(batch: int, threads: int | None):
    """Check the batch and thread count, set torch's thread count for a measurement (default: the current one)
    and yield it; restore the previous count afterwards."""
    if batch < 1:
        raise BenchError(f"batch must be at least 1, got {batch}")
    check_threads(threads)
    old_threads = torch.get_num_threads()
    threads = int(threads if threads is not None else old_threads)
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(old_threads)


def measure(
    network: Network,
    *,
    device: str | Device = "cpu",
    batch: int = 1,
    dtype: DType = "fp32",
    channels_last: bool | None = None,
    threads: int | None = None,
    optimized: bool = True,
    per_layer: bool = False,
    min_run_time: float = 1.0,
    compile: bool = False,
    backend: str = "torch",
    shapes: tuple[Shape, ...] | None = None,
    execution: str = "auto",
) -> BenchResult:
    """Median / IQR latency of one forward pass of `network` at `batch`, and the multiply-adds/s achieved.
    `shapes`: infer_shapes(network) when the caller has them (shapes are computed once per network).

    `backend` other than torch runs the exported ONNX model in onnxruntime or OpenVINO (runtime.deploy.backends)
    with the same timer and record; channels_last, compile and execution are torch's own options there.
    `execution`: runtime.execution ("auto": torchscript for the optimised build on CPU, else eager).
    `channels_last`: None is default_channels_last(device); the result says which format ran."""
    if backend != "torch":
        if channels_last or compile or execution not in ("auto", "eager"):
            raise BenchError(f"channels_last, compile and execution are options of the torch backend, not of {backend}")
        from runtime.deploy.backends import measure_backend

        return measure_backend(
            network,
            backend=backend,
            device=device,
            batch=batch,
            dtype=dtype,
            threads=threads,
            optimized=optimized,
            per_layer=per_layer,
            min_run_time=min_run_time,
        )
    from runtime.execution import resolve_execution

    execution = resolve_execution(execution, device=device, optimized=optimized, compile=compile)
    with timing_threads(batch, threads) as threads:
        if shapes is None:  # once: the build, the FMA count and the per-layer table share it
            shapes = infer_shapes(network)
        dev = check_device_dtype(device, dtype)
        if channels_last is None:
            channels_last = default_channels_last(dev)
        model = prepare(
            network,
            device=dev,
            dtype=dtype,
            channels_last=channels_last,
            optimized=optimized,
            execution=execution,
            shapes=shapes,
        )
        x = _example_input(network, batch=batch, device=dev, dtype=dtype, channels_last=channels_last)
        timing = _time_forward(model, x, execution=execution, threads=threads, min_run_time=min_run_time)
        fields = result_fields(timing, device=dev, threads=threads, batch=batch, cost=count(network, shapes))
        return BenchResult(
            dtype=dtype,
            optimized=optimized,
            channels_last=channels_last,
            per_layer=_eager_layer_times(model, x, threads, min_run_time) if per_layer else None,
            execution=execution,
            **fields,
        )


def _example_input(network: Network, *, batch: int, device: Device, dtype: DType, channels_last: bool) -> torch.Tensor:
    """A random input batch on `device` in `dtype`; NHWC-strided under channels_last, as such a pipeline feeds it."""
    x = torch.randn(batch, *network.input_shape, device=str(device)).to(DTYPES[dtype])
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)  # what a channels_last pipeline feeds
    return x


def _time_forward(
    model: torch.nn.Module, x: torch.Tensor, *, execution: str, threads: int, min_run_time: float
) -> Timing:
    """Timed forward passes without autograd: replays of one captured CUDA graph (`execution` "cuda-graph", timed
    with CUDA events), else calls of the model after 3 warm-up calls."""
    if execution == "cuda-graph":
        from runtime.cuda_graphs import capture, event_samples

        return time_runs(capture(model, x).replay, threads, min_run_time, sampler=event_samples)

    @torch.no_grad()
    def run():
        return model(x)

    for _ in range(3):
        run()
    return time_runs(run, threads, min_run_time)


def _eager_layer_times(
    model: torch.nn.Module, x: torch.Tensor, threads: int, min_run_time: float
) -> tuple[LayerTime, ...]:
    """Per-layer times of the eager model inside the timed one: torch.compile's wrapper keeps it as _orig_mod,
    FrozenModel as .model."""
    eager = getattr(model, "_orig_mod", model)
    eager = getattr(eager, "model", eager)
    if not isinstance(eager, DarknetModel):
        raise TypeError(f"no DarknetModel inside the timed {type(model).__name__}")
    return time_layers(eager, x, threads, min_run_time)


@torch.no_grad()
def time_layers(
    model: DarknetModel, x: torch.Tensor, threads: int, min_run_time: float, sweeps: int = 2
) -> tuple[LayerTime, ...]:
    """Each executed step timed alone on the inputs it gets in a real forward pass, slowest first.

    The model's own executor runs the pass (DarknetModel.execute with a per-step hook that times the step's module
    on the inputs it just got). Each layer gets a short window (min_run_time spread over the layers); the sweep
    over all layers is done `sweeps` times and each layer keeps its lowest median, so that a load spike on a
    shared machine during one layer's window does not make that layer look like the slowest.
    """
    best = time_steps(
        model,
        x,
        min_run_time,
        sweeps,
        lambda p, module, ins, out, per: _timer(lambda: module(*ins), threads, per).median,
    )
    return layer_times(model, best, x.shape[0])


StepTimer = Callable[[PlannedStep, torch.nn.Module, list[torch.Tensor], torch.Tensor, float], float]


@torch.no_grad()
def time_steps(
    model: DarknetModel, x: torch.Tensor, min_run_time: float, sweeps: int, time_one: StepTimer
) -> dict[int, float]:
    """Seconds per executed step: the model's executor runs `sweeps` forward passes; at each step `time_one(p,
    module, inputs, output, window_s)` times it (min_run_time is spread over the steps) and it keeps its lowest."""
    per = max(0.01, min_run_time / max(1, len(model.plan)))
    best: dict[int, float] = {}

    def on_step(p: PlannedStep, module: torch.nn.Module, ins: list[torch.Tensor], out: torch.Tensor) -> None:
        sec = time_one(p, module, ins, out, per)
        best[p.k] = min(best.get(p.k, sec), sec)

    for _ in range(sweeps):
        model.execute(x, model.plan, on_step)
    return best


def layer_times(model: DarknetModel, best: dict[int, float], batch: int) -> tuple[LayerTime, ...]:
    """Seconds per executed step -> LayerTime rows (time and FMA shares of the steps' sums), slowest first."""
    costs = count(model.network, model.shapes).layers
    rows = []
    for k, sec in best.items():
        layer, st = model.layers[k], model.steps[k]
        kind = getattr(layer, "kind", None) or model.network.layers[st.first].type
        fma = sum(c.fma for c in costs[st.first : st.last + 1]) * batch
        rows.append((st.first, kind, sec * 1e3, fma))
    return shares(rows)


def shares(rows: list[tuple[int, str, float, int]]) -> tuple[LayerTime, ...]:
    """(first layer, type, ms, FMA) per step -> LayerTime rows with time and FMA shares of the sums, slowest
    first (every backend's per-layer view)."""
    total_ms = sum(r[2] for r in rows) or 1.0
    total_fma = sum(r[3] for r in rows) or 1
    rows = sorted(rows, key=lambda r: -r[2])
    return tuple(LayerTime(i, t, ms, ms / total_ms, f, f / total_fma) for i, t, ms, f in rows)


def apply_threads(explicit: int | None = None, processes: int = 1) -> int:
    """torch.set_num_threads(designer.threads.threads_for_run(...)) where that gives a count; returns the count
    torch uses."""
    from designer.threads import threads_for_run

    check_threads(explicit)
    n = threads_for_run(explicit, processes)
    if n:
        torch.set_num_threads(max(1, n))
    return torch.get_num_threads()
