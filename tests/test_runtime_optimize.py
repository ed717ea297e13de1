"""The optimised build equals the plain build: BN folding, fused MixConv (split and zero-padded), fused SE,
channels_last, the frozen TorchScript graph and torch.compile, in eval mode with random non-trivial BN
statistics; and MixConv / SE detection from the IR alone."""

from __future__ import annotations

import pytest
import torch

import designer
from designer.cfg import with_net
from runtime import build_model, randomize_bn
from runtime.layers.merge import RouteLayer
from runtime.optimize import optimize
from runtime.optimize.build import FrozenModel
from runtime.optimize.mixconv import MixConvLayer, find_mixconv
from runtime.optimize.squeeze_excite import SqueezeExcite, find_squeeze_excite
from tests.conftest import SHARED

TOL = 1e-4
SIZE = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max())


def _plain(name: str, size: int = SIZE, logits: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    network = with_net(designer.lower(designer.load_preset(name)), width=size, height=size)
    # the logits (last conv) as well as the softmax: a softmax hides errors in small logits
    outputs = (len(network.layers) - 2, len(network.layers) - 1) if logits else None
    model = build_model(network, outputs=outputs)
    gen = torch.Generator().manual_seed(seed)
    randomize_bn(model, gen)
    return network, model


def _mixconv_blocks(name: str) -> int:
    return sum(len(rb.spec.kernels) > 1 for rb in designer.resolve(designer.load_preset(name)))


@pytest.fixture(scope="module")
def mixnet_s():
    return _plain("mixnet-s")


@pytest.mark.parametrize(
    "options",
    [
        dict(mixconv="none"),
        dict(mixconv="split"),
        dict(mixconv="padded"),
        dict(mixconv="split", fold_bn=False),
        dict(mixconv="padded", channels_last=True),
        dict(mixconv="split", channels_last=True),
        dict(mixconv="auto"),
        dict(mixconv="padded", squeeze_excite=False),
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_optimized_equals_plain(mixnet_s, options: dict) -> None:
    network, plain = mixnet_s
    fast = optimize(plain, **options)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        want, got = plain(x), fast(x)
    for g, w in zip(got, want):
        assert _rel(g, w) < TOL


REPEATS_YAML = """
name: repeats
input_size: 32
classes: 10
stem: {channels: 8, kernel: 3, stride: 2, activation: relu}
head: {channels: 32, activation: relu}
blocks:
- ir_r3_k3.5_s1_e2_c16_nsw
- ir_r1_k5.7_s1_e2_c16_nsw
"""


def test_auto_times_each_span_geometry_once_per_process(monkeypatch) -> None:
    """mixconv="auto" times a span's two forms once per geometry (runtime.optimize.build._span_key) and gives a
    span of the same geometry the same form without timing again, in this build and the next. By hand: three
    blocks of k3.5, expand 2 at 16x16 after the stem: the first block's MixConv runs over 8 x 2 = 16 channels, the
    second's and the third's over 16 x 2 = 32; a fourth block runs k5.7 over the same 32 channels at 16x16, the
    same input with other kernels. So 4 spans of 3 geometries, 6 timings in all; a second build of the same
    network times nothing, and the form the timing favoured is every span's."""
    from runtime.optimize import build as build_mod

    monkeypatch.setattr(build_mod, "_CHOSEN_FORM", {})
    timed: list[tuple[int, str]] = []

    def fake_time(module, model, p, channels_last) -> float:  # "split" always faster: the choice shows
        timed.append((model.shapes[p.source].c, module.mode))
        return 1.0 if module.mode == "split" else 2.0

    monkeypatch.setattr(build_mod, "_time_module", fake_time)
    network = designer.lower(designer.load_yaml(REPEATS_YAML))
    model = build_model(network)
    first = optimize(model, mixconv="auto")
    spans = [m for m in first.modules() if isinstance(m, MixConvLayer)]
    assert len(spans) == 4 and {m.mode for m in spans} == {"split"}
    assert sorted(timed) == [
        (16, "padded"),
        (16, "split"),
        (32, "padded"),
        (32, "padded"),
        (32, "split"),
        (32, "split"),
    ]
    again = optimize(build_model(network), mixconv="auto")
    assert len(timed) == 6 and {m.mode for m in again.modules() if isinstance(m, MixConvLayer)} == {"split"}


def test_frozen_graph_equals_plain(mixnet_s) -> None:
    _, plain = mixnet_s
    fast = optimize(plain, mixconv="padded", freeze=True)
    assert isinstance(fast, FrozenModel)
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        want = plain(x)
        for _ in range(2):  # the second call runs the cached graph
            got = fast(x)
            for g, w in zip(got, want):
                assert _rel(g, w) < TOL


def _cpu_timed_build(plain):
    """What runtime.bench times on CPU by default: optimised, channels_last, each conv fused with its activation
    (weights packed for batch 1), traced and frozen."""
    from runtime.optimize.fused_conv import fuse_conv_activations

    fast = optimize(plain, channels_last=True)
    fuse_conv_activations(fast)
    return FrozenModel(fast)


@pytest.mark.parametrize("name", designer.preset_names())
def test_cpu_timed_build_equals_plain_on_every_preset(name: str) -> None:
    _, plain = _plain(name)
    fast = _cpu_timed_build(plain)
    x = torch.randn(2, 3, SIZE, SIZE)  # batch 2: not the batch the weights were packed for
    with torch.no_grad():
        want = plain(x)
        got = fast(x.contiguous(memory_format=torch.channels_last))
    for g, w in zip(got, want):
        assert _rel(g, w) < 1e-5


def test_build_model_optimize_flag(mixnet_s) -> None:
    network, plain = mixnet_s
    fast = build_model(network, optimize=True, mixconv="padded")
    assert fast.optimized and not plain.optimized


def test_mixconv_spans_are_fused_without_route_copies(mixnet_s) -> None:
    network, plain = mixnet_s
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    for mode in ("split", "padded"):
        fast = optimize(plain, mixconv=mode)
        fused = [m for m in fast.layers if isinstance(m, MixConvLayer)]
        assert len(fused) == _mixconv_blocks("mixnet-s") == 13
        assert {m.mode for m in fused} == {mode}
        assert not any(isinstance(m, RouteLayer) for m in fast.layers)  # MixNet's only routes are MixConv's
        assert not any(getattr(m, "bn", None) is not None for m in fast.modules())
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in before.items())  # the plain model is untouched


def test_grouped_gpu_variant_fuses_and_matches() -> None:
    _, plain = _plain("mixnet-m-gpu", size=32)
    x = torch.randn(1, 3, 32, 32)
    for mode in ("split", "padded"):
        fast = optimize(plain, mixconv=mode)
        assert {m.mode for m in fast.layers if isinstance(m, MixConvLayer)} == {mode}
        with torch.no_grad():
            for g, w in zip(fast(x), plain(x)):
                assert _rel(g, w) < TOL


HEAD = "[net]\nwidth=8\nheight=8\nchannels=4\n\n[convolutional]\nfilters=6\nsize=1\nactivation=relu\n\n"
SPLIT = (
    "[route]\nlayers={x}\ngroups=2\ngroup_id=0\n\n[convolutional]\nfilters=3\nsize=3\npad=1\ngroups=3\n"
    "activation=relu\n\n[route]\nlayers={x}\ngroups=2\ngroup_id=1\n\n[convolutional]\nfilters=3\nsize=5\n"
    "pad=1\ngroups=3\nactivation=relu\n\n[route]\nlayers=-3,-1\n\n"
)


def test_mixconv_detected_in_a_hand_written_cfg() -> None:
    network = designer.parse_cfg(HEAD + SPLIT.format(x=0))
    (p,) = find_mixconv(network, designer.infer_shapes(network))
    assert (p.first, p.last, p.source, p.convs) == (1, 5, 0, (2, 4))


def test_mixconv_not_fused_when_an_intermediate_has_another_reader() -> None:
    tail = (
        "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n\n"  # layer 6
        "[shortcut]\nfrom=-3\nactivation=linear\n"
    )  # layer 7 also reads conv 4, inside the span
    network = designer.parse_cfg(HEAD + SPLIT.format(x=0) + tail)
    assert network.layers[7].type == "shortcut" and designer.infer_shapes(network)[7].sources == (4,)
    assert find_mixconv(network, designer.infer_shapes(network)) == []
    torch.manual_seed(0)
    plain = build_model(network)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert _rel(optimize(plain)(x), plain(x)) < TOL


def test_mixconv_not_fused_when_an_intermediate_is_an_output() -> None:
    network = designer.parse_cfg(HEAD + SPLIT.format(x=0))
    assert find_mixconv(network, designer.infer_shapes(network), keep=(2,)) == []
    model = build_model(network, outputs=(2, 5))
    fast = optimize(model)
    assert not any(isinstance(m, MixConvLayer) for m in fast.layers)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        for g, w in zip(fast(x), model(x)):
            assert _rel(g, w) < TOL


def test_squeeze_excite_spans_are_fused(mixnet_s) -> None:
    network, plain = mixnet_s
    blocks = sum(rb.se_channels > 0 for rb in designer.resolve(designer.load_preset("mixnet-s")))
    assert len(find_squeeze_excite(network, plain.shapes)) == blocks == 13
    fast = optimize(plain)
    assert sum(isinstance(m, SqueezeExcite) for m in fast.layers) == blocks
    kinds = [type(m).__name__ for m in fast.layers]
    assert "ScaleChannelsLayer" not in kinds and kinds.count("AvgpoolLayer") == 1  # the head's global pool


def test_squeeze_excite_found_in_darknet_efficientnet_cfg() -> None:
    cfg = SHARED / "darknet" / "cfg" / "efficientnet_b0.cfg"
    if not cfg.exists():
        pytest.skip(f"{cfg} is absent (shared reference data not checked out)")
    network = designer.parse_cfg(cfg)
    found = find_squeeze_excite(network, designer.infer_shapes(network))
    assert len(found) == sum(layer.type == "scale_channels" for layer in network.layers) == 16
    network = with_net(network, width=64, height=64)
    torch.manual_seed(0)
    plain = build_model(network, outputs=(len(network.layers) - 2,))
    randomize_bn(plain, torch.Generator().manual_seed(1))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _rel(optimize(plain, channels_last=True)(x), plain(x)) < TOL


@pytest.mark.slow
def test_torch_compile_equals_plain() -> None:
    network = designer.parse_cfg(
        HEAD + SPLIT.format(x=0) + "[avgpool]\n\n[convolutional]\nfilters=2\nsize=1\n"
        "activation=swish\n\n[convolutional]\nfilters=6\nsize=1\nactivation=logistic\n\n"
        "[scale_channels]\nfrom=-4\nactivation=linear\n"
    )
    torch.manual_seed(0)
    plain = build_model(network)
    randomize_bn(plain)
    fast = optimize(plain, mixconv="padded", channels_last=True, compile=True)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert _rel(fast(x), plain(x)) < TOL


def _dense_pointwise_layers(network) -> int:
    """Hand count from the IR: [convolutional] size=1 stride=1 groups=1 layers outside fused MixConv/SE spans."""
    fused = set()
    shapes = designer.infer_shapes(network)
    for p in find_mixconv(network, shapes) + find_squeeze_excite(network, shapes):
        fused.update(range(p.first, p.last + 1))
    return sum(
        1
        for i, layer in enumerate(network.layers)
        if layer.type == "convolutional"
        and i not in fused
        and int(layer["size"]) == 1
        and int(layer["stride"]) == 1
        and int(layer["groups"]) == 1
        and not layer["xnor"]
        and not layer["binary"]
    )


@pytest.mark.parametrize("name", ["efficientnet-b0", "mixnet-m"])
def test_channels_last_build_runs_dense_pointwise_convs_as_matrix_products(name: str) -> None:
    from runtime.optimize.pointwise import PointwiseLinear

    network, plain = _plain(name)
    fast = optimize(plain, channels_last=True)
    found = sum(isinstance(m, PointwiseLinear) for m in fast.modules())
    assert found == _dense_pointwise_layers(network) > 0
    assert not any(isinstance(m, PointwiseLinear) for m in optimize(plain).modules())  # NCHW builds keep the conv
    x = torch.randn(2, 3, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for g, w in zip(fast(x), plain(x)):
            assert _rel(g, w) < 1e-5


@pytest.mark.parametrize("cfg", ["yolov4-tiny.cfg", "darknet53.cfg"])
def test_channels_last_frozen_build_equals_plain_on_darknet_cfgs(cfg: str) -> None:
    path = SHARED / "darknet" / "cfg" / cfg
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared darknet cfgs)")
    torch.manual_seed(0)
    network = with_net(designer.parse_cfg(path.read_text()), width=64, height=64)
    plain = build_model(network)
    randomize_bn(plain, torch.Generator().manual_seed(0))
    fast = _cpu_timed_build(plain)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want, got = plain(x), fast(x.contiguous(memory_format=torch.channels_last))
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert _rel(g, w) < 1e-5


def _fusable_layers(network) -> int:
    """Hand count from the IR: [convolutional] layers outside fused MixConv/SE spans with an activation oneDNN
    computes as darknet does (relu, leaky, logistic, tanh, swish, relu6, linear)."""
    fused = set()
    shapes = designer.infer_shapes(network)
    for p in find_mixconv(network, shapes) + find_squeeze_excite(network, shapes):
        fused.update(range(p.first, p.last + 1))
    acts = {"relu", "leaky", "logistic", "tanh", "swish", "relu6", "linear"}
    return sum(
        1
        for i, layer in enumerate(network.layers)
        if layer.type == "convolutional" and i not in fused and str(layer["activation"]) in acts and not layer["xnor"]
    )


@pytest.mark.parametrize("name", ["efficientnet-b0", "mixnet-s"])
def test_fp32_cpu_build_runs_each_conv_and_activation_as_one_onednn_call(name: str) -> None:
    from runtime.optimize.fused_conv import FusedConvAct, fuse_conv_activations

    network, plain = _plain(name)
    fast = optimize(plain, channels_last=True)
    n = fuse_conv_activations(fast)
    scripted = [m for m in fast.layers if isinstance(m, torch.jit.ScriptModule)]
    assert n == len(scripted) == _fusable_layers(network) > 0
    assert all(m.original_name == FusedConvAct.__name__ for m in scripted)
    x = torch.randn(3, 3, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for g, w in zip(fast(x), plain(x)):
            assert _rel(g, w) < 1e-5


def test_fusion_refuses_the_plain_build(mixnet_s) -> None:
    from runtime.optimize.fused_conv import fuse_conv_activations

    with pytest.raises(ValueError, match="optimised build"):
        fuse_conv_activations(mixnet_s[1])


def test_bench_times_the_fused_build_on_cpu_fp32_only() -> None:
    from runtime.bench import prepare

    network = with_net(designer.lower(designer.load_preset("mixnet-s")), width=32, height=32)

    def scripted(model) -> int:
        inner = model.model if isinstance(model, FrozenModel) else model
        return sum(isinstance(m, torch.jit.ScriptModule) for m in inner.layers)

    assert scripted(prepare(network, channels_last=True, execution="torchscript")) > 0
    assert scripted(prepare(network, channels_last=False, execution="torchscript")) == 0
    assert scripted(prepare(network, channels_last=True, dtype="bf16", execution="eager")) == 0
