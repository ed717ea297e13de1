"""The runtime on CUDA: same results as on CPU, fp16/bf16 close to fp32, and the benchmark runs there.

Marked `gpu`; every test skips (saying why) where torch sees no CUDA device.
"""

from __future__ import annotations

import pytest
import torch

import designer
from designer.cfg import with_net
from runtime import build_model, randomize_bn
from runtime.bench import measure
from runtime.optimize import optimize

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: torch.cuda.is_available() is False"),
]

SIZE = 96


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float().cpu() - b.float().cpu()).abs().max() / b.float().abs().max())


@pytest.fixture(scope="module")
def mixnet_s():
    torch.manual_seed(0)
    network = with_net(designer.lower(designer.load_preset("mixnet-s")), width=SIZE, height=SIZE)
    model = build_model(network, outputs=(len(network.layers) - 2,))  # logits
    randomize_bn(model, torch.Generator().manual_seed(0))
    return network, model


@pytest.fixture(autouse=True)
def _exact_fp32():
    # TF32 would make CUDA fp32 convolutions differ from CPU by ~1e-3; compare true fp32
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def test_cuda_forward_equals_cpu(mixnet_s) -> None:
    _, model = mixnet_s
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want = model(x)
        got = build_model(model.network, outputs=model.outputs).cuda()
        got.load_state_dict(model.state_dict())
        assert _rel(got(x.cuda()), want) < 1e-4


@pytest.mark.parametrize("mixconv", ["split", "padded", "auto"])
def test_cuda_optimized_equals_cpu_plain(mixnet_s, mixconv: str) -> None:
    _, model = mixnet_s
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want = model(x)
        plain = build_model(model.network, outputs=model.outputs)
        plain.load_state_dict(model.state_dict())
        fast = optimize(plain.cuda(), mixconv=mixconv, channels_last=True)
        assert _rel(fast(x.cuda()), want) < 1e-4


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 2e-2), (torch.bfloat16, 5e-2)])
def test_half_precision_close_to_fp32(mixnet_s, dtype: torch.dtype, tol: float) -> None:
    _, model = mixnet_s
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want = model(x)
        plain = build_model(model.network, outputs=model.outputs)
        plain.load_state_dict(model.state_dict())
        fast = optimize(plain.cuda(), mixconv="padded").to(dtype)
        assert _rel(fast(x.cuda().to(dtype)), want) < tol


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_bench_on_cuda(mixnet_s, dtype: str) -> None:
    network, _ = mixnet_s
    r = measure(network, device="cuda", batch=2, dtype=dtype, min_run_time=0.1, per_layer=dtype == "fp32")
    d = r.to_json()
    assert d["device"] == "cuda:0" and d["median_ms"] > 0 and d["fma"] == 2 * designer.count(network).fma
    assert d["device_name"] == torch.cuda.get_device_name()
    assert d["runs"] >= 5 and d["machine"]["gpu"] == d["device_name"]  # the fingerprint names the GPU
    if dtype == "fp32":
        assert d["per_layer"] and sum(row["fma"] for row in d["per_layer"]) == d["fma"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_cuda_graph_replay_equals_eager(mixnet_s, dtype: torch.dtype) -> None:
    from runtime.cuda_graphs import capture

    _, model = mixnet_s
    plain = build_model(model.network, outputs=model.outputs)
    plain.load_state_dict(model.state_dict())
    fast = optimize(plain.cuda(), mixconv="padded", channels_last=True).to(dtype)
    graph = capture(fast, torch.randn(2, 3, SIZE, SIZE, device="cuda", dtype=dtype))
    x = torch.randn(2, 3, SIZE, SIZE, device="cuda", dtype=dtype)  # a new input, copied into the static one
    with torch.no_grad():
        want = fast(x)
    assert _rel(graph.replay(x), want) < 1e-5


@pytest.mark.parametrize("execution", ["eager", "cuda-graph"])
def test_bench_execution_on_cuda(mixnet_s, execution: str) -> None:
    network, _ = mixnet_s
    r = measure(
        network, device="cuda", batch=1, dtype="fp16", channels_last=True, min_run_time=0.1, execution=execution
    )
    assert r.execution == execution and r.median_ms > 0 and r.to_json()["execution"] == execution


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_mixed_precision_train_step_on_cuda(mixnet_s, dtype: str) -> None:
    from runtime.train_step import measure_train_step

    network, _ = mixnet_s
    r = measure_train_step(network, device="cuda", batch=8, dtype=dtype, channels_last=True, min_run_time=0.1)
    assert r.mode == "train" and r.dtype == dtype and r.median_ms > 0
