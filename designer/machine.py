"""Where a figure was measured: the device a run asks for (`Device`) and the machine it ran on (`Fingerprint`).

A latency means nothing without its machine: the same design takes 2x longer on a CPU with half the cores, and
a new onnxruntime release can change which kernels run. Every measurement, sweep trial and latency model is
therefore filed with the fingerprint of the machine that produced it, and nothing keyed by one fingerprint is
reused under another (asv keys every result by machine; pyperf records the same metadata).

The fingerprint holds what changes timings: the CPU model and the cores this process may use, the GPU's name
and driver for a CUDA run, and the versions of the libraries that run the network (torch, onnxruntime,
OpenVINO, numpy). Versions are read from the installed package metadata, so fingerprinting loads none of them.
`Fingerprint.key` is a short stable hash of all of it: the machine part of a sweep's trial key and of the
workspace's measurement filters.

`Device` also says what the device has: its name, whether this machine has it (`require`, a DeviceError naming
what it has instead) and its free memory (`free_bytes`: the host's available RAM for the CPU,
torch.cuda.mem_get_info for a CUDA device), which designer/memory.py compares its estimate with.

torch-free: parsing a device, fingerprinting a CPU run and reading host memory import nothing heavy; whatever
asks a CUDA device (its name, presence, memory) imports torch, which a CUDA run has loaded anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import asdict, dataclass
from typing import Any

from designer.errors import MixdesignError

LIBRARIES = ("torch", "onnxruntime", "openvino", "numpy")  # what runs the network: part of every fingerprint
_DEVICE_RE = re.compile(r"(cpu|cuda)(?::(\d+))?")


class DeviceError(MixdesignError):
    """A device string that is not cpu, cuda or cuda:N."""


@dataclass(frozen=True)
class Device:
    """A device as the user names it: `cpu`, `cuda` (the current CUDA device, index 0) or `cuda:N`."""

    kind: str  # "cpu" or "cuda"
    index: int | None = None  # None for cpu; the CUDA ordinal otherwise

    @classmethod
    def parse(cls, text: str | Device) -> Device:
        """`cpu`, `cuda`, `cuda:N` (spaces and case ignored); anything else is a DeviceError naming the forms."""
        if isinstance(text, Device):
            return text
        m = _DEVICE_RE.fullmatch(str(text).strip().lower())
        if m is None or (m.group(1) == "cpu" and m.group(2) is not None):
            raise DeviceError(f"device {text!r}: use cpu, cuda or cuda:N (N = 0, 1, ... the CUDA device's index)")
        if m.group(1) == "cpu":
            return cls("cpu")
        return cls("cuda", int(m.group(2) or 0))

    @property
    def is_cuda(self) -> bool:
        return self.kind == "cuda"

    def __str__(self) -> str:
        """The canonical spelling: `cpu` or `cuda:N` (what torch.device accepts and what records store)."""
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    def require(self) -> Device:
        """This device, when this machine has it; else a DeviceError saying what it has (CUDA: imports torch)."""
        if self.is_cuda:
            import torch

            if not torch.cuda.is_available():
                raise DeviceError(
                    f"device {self}: torch sees no CUDA device here (torch.cuda.is_available() is "
                    "False); use --device cpu"
                )
            n = torch.cuda.device_count()
            if (self.index or 0) >= n:
                raise DeviceError(f"device {self}: torch sees {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
        return self

    def name(self) -> str:
        """The CPU's model name, or the CUDA device's name (which must exist)."""
        if not self.is_cuda:
            return cpu_name()
        import torch

        return torch.cuda.get_device_name(self.require().index)

    def free_bytes(self) -> int | None:
        """Memory free for a new allocation on this device: the host's available RAM for the CPU
        (host_free_bytes), the device's free memory for CUDA (torch.cuda.mem_get_info); None if unknown."""
        if not self.is_cuda:
            return host_free_bytes()
        import torch

        free, _total = torch.cuda.mem_get_info(self.require().index)
        return int(free)

    @property
    def memory_name(self) -> str:
        """Where free_bytes is free, for messages: `RAM` or `memory on cuda:N`."""
        return f"memory on {self}" if self.is_cuda else "RAM"


def host_free_bytes() -> int | None:
    """Free host memory for a new allocation: MemAvailable (Linux), else free physical pages; None if unknown."""
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


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask; torch's default thread count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux; platform's answer elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


