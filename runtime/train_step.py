"""Time of one training iteration of a darknet classifier under torch: darknet's "seconds per iteration".

`measure_train_step(network, ...)` builds the plain model (BN layers in training mode: a training step cannot
fold them), runs it up to the logits (the layer before [softmax], designer.edits.logits_index), and times whole
iterations with runtime.bench.time_runs (blocked_autorange, at least designer.noise.MIN_RUNS timed iterations, the
load around them):

    zero_grad -> forward -> cross-entropy on the logits (random labels) -> backward -> SGD step (momentum 0.9)

fp16 and bf16 train in mixed precision, as one trains in practice: fp32 weights and optimizer state, the
forward pass and loss under torch.autocast in the half type, and for fp16 a torch.amp.GradScaler (the loss
scaled before backward so small fp16 gradients do not flush to zero, unscaled before the step; bf16 has fp32's
exponent range and needs none). The scaler's per-step inf/nan check is part of the timed iteration.

It returns runtime.bench's BenchResult with mode="train": the median and IQR of one iteration in ms at `batch`
(with its runs, load and verdict),
`fma` = the counted forward multiply-adds of the batch and `fma_per_s` = fma / median (forward FMA per second
of training: the backward pass does about twice the forward's multiply-adds on top, which this figure does not
count).

Per layer (`per_layer=True`): each executed step is timed alone, forward then backward, on the inputs it gets in
a real forward pass (inputs that come from earlier layers require grad, so the backward computes the input
gradient as in the whole step; the network input does not), with a random output gradient of the step's output
shape. Two sweeps, each step keeps its lower median (as runtime.bench.time_layers does for inference). The time
shares are of the sum of the steps' own times: the loss, the optimizer step and autograd's bookkeeping between
steps are not in any step, so the per-step times add up to somewhat less than the measured iteration.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from designer.cost import count
from designer.edits import logits_index
from designer.ir import Network
from designer.machine import Device
from runtime.bench import (
    DTYPES,
    BenchError,
    BenchResult,
    LayerTime,
    _timer,
    check_device_dtype,
    layer_times,
    result_fields,
    time_runs,
    time_steps,
    timing_threads,
)
from runtime.model import INPUT, DarknetModel, PlannedStep, build_model

MOMENTUM = 0.9


def train_model(
    network: Network, *, device: str | Device = "cpu", dtype: str = "fp32", channels_last: bool = False, shapes=None
) -> DarknetModel:
    """The model a training step runs: plain build in training mode, up to the logits, on device, with fp32
    weights (fp16 / bf16 are autocast around it, see the module docstring); `dtype` is checked for the device."""
    dev = check_device_dtype(device, dtype)
    if not any(L.type == "softmax" for L in network.layers):
        raise BenchError(
            "a training step needs a classifier: the cfg has no [softmax] whose input is the logits "
            "(measure its inference latency instead, --mode infer)"
        )
    model = build_model(network, outputs=(logits_index(network),), shapes=shapes).to(str(dev))
    if channels_last:
        model.set_channels_last()
    return model.train()


def measure_train_step(
    network: Network,
    *,
    device: str = "cpu",
    batch: int = 8,
    dtype: str = "fp32",
    threads: int | None = None,
    channels_last: bool = False,
    per_layer: bool = False,
    min_run_time: float = 1.0,
    lr: float = 0.01,
    seed: int = 0,
    shapes=None,
) -> BenchResult:
    """Median / IQR time of one training iteration (forward, loss, backward, SGD step) at `batch`."""
    with timing_threads(batch, threads) as threads:
        torch.manual_seed(seed)
        dev = check_device_dtype(device, dtype)
        model = train_model(network, device=dev, dtype=dtype, channels_last=channels_last, shapes=shapes)
        x = torch.randn(batch, *network.input_shape, device=str(dev))
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        classes = model.shapes[model.outputs[0]].outputs
        y = torch.randint(0, classes, (batch,), device=str(dev))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
        step = sgd_step(model, opt, x, y, device=str(dev), dtype=dtype)

        try:
            step()  # oneDNN / cuDNN choose kernels, SGD creates its momentum buffers; blocked_autorange's
            # untimed calibration call is the second warm-up
        except ValueError as e:  # BN in training mode on a single value per channel (batch 1, 1x1 maps)
            raise BenchError(f"a training step at batch {batch} cannot run: {e}; use a larger batch") from None
        fields = result_fields(  # FMA: the forward pass's (backward does about twice as many more)
            time_runs(step, threads, min_run_time),
            device=dev,
            threads=threads,
            batch=batch,
            cost=count(network, model.shapes),
        )
        layers = None
        if per_layer:
            half = DTYPES[dtype] if dtype != "fp32" else None
            with torch.autocast(dev.kind, dtype=half, enabled=half is not None):
                layers = time_layers_train(model, x, threads, min_run_time)
        return BenchResult(
            dtype=dtype, optimized=False, channels_last=channels_last, per_layer=layers, mode="train", **fields
        )


def sgd_step(
    model: DarknetModel, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *, device: str, dtype: str
) -> Callable[[], None]:
    """One training iteration as a callable: fp32, or autocast to fp16 / bf16 (fp16 with a GradScaler)."""
    device_type = torch.device(device).type
    half = DTYPES[dtype] if dtype != "fp32" else None
    scaler = torch.amp.GradScaler(device_type) if dtype == "fp16" else None

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type, dtype=half, enabled=half is not None):
            loss = F.cross_entropy(model(x).flatten(1).float(), y)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)  # skipped (and the scale lowered) when a gradient is inf/nan
            scaler.update()

    return step


def time_layers_train(
    model: DarknetModel, x: torch.Tensor, threads: int, min_run_time: float, sweeps: int = 2, timer=None
) -> tuple[LayerTime, ...]:
    """Forward + backward time of each executed step alone, on its real inputs; slowest first.

    The model's own executor runs a forward pass without autograd (DarknetModel.execute); its per-step hook
    times the step's module forward + backward on detached copies of the inputs it just got, input gradients on
    (as inside a real training step) except for the network input, with a random output gradient.
    `timer(fn, window_s)` -> seconds per call (default: benchmark.Timer's median, as every bench timing)."""

    def time_one(
        p: PlannedStep, module: torch.nn.Module, ins: list[torch.Tensor], out: torch.Tensor, per: float
    ) -> float:
        with torch.enable_grad():
            leaf = [t.detach().requires_grad_(r != INPUT) for t, r in zip(ins, p.step.reads)]
            grad = torch.randn_like(out)

            def fwd_bwd() -> None:
                y = module(*leaf)
                if y.requires_grad:  # a step without parameters fed by the input alone has nothing to do
                    y.backward(grad)

            fwd_bwd()  # first call allocates the .grad buffers, as a training step after the first does not
            return timer(fwd_bwd, per) if timer is not None else _timer(fwd_bwd, threads, per).median

    best = time_steps(model, x, min_run_time, sweeps, time_one)
    model.zero_grad(set_to_none=True)
    return layer_times(model, best, x.shape[0])
