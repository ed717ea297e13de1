"""Quick-train: the runtime model of a design trained on a small image set, as darknet would see it.

    loop.py         `train(network, TrainConfig)`: the training loop, evaluation, early stop
    data.py         image sets: scikit-learn's digits, ImageFolder trees, darknet .data/list files
    distributed.py  torchrun / DDP setup (gloo on CPU, nccl on GPU)
    checkpoints.py  the run folder: model.cfg, best.weights, best.pt, metrics.csv/.json
    __main__.py     `python -m runtime.train` / `torchrun -m runtime.train` (the arguments of `mixdesign train`)

The names below load on first use (PEP 562): `runtime.train.data` does not import torch.
"""

from __future__ import annotations

from runtime.lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "runtime.train.loop",
    "TrainResult": "runtime.train.loop",
    "train": "runtime.train.loop",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