VECTOR_ISAS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("asimd", "NEON"))  # widest first


def cpu_isa(cpuinfo: str | None = None) -> str:
    """'family F model M, <widest vector ISA>' from /proc/cpuinfo (`cpuinfo`: its text, for tests); '' where there
    is none (not Linux). Two CPUs with one model name can differ in both (a cloud VM's "AMD EPYC" is a Zen 3
    with AVX2 on one host and a Zen 4 with AVX-512 on another), and both decide which kernels run."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key and key not in fields:  # the first processor's
            fields[key] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    isa = next((name for flag, name in VECTOR_ISAS if flag in flags), "")
    family, model = fields.get("cpu family"), fields.get("model")
    generation = f"family {family} model {model}" if family and model else ""
    return ", ".join(part for part in (generation, isa) if part)


def installed_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of `names` from package metadata (nothing is imported); absent ones are left out."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class Fingerprint:
    """The machine a figure was measured on; equal fingerprints mean timings may be compared and reused."""

    cpu: str
    cores: int  # usable by the measuring process
    system: str  # "Linux x86_64"
    gpu: str | None = None  # CUDA runs: the GPU's name
    gpu_driver: str | None = None  # CUDA runs: driver version, and the CUDA runtime torch was built with
    libraries: tuple[tuple[str, str], ...] = ()  # (name, version), sorted
    # the CPU's generation and widest vector instructions (cpu_isa): a cloud VM names Zen 3 and Zen 4 alike
    # "AMD EPYC", and oneDNN and OpenVINO choose other kernels with AVX-512 than with AVX2
    cpu_isa: str = ""

    @property
    def key(self) -> str:
        """16 hex digits of sha256 over every field: the machine part of trial keys and measurement filters."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["libraries"] = dict(self.libraries)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fingerprint:
        libs = d.get("libraries") or {}
        return cls(
            cpu=str(d.get("cpu", "")),
            cores=int(d.get("cores", 0)),
            system=str(d.get("system", "")),
            gpu=d.get("gpu"),
            gpu_driver=d.get("gpu_driver"),
            libraries=tuple(sorted((str(k), str(v)) for k, v in dict(libs).items())),
            cpu_isa=str(d.get("cpu_isa", "")),
        )

    def describe(self) -> str:
        """One line for people: `Intel Xeon ... (2 cores), torch 2.13.0, onnxruntime 1.22.0, ...`."""
        return ", ".join([self.where(), *(f"{k} {v}" for k, v in self.libraries)])

    def where(self) -> str:
        """The machine without its libraries: `AMD EPYC (2 cores, family 25 model 17, AVX-512)` or the GPU."""
        isa = f", {self.cpu_isa}" if self.cpu_isa else ""
        return f"{self.gpu} (driver {self.gpu_driver})" if self.gpu else f"{self.cpu} ({self.cores} cores{isa})"


def _cuda_identity(device: Device) -> tuple[str, str]:
    import torch

    name = device.name()
    driver = _nvidia_driver() or "unknown driver"
    return name, f"{driver}, CUDA {torch.version.cuda}"


def driver_version(proc_text: str) -> str | None:
    """The driver version in the text of /proc/driver/nvidia/version, or None where it names none.

    Its first line has taken two shapes: `NVIDIA UNIX x86_64 Kernel Module  535.104.05  ...` and, for the open
    kernel modules, `NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  ...`: the version is the first dotted
    number after "Kernel Module", not the word that follows it.
    """
    m = re.search(r"Kernel Module\b.*?\s(\d+(?:\.\d+)+)(?=\s|$)", proc_text)
    return m.group(1) if m else None


def _nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version") as f:
            return driver_version(f.read())
    except OSError:
        return None


def fingerprint(device: str | Device = "cpu") -> Fingerprint:
    """The fingerprint of this machine for a run on `device` (a CUDA device adds its GPU name and driver)."""
    dev = Device.parse(device)
    gpu = driver = None
    if dev.is_cuda:
        gpu, driver = _cuda_identity(dev)
    return Fingerprint(
        cpu=cpu_name(),
        cores=usable_cores(),
        system=f"{platform.system()} {platform.machine()}",
        gpu=gpu,
        gpu_driver=driver,
        libraries=tuple(sorted(installed_versions().items())),
        cpu_isa=cpu_isa(),
    )
