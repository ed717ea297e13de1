"""`mixdesign bench --backend` and runtime.deploy.backends: one record for every backend, per-layer profiles mapped
back to darknet layers, and one-line refusals for what a backend cannot do here. Never asserts on time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import designer
from designer.cli import main
from runtime.bench import BenchError, measure
from runtime.deploy import backends

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "tests/data/tiny.yaml")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch) -> None:
    """`mixdesign bench` records into a workspace (MIXDESIGN_WORKSPACE): these tests' stay in their own."""
    monkeypatch.setenv("MIXDESIGN_WORKSPACE", str(tmp_path / "workspace.sqlite"))


@pytest.fixture(scope="module")
def tiny() -> designer.Network:
    return designer.lower(designer.load_yaml(TINY))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_measure_record_and_per_layer(tiny: designer.Network, backend: str) -> None:
    r = measure(tiny, backend=backend, batch=2, threads=1, per_layer=True, min_run_time=0.05)
    assert (r.backend, r.dtype, r.threads, r.batch, r.device) == (backend, "fp32", 1, 2, "cpu")
    assert r.median_ms > 0 and r.iqr_ms >= 0 and r.fma == 2 * designer.count(tiny).fma
    assert r.fma_per_s == pytest.approx(r.fma / (r.median_ms / 1e3))
    rows = r.per_layer
    assert rows and sum(t.time_share for t in rows) == pytest.approx(1.0)
    assert sum(t.fma for t in rows) == r.fma  # every multiply-add is in some profiled step
    for t in rows:
        if t.index >= 0:  # the kind in the node name is the darknet layer's type (or a fused span's)
            assert t.type in ("mixconv", "squeeze_excite") or tiny.layers[t.index].type == t.type
    assert any(t.type == "convolutional" for t in rows)
    assert json.dumps(r.to_json())  # the same JSON record as torch's


