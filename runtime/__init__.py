"""mixnet-designer's torch runtime: darknet networks (from the parsed IR) as torch modules, .weights I/O,
inference optimisation and latency measurement.

    model = build_model(designer.parse_cfg("net.cfg"))   # plain build, eval mode
    load_weights(model, "net.weights")
    fast = runtime.optimize.optimize(model)               # BN folded, fused MixConv, ...

`runtime.optimize` is the optimisation package (its `optimize` function: `from runtime.optimize import optimize`);
a lazy function of the same name here would be replaced by the package whenever the package is imported first.

The public names are loaded on first use (PEP 562), so `import designer.cli.bench` (what `mixdesign` does to
register its subcommands) does not import torch; `from runtime import build_model` does.
"""

from __future__ import annotations

from runtime.lazy import lazy_exports

_EXPORTS = {
    "BUILDERS": "runtime.model",
    "DarknetModel": "runtime.model",
    "build_model": "runtime.model",
    "randomize_bn": "runtime.model",
    "WeightsError": "runtime.weights",
    "load_weights": "runtime.weights",
    "save_weights": "runtime.weights",
    "BenchResult": "runtime.bench",
    "measure": "runtime.bench",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
