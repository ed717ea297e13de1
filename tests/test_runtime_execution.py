"""How a model is executed while timed (runtime.execution) and everything around the CUDA-graph path that runs
without a GPU: the execution named in the record, "auto" per device and build, the one-line refusal of
cuda-graph on CPU, CUDA-event block timing (with a stand-in clock), and fp16 training's GradScaler.

The capture itself runs in tests/test_runtime_gpu.py (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

import designer
from designer.cfg import with_net
from runtime import cuda_graphs
from runtime.bench import BenchError, measure
from runtime.execution import resolve_execution
from runtime.optimize.build import FrozenModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small() -> designer.Network:
    return with_net(designer.lower(designer.load_preset("mixnet-s")), width=32, height=32)


@pytest.mark.parametrize("asked,device,optimized,compile,want", [
    ("auto", "cpu", True, False, "torchscript"),
    ("auto", "cpu", False, False, "eager"),
    ("auto", "cuda", True, False, "eager"),
    ("auto", "cuda:1", True, False, "eager"),
    ("eager", "cpu", True, False, "eager"),
    ("cuda-graph", "cuda", True, False, "cuda-graph"),
    ("auto", "cpu", True, True, "compiled"),
    ("compiled", "cpu", False, True, "compiled"),
])  # fmt: skip
def test_resolve_execution(asked: str, device: str, optimized: bool, compile: bool, want: str) -> None:
    assert resolve_execution(asked, device=device, optimized=optimized, compile=compile) == want


@pytest.mark.parametrize("asked,compile,message", [
    ("cuda-graph", False, "execution cuda-graph needs a CUDA device"),
    ("graph", False, "is not one of"),
    ("eager", True, "--compile asks for execution compiled"),
])  # fmt: skip
def test_resolve_execution_refuses(asked: str, compile: bool, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        resolve_execution(asked, device="cpu", optimized=True, compile=compile)


@pytest.mark.parametrize(
    "asked,optimized,want", [("auto", True, "torchscript"), ("auto", False, "eager"), ("eager", True, "eager")]
)
def test_measure_states_its_execution(
    small: designer.Network, asked: str, optimized: bool, want: str, monkeypatch
) -> None:
    built = []
    real = FrozenModel.forward

    def spy(self, x):
        built.append(self)
        return real(self, x)

    monkeypatch.setattr(FrozenModel, "forward", spy)
    r = measure(small, threads=1, min_run_time=0.02, optimized=optimized, execution=asked)
    assert r.execution == want and r.to_json()["execution"] == want
    assert bool(built) is (want == "torchscript")  # the record says what ran


def test_measure_refuses_cuda_graph_on_cpu_before_building(small: designer.Network, monkeypatch) -> None:
    monkeypatch.setattr("runtime.bench.prepare", lambda *a, **k: pytest.fail("built a model it cannot time"))
    with pytest.raises(BenchError, match="cuda-graph needs a CUDA device"):
        measure(small, execution="cuda-graph")


def test_per_layer_under_torchscript_times_the_eager_steps(small: designer.Network) -> None:
    r = measure(small, threads=1, min_run_time=0.05, per_layer=True)
    assert r.execution == "torchscript"
    assert "mixconv" in {t.type for t in r.per_layer} and sum(t.fma for t in r.per_layer) == r.fma


def test_capture_refuses_a_cpu_tensor() -> None:
    with pytest.raises(BenchError, match="needs a CUDA device"):
        cuda_graphs.capture(torch.nn.Identity(), torch.ones(1, 3, 4, 4))


def test_median_iqr_hand_worked() -> None:
    # sorted 1..5: median 3; quartiles by linear interpolation at positions 1 and 3 -> 2 and 4
    assert cuda_graphs.median_iqr([5.0, 1.0, 4.0, 2.0, 3.0]) == (3.0, 2.0)
    # 1,2,3,4: median 2.5; q25 at position 0.75 -> 1.75, q75 at 2.25 -> 3.25
    assert cuda_graphs.median_iqr([4.0, 3.0, 2.0, 1.0]) == pytest.approx((2.5, 1.5))


class _Clock:
    """A stand-in for CUDA events: each call of the timed function advances the clock by `step_ms`."""

    def __init__(self, step_ms: float):
        self.now, self.step_ms = 0.0, step_ms

    def tick(self) -> None:
        self.now += self.step_ms

    def event(self):
        clock = self

        class Event:
            def record(self) -> None:
                self.at = clock.now

            def elapsed_time(self, end) -> float:
                return end.at - self.at

        return Event()


def test_time_events_per_call_seconds() -> None:
    clock = _Clock(step_ms=0.25)  # 4 calls per 1 ms block
    median, iqr = cuda_graphs.time_events(clock.tick, 0.01, event=clock.event, synchronize=lambda: None)
    assert median == pytest.approx(0.25e-3) and iqr == pytest.approx(0.0, abs=1e-12)
    assert clock.now >= 10.0  # at least min_run_time (10 ms) of timed calls


def test_fp16_training_scales_the_loss_and_bf16_does_not(monkeypatch) -> None:
    from runtime import train_step

    scaled: list[str] = []

    class Recording(torch.amp.GradScaler):
        def scale(self, outputs):
            scaled.append("scale")
            return super().scale(outputs)

    monkeypatch.setattr(torch.amp, "GradScaler", Recording)
    net = with_net(designer.lower(designer.load_preset("mixnet-s")), width=32, height=32)
    for dtype in ("bf16", "fp16"):
        try:
            model = train_step.train_model(net, dtype=dtype)
        except BenchError as e:  # fp16 convolutions depend on the CPU and the torch build
            assert dtype == "fp16" and "not supported on CPU" in str(e)
            pytest.skip(str(e))
        x, y = torch.randn(2, 3, 32, 32), torch.tensor([0, 1])
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        before = [p.detach().clone() for p in model.parameters()]
        step = train_step.sgd_step(model, opt, x, y, device="cpu", dtype=dtype)
        for steps in range(1, 30):  # fp16: the scaler skips steps whose scaled gradients overflow, halving its scale  # noqa: B007 - read after the loop
            step()
            if any(not torch.equal(a, p) for a, p in zip(before, model.parameters())):
                break
        else:
            pytest.fail(f"{dtype}: 30 training steps left every weight unchanged")
        assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
        assert len(scaled) == (steps if dtype == "fp16" else 0)
