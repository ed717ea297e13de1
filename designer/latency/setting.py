"""The setting a latency model is for: backend, device, threads, batch, dtype and mode (with the machine's
fingerprint, the key a model is stored and found under).

A model answers for exactly one setting: 2 threads are not 1 thread at half the time, OpenVINO is not torch, a
training step is not a forward pass. Threads are a fixed count here (a model cannot follow designer.threads'
load-dependent default): --threads N, else OMP_NUM_THREADS, else every usable core.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from designer.errors import MixdesignError
from designer.machine import Device, usable_cores

BACKENDS = ("torch", "onnxruntime", "openvino")
MODES = ("infer", "train")
DTYPES = ("fp32", "fp16", "bf16")
DEFAULT_BUDGET_S = 180.0  # calibration on CPU: about 3 minutes (the "calibrated in minutes")
REFRESH_BUDGET_S = 20.0  # `calibrate --refresh`: building a model's reference designs, then timing them in rounds


class SettingError(MixdesignError):
    """A latency-model setting that cannot be measured or estimated (unknown backend, train on ONNX, ...)."""


class SettingOptions(TypedDict, total=False):
    """Setting.make's keywords, as the functions that pass them on take them (designer.api.calibrate, estimate)."""

    backend: str
    device: str
    threads: int | None
    batch: int
    dtype: str
    mode: str


def default_threads(explicit: int | None = None) -> int:
    """--threads N, else OMP_NUM_THREADS, else every usable core: a count that does not depend on the load."""
    if explicit is not None:
        if explicit < 1:
            raise SettingError(f"--threads {explicit}: use 1 or more")
        return int(explicit)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return usable_cores()


@dataclass(frozen=True)
class Setting:
    backend: str = "torch"
    device: str = "cpu"  # canonical: cpu or cuda:N
    threads: int = 1
    batch: int = 1
    dtype: str = "fp32"
    mode: str = "infer"

    @classmethod
    def make(
        cls,
        *,
        backend: str = "torch",
        device: str = "cpu",
        threads: int | None = None,
        batch: int = 1,
        dtype: str = "fp32",
        mode: str = "infer",
    ) -> Setting:
        """A checked setting (threads resolved by default_threads); a bad combination is a SettingError."""
        if backend not in BACKENDS:
            raise SettingError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
        if mode not in MODES:
            raise SettingError(f"mode {mode!r}: use infer or train")
        if dtype not in DTYPES:
            raise SettingError(f"dtype {dtype!r}: use one of {', '.join(DTYPES)}")
        if batch < 1:
            raise SettingError(f"batch {batch}: use 1 or more")
        if mode == "train" and backend != "torch":
            raise SettingError(f"--mode train is measured with the torch backend, not {backend}")
        dev = Device.parse(device)
        if backend == "openvino" and dev.is_cuda:
            raise SettingError("the openvino backend runs on the CPU here: use --device cpu")
        return cls(backend, str(dev), default_threads(threads), int(batch), dtype, mode)

    @property
    def fused(self) -> bool:
        """Whether the backend runs the optimised build (fused MixConv and SE spans): inference does; a training
        step runs the plain build."""
        return self.mode == "infer"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Setting:
        return cls(
            str(d["backend"]), str(d["device"]), int(d["threads"]), int(d["batch"]), str(d["dtype"]), str(d["mode"])
        )

    def describe(self) -> str:
        """`torch on cpu, 2 threads, batch 1, fp32, inference`."""
        what = "inference" if self.mode == "infer" else "training step"
        return (
            f"{self.backend} on {self.device}, {self.threads} thread{'s' if self.threads != 1 else ''}, "
            f"batch {self.batch}, {self.dtype}, {what}"
        )

    def calibrate_command(self, budget_s: float = DEFAULT_BUDGET_S) -> str:
        """The command that makes a model for this setting, with how long it takes."""
        opts = [f"--backend {self.backend}", f"--device {self.device}", f"--threads {self.threads}"]
        if self.batch != 1:
            opts.append(f"--batch {self.batch}")
        if self.dtype != "fp32":
            opts.append(f"--dtype {self.dtype}")
        if self.mode != "infer":
            opts.append(f"--mode {self.mode}")
        minutes = math.ceil(budget_s / 60)
        return f"mixdesign calibrate {' '.join(opts)} (about {minutes} minute{'s' if minutes != 1 else ''})"
