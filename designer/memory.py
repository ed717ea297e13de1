"""How much memory a network needs at a batch and size, estimated from its shapes before anything allocates.

The estimate (float32, 4 bytes a value):
    inference  params_stored + every layer's output x batch        (an upper bound: the runner frees outputs
                                                                      once their last reader has run)
    training   params x 4 (weights, gradients, momentum, copy) + every layer's output x batch x 3
               (the output, its gradient and what autograd saves)
compared with the free memory of the device the network will run on (designer.machine.Device.free_bytes: the
host's available RAM for the CPU, the GPU's own free memory for CUDA). `check_fits` raises MemoryEstimateError
(a MixdesignError) with both figures and the fix, so every path that builds a network (`bench`, `train`,
`predict`, sweep trials, the app's Latency / Quick-train / Explore jobs) refuses a design that would die inside
torch's allocator, using the training estimate wherever a training step runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.errors import MixdesignError
from designer.ir import Network
from designer.machine import Device

BYTES = 4  # float32
TRAIN_ACTIVATION_FACTOR = 3
TRAIN_PARAM_FACTOR = 4
HEADROOM = 0.9  # leave a tenth of the available memory to everything else


class MemoryEstimateError(MixdesignError):
    """The network would not fit in the memory this machine has free."""


@dataclass(frozen=True)
class MemoryEstimate:
    params_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.params_bytes + self.activation_bytes


def estimate(network: Network, batch: int = 1, training: bool = False, shapes=None) -> MemoryEstimate:
    """`shapes`: infer_shapes(network) when the caller has them (shapes are computed once per network)."""
    from designer.cost import count

    c = count(network, shapes)
    c_in, h, w = network.input_shape
    acts = c_in * h * w + sum(lc.shape.outputs for lc in c.layers)  # the input and every layer's output
    if training:
        return MemoryEstimate(
            c.params_stored * BYTES * TRAIN_PARAM_FACTOR, acts * batch * BYTES * TRAIN_ACTIVATION_FACTOR
        )
    return MemoryEstimate(c.params_stored * BYTES, acts * batch * BYTES)


def _fmt(n: int) -> str:
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n / 1e6:.2f} MB"


def check_fits(
    network: Network,
    batch: int = 1,
    training: bool = False,
    limit: int | None = None,
    shapes=None,
    device: str | Device = "cpu",
) -> MemoryEstimate:
    """Raise MemoryEstimateError when the estimate exceeds `limit` bytes (default: 90 % of what `device` has
    free: host RAM for the CPU, the GPU's memory for CUDA; a CUDA device this machine lacks is a DeviceError)."""
    est = estimate(network, batch, training, shapes)
    dev = Device.parse(device)
    if limit is None:
        free = dev.free_bytes()
        if free is None:
            return est
        limit = int(free * HEADROOM)
    if est.total > limit:
        c, h, w = network.input_shape
        what = "training" if training else "inference"
        raise MemoryEstimateError(
            f"{what} at batch {batch} and input {w}x{h}x{c} needs about {_fmt(est.total)} "
            f"(weights {_fmt(est.params_bytes)}, activations {_fmt(est.activation_bytes)}); "
            f"{_fmt(limit)} of {dev.memory_name} is free. Fix: use a smaller --batch, --size or --width-mult"
        )
    return est
