"""How much memory a network needs at a batch and size, estimated from its shapes before anything allocates.

The estimate (float32, 4 bytes a value):
    inference  params_stored + every layer's output x batch        (an upper bound: the runner frees outputs
                                                                      once their last reader has run)
    training   params x 4 (weights, gradients, momentum, copy) + every layer's output x batch x 3
               (the output, its gradient and what autograd saves)
compared with the machine's available memory (MemAvailable in /proc/meminfo; os.sysconf elsewhere).
`check_fits` raises MemoryEstimateError (a MixdesignError) with both figures and the fix, so `bench`, `train`,
`predict` and the app refuse a design that would die inside torch's allocator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from designer.errors import MixdesignError
from designer.ir import Network

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
        return MemoryEstimate(c.params_stored * BYTES * TRAIN_PARAM_FACTOR,
                              acts * batch * BYTES * TRAIN_ACTIVATION_FACTOR)
    return MemoryEstimate(c.params_stored * BYTES, acts * batch * BYTES)


def available_bytes() -> int | None:
    """Free memory for a new allocation: MemAvailable (Linux), else free physical pages; None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _fmt(n: int) -> str:
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n / 1e6:.2f} MB"


def check_fits(network: Network, batch: int = 1, training: bool = False, limit: int | None = None,
               shapes=None) -> MemoryEstimate:
    """Raise MemoryEstimateError when the estimate exceeds `limit` bytes (default: 90 % of available memory)."""
    est = estimate(network, batch, training, shapes)
    if limit is None:
        free = available_bytes()
        if free is None:
            return est
        limit = int(free * HEADROOM)
    if est.total > limit:
        c, h, w = network.input_shape
        what = "training" if training else "inference"
        raise MemoryEstimateError(
            f"{what} at batch {batch} and input {w}x{h}x{c} needs about {_fmt(est.total)} "
            f"(weights {_fmt(est.params_bytes)}, activations {_fmt(est.activation_bytes)}); "
            f"{_fmt(limit)} is free. Fix: use a smaller --batch, --size or --width-mult")
    return est