def test_cli_bench_every_backend(capsys) -> None:
    seen = {}
    for backend in backends.NAMES:
        code, out, err = run(
            capsys, "bench", TINY, "--backend", backend, "--threads", "1", "--min-run-time", "0.05", "--json"
        )
        assert code == 0, err
        seen[backend] = json.loads(out)
    assert {b: d["backend"] for b, d in seen.items()} == {b: b for b in backends.NAMES}
    assert len({d["fma"] for d in seen.values()}) == 1
    code, out, _ = run(
        capsys,
        "bench",
        TINY,
        "--backend",
        "openvino",
        "--threads",
        "1",
        "--min-run-time",
        "0.05",
        "--per-layer",
        "--top",
        "3",
    )
    assert code == 0 and "openvino on cpu" in out and "fp32" in out and "slowest layers" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--backend", "onnxruntime", "--dtype", "bf16"], "onnxruntime backend runs the exported fp32 model"),
        (["--backend", "openvino", "--device", "cuda"], "openvino backend runs on the CPU"),
        (["--backend", "openvino", "--device", "cuda:1"], "device cuda:1: the openvino backend runs on the CPU"),
        (["--backend", "onnxruntime", "--channels-last"], "options of the torch backend"),
    ],
)
def test_cli_refusals_one_line(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "bench", TINY, "--min-run-time", "0.05", *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_onnxruntime_cuda_needs_the_provider(tiny: designer.Network, device: str) -> None:
    """Every CUDA spelling is refused without the provider (`cuda:0` used to run on the CPU, recorded as CUDA)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(BenchError, match="no CUDA provider.*onnxruntime-gpu"):
        measure(tiny, backend="onnxruntime", device=device, min_run_time=0.05)


class _Session:
    """What an onnxruntime session reports about where it runs."""

    def __init__(self, providers: list[str], options: dict):
        self._p, self._o = providers, options

    def get_providers(self) -> list[str]:
        return self._p

    def get_provider_options(self) -> dict:
        return self._o


@pytest.mark.parametrize("providers,options,message", [
    (["CPUExecutionProvider"], {}, "could not start its CUDA provider"),  # onnxruntime's silent CPU fallback
    (["CUDAExecutionProvider", "CPUExecutionProvider"], {"CUDAExecutionProvider": {"device_id": "0"}},
     "runs on cuda:0 instead"),
])  # fmt: skip
def test_onnxruntime_session_must_run_on_the_cuda_device_asked(providers, options, message) -> None:
    from designer.machine import Device

    with pytest.raises(BenchError, match=message):
        backends.check_cuda_session(_Session(providers, options), Device.parse("cuda:1"))
    backends.check_cuda_session(
        _Session(["CUDAExecutionProvider"], {"CUDAExecutionProvider": {"device_id": "1"}}), Device.parse("cuda:1")
    )


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_threads_are_read_back_from_the_runtime(tiny: designer.Network, backend: str) -> None:
    """The recorded thread count is what the session / compiled model holds, and it is the count asked for."""
    runner = backends.get_backend(backend).prepare(tiny, 1, "fp32", 2, "cpu")
    if backend == "onnxruntime":
        held = runner.session.get_session_options().intra_op_num_threads
    else:
        held = runner.compiled.get_property("INFERENCE_NUM_THREADS")
    assert held == 2 and runner.threads == 2
    r = measure(tiny, backend=backend, threads=2, min_run_time=0.02)
    assert r.threads == 2


def test_openvino_bf16_refused_without_the_capability(tiny: designer.Network, monkeypatch) -> None:
    monkeypatch.setattr(backends, "openvino_capabilities", lambda: ["FP32", "INT8"])
    with pytest.raises(BenchError, match="no bf16 support in OpenVINO"):
        measure(tiny, backend="openvino", dtype="bf16", min_run_time=0.05)


def test_openvino_bf16_is_what_runs_when_asked(tiny: designer.Network) -> None:
    if "BF16" not in backends.openvino_capabilities():
        pytest.skip("this CPU has no bf16 in OpenVINO")
    r = measure(tiny, backend="openvino", dtype="bf16", threads=1, min_run_time=0.05)
    assert r.dtype == "bf16"
    assert measure(tiny, backend="openvino", threads=1, min_run_time=0.05).dtype == "fp32"  # f32 by default


def test_unknown_backend(tiny: designer.Network) -> None:
    with pytest.raises(BenchError, match="unknown backend 'tensorrt'"):
        measure(tiny, backend="tensorrt")


def test_openvino_layer_shares_leave_the_profiled_models_first_calls_out(tiny: designer.Network, monkeypatch) -> None:
    """A freshly compiled profiled model runs its first calls slower, its early nodes most: those calls must not
    reach the per-node times (they would move time into the early layers' shares), and one interrupted call
    must not either (the median). A stand-in profiled request reports a node at 9 ms for its first 5 calls,
    then 1 ms, with a single 50 ms call among the counted ones."""
    from datetime import timedelta

    import openvino as ov

    runner = backends.get_backend("openvino").prepare(tiny, 1, "fp32", 1, "cpu")
    name = next(
        n.get_friendly_name() for n in runner.compiled.get_runtime_model().get_ops() if "L0" in n.get_friendly_name()
    )
    calls = []

    class Info:
        def __init__(self, ms: float) -> None:
            self.status, self.node_name, self.real_time = (
                ov.ProfilingInfo.Status.EXECUTED,
                name,
                timedelta(milliseconds=ms),
            )

    class Request:
        def set_input_tensor(self, t) -> None: ...

        def infer(self) -> None:
            calls.append(len(calls))

        def get_profiling_info(self) -> list[Info]:
            n = len(calls)
            return [Info(9.0 if n <= 5 else 50.0 if n == 7 else 1.0)]

    class Compiled:
        def create_infer_request(self) -> Request:
            return Request()

    monkeypatch.setattr(runner, "_compile", lambda core, profile: Compiled())
    seconds = runner.layer_seconds(3)
    ((step, sec),) = seconds.items()
    assert step is not None and step.first == 0
    assert sec == pytest.approx(1e-3)
