"""Layer semantics without a recorded Darknet case, each against a NumPy port of darknet's C loop.

reorg / reorg3d (blas.c reorg_cpu), region (region_layer.c forward + flatten), crop (crop_layer.c),
upsample with a negative stride (upsample_cpu), xnor conv (binarize_weights / binarize_cpu + im2col),
local_avgpool and maxpool with uneven padding, softmax groups with a tail, route slices feeding a conv,
and the runner's bookkeeping (dead layers skipped, outputs freed after their last reader).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import designer
from runtime import build_model
from runtime.model import INPUT

torch.manual_seed(0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(body: str, c: int, h: int, w: int) -> designer.Network:
    return designer.parse_cfg(f"[net]\nwidth={w}\nheight={h}\nchannels={c}\n\n{body}")


def _run(network: designer.Network, x: np.ndarray, train: bool = False) -> np.ndarray:
    model = build_model(network)
    model.train(train)
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float32))[None]).numpy()[0]


def reorg_cpu(x: np.ndarray, w: int, h: int, c: int, stride: int, forward: int) -> np.ndarray:
    """blas.c reorg_cpu, batch 1, loop for loop."""
    out = np.zeros(x.size, dtype=x.dtype)
    in_c = c // (stride * stride)
    for k in range(c):
        for j in range(h):
            for i in range(w):
                in_index = i + w * (j + h * k)
                c2, offset = k % in_c, k // in_c
                w2, h2 = i * stride + offset % stride, j * stride + offset // stride
                out_index = w2 + w * stride * (h2 + h * stride * c2)
                if forward:
                    out[out_index] = x[in_index]
                else:
                    out[in_index] = x[out_index]
    return out


@pytest.mark.parametrize("kind,reverse", [("reorg", 0), ("reorg", 1), ("reorg3d", 0), ("reorg3d", 1)])
def test_reorg_matches_reorg_cpu(kind: str, reverse: int) -> None:
    c, h, w, s = (16, 2, 3, 2) if reverse and kind == "reorg3d" else (8, 4, 6, 2)
    x = np.random.default_rng(1).standard_normal((c, h, w)).astype(np.float32)
    net = _net(f"[{kind}]\nstride={s}\nreverse={reverse}\n", c, h, w)
    shape = designer.infer_shapes(net)[0]
    got = _run(net, x)
    assert got.shape == shape.out
    if kind == "reorg":  # reorg_old_layer.c: reorg_cpu(input, l.w, l.h, l.c, ...)
        want = reorg_cpu(x.ravel(), w, h, c, s, reverse)
    else:  # reorg_layer.c: reorg_cpu(input, l.out_w, l.out_h, l.out_c, ...)
        want = reorg_cpu(x.ravel(), shape.w, shape.h, shape.c, s, reverse)
    assert np.array_equal(got.ravel(), want)


def test_reorg3d_is_space_to_depth() -> None:
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    got = _run(_net("[reorg3d]\nstride=2\n", 2, 4, 4), x)
    # channel (oy*2 + ox)*C + c holds x[c, 2j+oy, 2i+ox]
    assert got[1 * 2 + 0, 1, 1] == x[0, 2 * 1 + 0, 2 * 1 + 1]
    assert got[3 * 2 + 1, 0, 1] == x[1, 1, 3]


def test_region_matches_darknet_forward() -> None:
    n, classes, h, w = 2, 3, 2, 3
    size = 4 + classes + 1
    x = np.random.default_rng(2).standard_normal((n * size, h, w)).astype(np.float32)
    net = _net(f"[region]\nclasses={classes}\ncoords=4\nnum={n}\nsoftmax=1\nanchors=1,1,2,2\n", n * size, h, w)
    got = _run(net, x).ravel()
    # flatten(l.output, w*h, size*n, 1, 1) then per (location, anchor): sigmoid(entry 4), softmax(entries 5..)
    t = x.reshape(n * size, h * w).T.ravel().astype(np.float64)
    for i in range(h * w * n):
        b = size * i
        t[b + 4] = 1 / (1 + np.exp(-t[b + 4]))
        e = np.exp(t[b + 5 : b + 5 + classes] - t[b + 5 : b + 5 + classes].max())
        t[b + 5 : b + 5 + classes] = e / e.sum()
    assert np.allclose(got, t, atol=1e-6)


@pytest.mark.parametrize("noadjust", [0, 1])
def test_crop_is_centred_and_scaled(noadjust: int) -> None:
    x = np.random.default_rng(3).random((2, 7, 8)).astype(np.float32)
    got = _run(_net(f"[crop]\ncrop_height=4\ncrop_width=5\nflip=1\nnoadjust={noadjust}\n", 2, 7, 8), x)
    dh, dw = (7 - 4) // 2, (8 - 5) // 2
    want = x[:, dh : dh + 4, dw : dw + 5]
    assert np.allclose(got, want if noadjust else want * 2 - 1)


def test_crop_in_training_is_a_random_window() -> None:
    x = np.random.default_rng(3).random((1, 9, 9)).astype(np.float32)
    net = _net("[crop]\ncrop_height=4\ncrop_width=4\nflip=1\nnoadjust=1\n", 1, 9, 9)
    windows = {tuple(_run(net, x, train=True).ravel()[:2]) for _ in range(30)}
    assert len(windows) > 1


def test_upsample_negative_stride_sums_blocks() -> None:
    x = np.random.default_rng(4).standard_normal((3, 5, 7)).astype(np.float32)
    got = _run(_net("[upsample]\nstride=-2\nscale=0.5\n", 3, 5, 7), x)
    want = 0.5 * x[:, :4, :6].reshape(3, 2, 2, 3, 2).sum(axis=(2, 4))
    assert np.allclose(got, want, atol=1e-6)


def test_xnor_conv_binarizes_weights_and_inputs() -> None:
    net = _net("[convolutional]\nfilters=3\nsize=3\npad=1\nxnor=1\nactivation=linear\n", 2, 5, 4)
    model = build_model(net)
    x = np.random.default_rng(5).standard_normal((2, 5, 4)).astype(np.float32)
    w = model.layers[0].conv.weight.detach().numpy()
    b = model.layers[0].conv.bias.detach().numpy()
    wb = np.where(w > 0, 1, -1) * np.abs(w).mean(axis=(1, 2, 3), keepdims=True)  # binarize_weights
    xb = np.pad(np.where(x > 0, 1.0, -1.0), ((0, 0), (1, 1), (1, 1)))  # binarize_cpu, then im2col's zero pad
    want = np.zeros((3, 5, 4))
    for f in range(3):
        for yy in range(5):
            for xx in range(4):
                want[f, yy, xx] = (wb[f] * xb[:, yy : yy + 3, xx : xx + 3]).sum() + b[f]
    with torch.no_grad():
        got = model(torch.from_numpy(x)[None])[0].numpy()
    assert np.allclose(got, want, atol=1e-5)


def _darknet_pool(x: np.ndarray, size: int, stride: int, padding: int, avg: bool) -> np.ndarray:
    """maxpool_layer.c forward / forward_local_avgpool_layer: window from -padding/2, in-bounds cells only."""
    c, h, w = x.shape
    oh, ow = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
    out = np.zeros((c, oh, ow))
    off = -(padding // 2)
    for k in range(c):
        for i in range(oh):
            for j in range(ow):
                vals = [
                    x[k, off + i * stride + n, off + j * stride + m]
                    for n in range(size)
                    for m in range(size)
                    if 0 <= off + i * stride + n < h and 0 <= off + j * stride + m < w
                ]
                out[k, i, j] = np.mean(vals) if avg else max(vals)
    return out


@pytest.mark.parametrize("kind", ["maxpool", "local_avgpool"])
@pytest.mark.parametrize("size,stride,padding", [(3, 2, 3), (2, 2, 1), (4, 1, 3), (3, 3, 1), (5, 2, 0)])
def test_pools_with_uneven_padding(kind: str, size: int, stride: int, padding: int) -> None:
    x = np.random.default_rng(6).standard_normal((2, 7, 9)).astype(np.float32)
    net = _net(f"[{kind}]\nsize={size}\nstride={stride}\npadding={padding}\n", 2, 7, 9)
    got = _run(net, x)
    assert got.shape == designer.infer_shapes(net)[0].out
    assert np.allclose(got, _darknet_pool(x, size, stride, padding, kind == "local_avgpool"), atol=1e-6)


def test_softmax_groups_leave_the_tail_at_zero_and_use_temperature() -> None:
    x = np.random.default_rng(7).standard_normal((1, 1, 7)).astype(np.float32)
    got = _run(_net("[softmax]\ngroups=2\ntemperature=2\n", 1, 1, 7), x).ravel()
    for g in range(2):
        block = x.ravel()[3 * g : 3 * g + 3] / 2
        assert np.allclose(got[3 * g : 3 * g + 3], np.exp(block) / np.exp(block).sum(), atol=1e-6)
    assert got[6] == 0


def test_nondivisible_route_feeds_a_conv_through_its_first_chw_floats() -> None:
    body = "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n\n[convolutional]\nfilters=1\nsize=1\nactivation=linear\n"
    net = designer.parse_cfg(
        f"[net]\nwidth=3\nheight=2\nchannels=5\n\n[convolutional]\nfilters=5\nsize=1\nactivation=linear\n\n{body}"
    )
    model = build_model(net)
    x = torch.randn(1, 5, 2, 3)
    got = {}
    with torch.no_grad():
        model.run_all(x, lambda i, y: got.__setitem__(i, y))
    flat = got[0].flatten()[15:30]  # darknet copies [part*group_id, part*(group_id+1)), part = 30/2
    assert torch.equal(got[1].flatten(), flat)
    image = flat[:12].view(1, 2, 2, 3)  # the conv reads out_c*out_h*out_w = 2*2*3 floats
    conv = model.layers[2].conv
    assert torch.allclose(got[2], conv(image), atol=1e-6)


def test_runner_skips_dead_layers_and_frees_outputs_after_their_last_reader() -> None:
    network = designer.lower(designer.load_preset("mixnet-s"))
    model = build_model(network)
    plan = model.plan
    assert [p.step.last for p in plan] == list(range(len(network.layers)))  # softmax last: all needed
    live, peak, freed = {INPUT}, 0, set()
    for p in plan:
        assert all(r in live for r in p.step.reads)
        live.add(p.step.last)
        peak = max(peak, len(live))
        live -= set(p.free)
        freed |= set(p.free)
    assert live == {len(network.layers) - 1}
    assert peak <= 6  # a block input kept for its shortcut, the SE source, the MixConv splits

    logits = build_model(network, outputs=(len(network.layers) - 2,))
    assert len(logits.plan) == len(network.layers) - 1  # the softmax is never run


def test_dropout_is_identity_in_eval_and_drops_in_training() -> None:
    net = _net("[dropout]\nprobability=0.5\n", 1, 8, 8)
    x = np.ones((1, 8, 8), dtype=np.float32)
    assert np.array_equal(_run(net, x), x)
    y = _run(net, x, train=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and (y == 0).any()
