"""Deployment runtimes that run the exported ONNX model: onnxruntime and OpenVINO, behind one Backend protocol.

`BACKENDS[name].prepare(network, batch, dtype, threads, device)` exports the network (runtime.deploy.onnx_export,
random weights: latency does not depend on their values), loads it into the runtime and returns a Runner:
`run()` does one inference on a prepared random input (what runtime.bench times), `infer(x)` runs given inputs
(what the numerics tests compare), `precision` is what the runtime actually computes in, and `layer_seconds(n)`
profiles n inferences and returns the mean time per exported step, keyed by the darknet layers the node names
carry (`L17_convolutional`, `L5-11_mixconv`; time in nodes without a layer name, such as layout reorders the
runtime inserts, is under None).

Threads are set the same way in every backend: torch.set_num_threads(threads) for torch, onnxruntime's
intra_op_num_threads=threads with inter_op_num_threads=1 (sequential execution), OpenVINO's
INFERENCE_NUM_THREADS=threads with one stream and the latency hint. The count recorded is read back from the
runtime (`Runner.threads`: the session's own options, the compiled model's property), not from what was asked.
Where OMP_WAIT_POLICY=PASSIVE (what the benchmarks set so that torch's OpenMP threads do not spin-wait on a
shared machine), onnxruntime's intra-op threads do not spin either (session.intra_op.allow_spinning=0);
otherwise each runtime keeps its default.

Devices (designer.machine.Device): onnxruntime runs `cuda:N` on its CUDA execution provider with device_id N,
and refuses (one line) when the provider is missing or the session it made does not run on it (onnxruntime
falls back to the CPU silently when the CUDA provider cannot load); OpenVINO runs on the CPU only
(runtime.deploy.check_backend_device).

Precision: onnxruntime runs the fp32 model as exported (on CPU, or on CUDA through its CUDA provider where the
installed onnxruntime has one). OpenVINO's CPU plugin would pick bf16 on its own where the CPU has it (AMX /
AVX512-BF16), which changes the numbers, so INFERENCE_PRECISION_HINT is always set: f32 for fp32, and bf16 or
f16 only when asked for and the CPU lists the capability. What the compiled model reports is recorded.
"""

from __future__ import annotations

import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from designer.ir import Network
from designer.machine import Device
from runtime.bench import BenchError
from runtime.deploy import BACKEND_LABELS, check_backend_device
from runtime.deploy.onnx_export import INPUT_NAME, StepName, export_network, layer_of

LayerSeconds = dict[StepName | None, float]


class Runner(Protocol):
    backend: str
    precision: str  # what the runtime computes in: fp32, bf16, fp16
    device_name: str

    @property
    def threads(self) -> int: ...  # intra-op threads, as the runtime reports them

    def run(self) -> Any: ...

    def infer(self, x: np.ndarray) -> list[np.ndarray]: ...

    def layer_seconds(self, repeats: int) -> LayerSeconds: ...


class Backend(ABC):
    """A runtime that runs the exported ONNX model. Preparing is alike for all: refuse what the runtime cannot
    run (`check`, before the export), export the network at the batch (or take the given ONNX bytes), and
    `load` it with a random input; only `check` and `load` differ."""

    name: str

    def prepare(
        self,
        network: Network,
        batch: int,
        dtype: str,
        threads: int,
        device: str | Device,
        *,
        optimized: bool = True,
        model: bytes | None = None,
    ) -> Runner:
        self.check(dtype, device)
        onnx, x = _onnx_bytes(network, batch, optimized, model), _random_input(network, batch)
        return self.load(onnx, x, threads=threads, dtype=dtype, device=device)

    @abstractmethod
    def check(self, dtype: str, device: str | Device) -> None:
        """BenchError, saying what to use instead, for a dtype or device this runtime does not run."""

    @abstractmethod
    def load(self, model: bytes, x: np.ndarray, *, threads: int, dtype: str, device: str | Device) -> Runner:
        """The runner of `model` (ONNX bytes) on input `x`."""


