"""Import timm for the side-by-side benchmark (benchmarks/bench_vs_timm.py only; timm is not a dependency).

timm imports torchvision at import time (its data transforms, FrozenBatchNorm2d, FX feature extraction), but
building and running `mixnet_s`, `mixnet_m` and `efficientnet_b0` uses none of it. Where torchvision is missing
or does not load (PyPI's torchvision wheels are built against CUDA torch and fail to load under a +cpu torch:
"operator torchvision::nms does not exist"), `import_timm` puts a stand-in `torchvision` in sys.modules that
satisfies those imports and raises if anything from it is ever called, then imports timm. The stand-in is
said in the benchmark's output.
"""

from __future__ import annotations

import enum
import sys
import types

STUBBED = (
    "torchvision",
    "torchvision.transforms",
    "torchvision.transforms.functional",
    "torchvision.ops",
    "torchvision.ops.misc",
    "torchvision.datasets",
    "torchvision.utils",
)


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("torchvision is a stand-in here (benchmarks/timm_import.py): not for use")


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (_Unavailable,), {})


class InterpolationMode(enum.Enum):  # timm builds lookup tables from these names at import time
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _install_stub() -> None:
    for name in STUBBED:
        sys.modules[name] = _StubModule(name)
    for name in STUBBED[1:]:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])
    for name in ("torchvision.transforms", "torchvision.transforms.functional"):
        sys.modules[name].InterpolationMode = InterpolationMode  # type: ignore[attr-defined]


def import_timm() -> tuple[types.ModuleType | None, str]:
    """(timm, how it was imported) or (None, why not)."""
    try:
        import timm

        return timm, f"timm {timm.__version__}"
    except ModuleNotFoundError as e:
        if e.name == "timm":
            return None, "timm is not installed (pip install timm --no-deps)"
        if not (e.name or "").startswith("torchvision"):
            raise
    except RuntimeError as e:  # torchvision present but its C++ ops do not load with this torch
        if "torchvision" not in str(e):
            raise
    for name in [m for m in sys.modules if m == "timm" or m.startswith(("timm.", "torchvision"))]:
        del sys.modules[name]
    _install_stub()
    import timm

    return timm, f"timm {timm.__version__} (torchvision stand-in: torchvision does not load here)"
