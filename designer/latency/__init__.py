"""Latency without waiting: a per-machine, per-setting latency model built from per-kernel timings.

    kernels.py   a network as the kernels a backend runs (fused MixConv / SE spans), with shape features
    spans.py     the fused spans, found in the IR as runtime.optimize finds them
    regress.py   per-kind regressors (scikit-learn fits, JSON numbers, numpy evaluation)
    fit.py       calibration samples -> LatencyModel (held-out errors, interval)
    model.py     LatencyModel and its Estimate (sum of kernels + the runtime's per-inference overhead)
    setting.py   backend, device, threads, batch, dtype, mode
    sampling.py  random designs across the sweep axes (and darknet-style plain nets) to calibrate and check on
    store.py     models in the workspace, keyed by the machine's fingerprint; none is used on another machine

Torch-free: the measuring side is runtime/calibrate.py. scikit-learn and scipy load only when fitting.
"""

from designer.latency.model import Estimate, LatencyModel
from designer.latency.setting import Setting

__all__ = ["Estimate", "LatencyModel", "Setting"]