def _random_input(network: Network, batch: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((batch, *network.input_shape), dtype=np.float32)


def _onnx_bytes(network: Network, batch: int, optimized: bool, model: bytes | None) -> bytes:
    if model is not None:
        return model
    return export_network(network, batch=batch, optimized=optimized).SerializeToString()


def _group(samples: list[tuple[str, float]], repeats: int) -> LayerSeconds:
    out: dict[StepName | None, float] = defaultdict(float)
    for name, sec in samples:
        out[layer_of(name)] += sec / repeats
    return dict(out)


# ------------------------------------------------------------------ onnxruntime


class OnnxRuntimeRunner:
    backend = "onnxruntime"
    precision = "fp32"

    def __init__(self, model: bytes, x: np.ndarray, threads: int, device: str | Device):
        import onnxruntime as ort

        self._ort = ort
        self.model, self._threads, self.x = model, threads, x
        dev = Device.parse(device)
        if dev.is_cuda:
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BenchError(
                    f"device {dev}: this onnxruntime has no CUDA provider (it has "
                    f"{', '.join(ort.get_available_providers())}): install onnxruntime-gpu, or "
                    "measure onnxruntime with --device cpu"
                )
            self.device_name = dev.name()
            self.providers = [("CUDAExecutionProvider", {"device_id": dev.index}), "CPUExecutionProvider"]
        else:
            self.device_name = dev.name()
            self.providers = ["CPUExecutionProvider"]
        self.session = self._session(profile_dir=None)
        if dev.is_cuda:
            check_cuda_session(self.session, dev)

    @property
    def threads(self) -> int:
        """intra_op_num_threads as the session holds it."""
        return int(self.session.get_session_options().intra_op_num_threads)

    def _session(self, profile_dir: str | None):
        so = self._ort.SessionOptions()
        so.intra_op_num_threads = self._threads
        so.inter_op_num_threads = 1
        so.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":  # torch's threads do not spin: nor these
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if profile_dir is not None:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(profile_dir, "ort")
        return self._ort.InferenceSession(self.model, so, providers=self.providers)

    def run(self) -> Any:
        return self.session.run(None, {INPUT_NAME: self.x})

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})

    def layer_seconds(self, repeats: int) -> LayerSeconds:
        """onnxruntime's profiler (enable_profiling): each node's kernel time, from its JSON trace. The first run
        of the profiled session is a warm-up and is not counted."""
        with tempfile.TemporaryDirectory(prefix="mixdesign-ort-") as d:
            session = self._session(profile_dir=d)
            for _ in range(repeats + 1):
                session.run(None, {INPUT_NAME: self.x})
            with open(session.end_profiling()) as f:
                events = json.load(f)
        runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
        start = runs[1] if len(runs) > 1 else 0
        samples = [
            (e["name"].removesuffix("_kernel_time"), e["dur"] * 1e-6)
            for e in events
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= start
        ]
        return _group(samples, max(1, len(runs) - 1))


def check_cuda_session(session, dev: Device) -> None:
    """BenchError unless the session runs on the CUDA provider with device_id = dev.index (onnxruntime drops a
    provider it cannot load, e.g. without cuDNN, and runs on the CPU with a log line only)."""
    used = session.get_providers()
    if "CUDAExecutionProvider" not in used:
        raise BenchError(
            f"device {dev}: onnxruntime could not start its CUDA provider here (the session runs on "
            f"{', '.join(used)}; check the CUDA and cuDNN libraries onnxruntime-gpu needs), or "
            "measure onnxruntime with --device cpu"
        )
    got = session.get_provider_options().get("CUDAExecutionProvider", {}).get("device_id")
    if got is not None and int(got) != dev.index:
        raise BenchError(f"device {dev}: onnxruntime's CUDA provider runs on cuda:{got} instead")


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def check(self, dtype: str, device: str | Device) -> None:
        if dtype != "fp32":  # the device is checked by the runner: whether the session runs on CUDA
            raise BenchError(
                f"the onnxruntime backend runs the exported fp32 model; --dtype {dtype} is measured "
                "with --backend torch (or openvino for bf16 / fp16 on CPU)"
            )

    def load(self, model: bytes, x: np.ndarray, *, threads: int, dtype: str, device: str | Device) -> OnnxRuntimeRunner:
        return OnnxRuntimeRunner(model, x, threads, device)


# ------------------------------------------------------------------ OpenVINO

PROFILE_WARMUP = 5  # profiled calls run before the counted ones (OpenVinoRunner.layer_seconds)
_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_OV_CAPABILITY = {"bf16": "BF16", "fp16": "FP16"}


class OpenVinoRunner:
    backend = "openvino"

    def __init__(self, model: bytes, x: np.ndarray, threads: int, dtype: str, profile: bool = False):
        import openvino as ov

        core = ov.Core()
        self.device_name = str(core.get_property("CPU", "FULL_DEVICE_NAME"))
        self._model, self._threads, self._dtype, self.x = model, threads, dtype, x
        self.compiled = self._compile(core, profile)
        self.request = self.compiled.create_infer_request()
        self.request.set_input_tensor(ov.Tensor(x))
        hint = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        self.threads = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))  # what it compiled with
        self.precision = {
            "float32": "fp32",
            "f32": "fp32",
            "bfloat16": "bf16",
            "bf16": "bf16",
            "float16": "fp16",
            "f16": "fp16",
        }.get(hint.split("'")[1] if "'" in hint else hint, hint)

    def _compile(self, core, profile: bool):
        model = core.read_model(self._model, b"")
        config = {
            "INFERENCE_NUM_THREADS": self._threads,
            "INFERENCE_PRECISION_HINT": _OV_PRECISION[self._dtype],
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "PERF_COUNT": profile,
        }
        return core.compile_model(model, "CPU", config)

    def run(self) -> Any:
        self.request.infer()

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        req = self.compiled.create_infer_request()
        req.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
        return [req.get_output_tensor(i).data.copy() for i in range(len(self.compiled.outputs))]

    def layer_seconds(self, repeats: int) -> LayerSeconds:
        """OpenVINO's profiling info (PERF_COUNT=True): each node's real time, by node name, the median over
        `repeats` calls; a node reported not run is 0 s, so that its layer still has its row (with AVX-512,
        OpenVINO runs a depthwise conv inside the 1x1 conv before it and reports the depthwise one not run: its
        time is in that neighbour's, its multiply-adds in its own row). The profiled model is compiled afresh and its first calls run slower, the early
        nodes most (fresh buffers), which would move time into their shares: as many calls as are counted run
        first, at least PROFILE_WARMUP. The median keeps a call that another process interrupted out of them."""
        import openvino as ov

        compiled = self._compile(ov.Core(), profile=True)
        req = compiled.create_infer_request()
        req.set_input_tensor(ov.Tensor(self.x))
        for _ in range(max(PROFILE_WARMUP, repeats)):
            req.infer()
        per_node: dict[str, list[float]] = defaultdict(list)
        for _ in range(repeats):
            req.infer()
            for p in req.get_profiling_info():
                executed = p.status == ov.ProfilingInfo.Status.EXECUTED
                per_node[p.node_name].append(p.real_time.total_seconds() if executed else 0.0)
        out = _group([(name, float(np.median(times))) for name, times in per_node.items()], 1)
        if not out.get(None):  # no time in unnamed nodes: no "(runtime)" row
            out.pop(None, None)
        return out


