"""A forward pass captured into a CUDA graph, and replays timed with CUDA events.

Why: at batch 1 a fast GPU finishes MixNet's small kernels faster than eager PyTorch can launch them (one launch
per conv, activation, add, ...), so an eager figure measures the launches. A CUDA graph records the kernels once
and replays them with one launch; its time is the kernels' own.

`capture(model, x)` follows the recipe of torch.cuda.graphs: warm-up calls on a side stream (cuDNN picks its
algorithms and the caching allocator settles outside the capture), then one call recorded under
`torch.cuda.graph`. The graph owns its input and output tensors: `CapturedGraph.replay(x)` copies x into the
static input and returns the static output (overwritten by the next replay). A network that cannot be captured
(host synchronisation, CPU tensors, data-dependent shapes) raises BenchError naming the reason, so the caller
says so and times eager instead.

`time_events(fn, min_run_time)` times blocks of calls between two CUDA events (device time, no host sync inside
a block), enough calls per block for ~1 ms, blocks until `min_run_time` seconds; per-call median and IQR in s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from designer.noise import MIN_RUNS
from runtime.bench import BenchError
from runtime.execution import CUDA_GRAPH_ON_CPU

WARMUP = 3  # calls on the side stream before capture (torch.cuda.graphs' examples use 3)
BLOCK_S = 1e-3  # device time per event-timed block


@dataclass(frozen=True)
class CapturedGraph:
    graph: torch.cuda.CUDAGraph
    static_input: torch.Tensor
    static_output: torch.Tensor | tuple[torch.Tensor, ...]

    def replay(self, x: torch.Tensor | None = None):
        """Run the recorded kernels (on `x` if given, copied into the static input); the static output."""
        if x is not None:
            self.static_input.copy_(x)
        self.graph.replay()
        return self.static_output


def capture(model: torch.nn.Module, x: torch.Tensor, *, warmup: int = WARMUP) -> CapturedGraph:
    """`model(x)` (inference, no autograd) recorded into a CUDA graph; BenchError if it cannot be."""
    if x.device.type != "cuda":
        raise BenchError(CUDA_GRAPH_ON_CPU)
    static_x = x.clone(memory_format=torch.preserve_format)
    side = torch.cuda.Stream(device=x.device)
    side.wait_stream(torch.cuda.current_stream(x.device))
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.no_grad():
            with torch.cuda.stream(side):
                for _ in range(warmup):
                    model(static_x)
            torch.cuda.current_stream(x.device).wait_stream(side)
            with torch.cuda.graph(graph):
                static_y = model(static_x)
    except RuntimeError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BenchError(
            f"this network cannot be captured into a CUDA graph ({reason}); time it with --execution eager"
        ) from None
    return CapturedGraph(graph, static_x, static_y)


def median_iqr(samples: Sequence[float]) -> tuple[float, float]:
    """Median and interquartile range (linear interpolation, as torch.utils.benchmark's Measurement)."""
    if not samples:
        raise ValueError("no samples")
    t = torch.tensor(sorted(samples), dtype=torch.float64)
    q = torch.quantile(t, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    return float(q[1]), float(q[2] - q[0])


def time_events(
    fn: Callable[[], object], min_run_time: float, *, event=None, synchronize: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Per-call (median, IQR) in seconds of `fn` from CUDA-event-timed blocks of calls (see event_samples)."""
    return median_iqr(event_samples(fn, min_run_time, event=event, synchronize=synchronize))


def event_samples(
    fn: Callable[[], object], min_run_time: float, *, event=None, synchronize: Callable[[], None] | None = None
) -> tuple[float, ...]:
    """Per-call seconds of `fn`, one sample per CUDA-event-timed block of calls, for at least `min_run_time`
    and at least 5 blocks.

    `event` / `synchronize` default to torch.cuda.Event(enable_timing=True) / torch.cuda.synchronize; anything
    with record() and elapsed_time(other) in ms works (the CPU tests use a perf_counter stand-in)."""
    event = event or (lambda: torch.cuda.Event(enable_timing=True))
    synchronize = synchronize or torch.cuda.synchronize

    def block(n: int) -> float:
        start, end = event(), event()
        start.record()
        for _ in range(n):
            fn()
        end.record()
        synchronize()
        return start.elapsed_time(end) / 1e3 / n

    fn()
    per = block(1)
    n = max(1, int(BLOCK_S / max(per, 1e-9)))
    samples: list[float] = []
    spent = 0.0
    while spent < min_run_time or len(samples) < MIN_RUNS:
        s = block(n)
        samples.append(s)
        spent += s * n
    return tuple(samples)
