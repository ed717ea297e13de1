"""How a built model is executed when it is timed: the `execution` every BenchResult states.

    eager        the DarknetModel runner in Python: one module call per step (about 250 for MixNet-M)
    torchscript  traced and frozen per input signature (runtime.optimize.build.FrozenModel): the same kernels
                 with no Python between them; what timm calls its best PyTorch inference mode
    compiled     torch.compile (inductor): fused kernels, minutes of compilation on a small CPU
    cuda-graph   the eager model's kernels captured once into a CUDA graph and replayed (runtime.cuda_graphs):
                 one launch per forward pass instead of one per kernel, so a batch-1 figure on a fast GPU is the
                 kernels' time, not the launches'

"auto" is torchscript for the optimised build on CPU (where the runner's Python is a serial cost that a second
thread cannot share) and eager otherwise; on CUDA both eager and cuda-graph are worth reporting side by side
(eager: launch-bound, cuda-graph: kernel-bound).
"""

from __future__ import annotations

from typing import Literal

from designer.machine import Device

Execution = Literal["eager", "torchscript", "compiled", "cuda-graph"]
EXECUTIONS: tuple[str, ...] = ("eager", "torchscript", "compiled", "cuda-graph")

CUDA_GRAPH_ON_CPU = (
    "execution cuda-graph needs a CUDA device: a CUDA graph replays recorded GPU kernel launches "
    "(on cpu, time --execution torchscript or eager)"
)


def resolve_execution(execution: str, *, device: str | Device, optimized: bool, compile: bool = False) -> Execution:
    """The execution to time: `execution` checked against the device, or "auto" resolved as the module says.
    `compile=True` (the older spelling) means "compiled". Raises runtime.bench.BenchError with the reason."""
    from runtime.bench import BenchError

    if execution not in (*EXECUTIONS, "auto"):
        raise BenchError(f"execution {execution!r} is not one of auto, {', '.join(EXECUTIONS)}")
    if compile:
        if execution not in ("auto", "compiled"):
            raise BenchError(f"--compile asks for execution compiled, not {execution}")
        return "compiled"
    on_cuda = Device.parse(device).is_cuda
    if execution == "cuda-graph" and not on_cuda:
        raise BenchError(CUDA_GRAPH_ON_CPU)
    if execution == "auto":
        return "torchscript" if optimized and not on_cuda else "eager"
    return execution  # type: ignore[return-value]