def openvino_capabilities() -> list[str]:
    """What OpenVINO's CPU plugin says this CPU can compute in (BF16 and FP16 among them where it has them)."""
    import openvino as ov

    return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


class OpenVinoBackend(Backend):
    name = "openvino"

    def check(self, dtype: str, device: str | Device) -> None:
        check_backend_device(self.name, device)
        if dtype not in _OV_PRECISION:
            raise BenchError(f"dtype {dtype!r} is not one of {', '.join(_OV_PRECISION)}")
        if dtype in _OV_CAPABILITY:
            caps = openvino_capabilities()
            if _OV_CAPABILITY[dtype] not in caps:
                raise BenchError(
                    f"this CPU has no {dtype} support in OpenVINO (its capabilities: "
                    f"{', '.join(caps)}); use --dtype fp32"
                )

    def load(self, model: bytes, x: np.ndarray, *, threads: int, dtype: str, device: str | Device) -> OpenVinoRunner:
        return OpenVinoRunner(model, x, threads, dtype)


BACKENDS: dict[str, Backend] = {"onnxruntime": OnnxRuntimeBackend(), "openvino": OpenVinoBackend()}
NAMES = tuple(BACKEND_LABELS)  # every backend runtime.bench.measure takes
assert set(NAMES) == {"torch", *BACKENDS}, "runtime.deploy.BACKEND_LABELS and BACKENDS disagree"


def get_backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise BenchError(f"unknown backend {name!r} (choose {', '.join(NAMES)})") from None


def measure_backend(
    network: Network,
    *,
    backend: str,
    device: str | Device = "cpu",
    batch: int = 1,
    dtype: str = "fp32",
    threads: int | None = None,
    optimized: bool = True,
    per_layer: bool = False,
    min_run_time: float = 1.0,
    model: bytes | None = None,
    timer: Callable[..., Any] | None = None,
):
    """runtime.bench.measure for onnxruntime / OpenVINO: the same BenchResult, with backend and precision, the
    threads the runtime reports and runtime.bench.time_runs's runs, load and verdict (`timer`: a stand-in for
    time_runs in tests)."""
    import torch

    from designer.cost import count
    from runtime.bench import BenchResult, check_threads, result_fields, time_runs

    if batch < 1:
        raise BenchError(f"batch must be at least 1, got {batch}")
    check_threads(threads)
    dev = Device.parse(device)
    threads = int(threads if threads is not None else torch.get_num_threads())
    runner = get_backend(backend).prepare(network, batch, dtype, threads, dev, optimized=optimized, model=model)
    for _ in range(3):
        runner.run()
    threads = runner.threads
    fields = result_fields(
        (timer or time_runs)(runner.run, threads, min_run_time),
        device=dev,
        threads=threads,
        batch=batch,
        cost=count(network),
        device_name=runner.device_name,
    )
    layers = None
    if per_layer:
        repeats = max(3, min(50, int(min_run_time / max(fields["median_ms"] / 1e3, 1e-6))))
        layers = layer_times(network, runner.layer_seconds(repeats), batch)
    return BenchResult(
        dtype=runner.precision,
        optimized=optimized,
        channels_last=False,
        per_layer=layers,
        backend=backend,
        **fields,
    )


def layer_times(network: Network, seconds: LayerSeconds, batch: int):
    """Profiled seconds per step -> runtime.bench.LayerTime rows (time share vs FMA share), slowest first.

    Time the runtime spent in nodes that carry no layer name (inserted layout reorders) is one row with index
    -1 and type "(runtime)"; its FMA share is 0.
    """
    from designer.cost import count
    from runtime.bench import shares

    costs = count(network).layers
    rows = []
    for step, sec in seconds.items():
        if step is None:
            rows.append((-1, "(runtime)", sec * 1e3, 0))
        else:
            rows.append(
                (step.first, step.kind, sec * 1e3, sum(c.fma for c in costs[step.first : step.last + 1]) * batch)
            )
    return shares(rows)
