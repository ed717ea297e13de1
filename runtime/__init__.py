"""mixnet-designer's torch runtime: darknet networks (from the parsed IR) as torch modules, .weights I/O,
inference optimisation and latency measurement.

    model = build_model(designer.parse_cfg("net.cfg"))   # plain build, eval mode
    load_weights(model, "net.weights")
    fast = optimize(model)                                # BN folded, fused MixConv, ...

The public names are loaded on first use (PEP 562), so `import designer.cli.bench` (what `mixdesign` does to
register its subcommands) does not import torch; `from runtime import build_model` does.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BUILDERS": "runtime.model",
    "DarknetModel": "runtime.model",
    "build_model": "runtime.model",
    "randomize_bn": "runtime.model",
    "optimize": "runtime.optimize.build",
    "WeightsError": "runtime.weights",
    "load_weights": "runtime.weights",
    "save_weights": "runtime.weights",
    "BenchResult": "runtime.bench",
    "measure": "runtime.bench",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
