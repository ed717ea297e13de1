"""Darknet .weights I/O: exact round trips, header variants, and clear errors for files that do not fit."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import designer
from designer.cfg import with_net
from designer.weights_layout import (
    expected_weights_bytes,
    file_header_size,
    header_size,
)
from runtime import WeightsError, build_model, load_weights, randomize_bn, save_weights
from runtime.weights import expected_size, file_entries
from tests.conftest import SHARED

CASES = SHARED / "darknet" / "cases"

CONNECTED_NET = """
[net]
width=6
height=5
channels=2

[convolutional]
batch_normalize=1
filters=3
size=3
pad=1
activation=leaky

[connected]
output=4
activation=linear

[connected]
output=3
batch_normalize=1
activation=relu

[shortcut]
from=-2
weights_type=per_channel
weights_normalization=softmax
activation=linear
"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@torch.no_grad()
def _randomized(network: designer.Network, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(network)
    for p in model.parameters():
        p.copy_(torch.randn_like(p) * 0.2)
    randomize_bn(model)
    return model


def _mixnet_s(size: int = 64) -> designer.Network:
    return with_net(designer.lower(designer.load_preset("mixnet-s")), width=size, height=size)


@pytest.mark.skipif(not CASES.is_dir(), reason=f"{CASES} is absent (shared reference data not checked out)")
def test_case_files_round_trip_bit_identical(tmp_path: Path) -> None:
    done = 0
    for d in sorted(p for p in CASES.iterdir() if p.is_dir()):
        try:
            model = build_model(designer.parse_cfg(d / "net.cfg"))
        except designer.CfgError:
            continue  # the two cases darknet (and the runtime) reject
        load_weights(model, d / "net.weights")
        save_weights(model, tmp_path / "w")
        assert (tmp_path / "w").read_bytes() == (d / "net.weights").read_bytes(), d.name
        done += 1
    assert done >= 70


def test_random_weights_reload_gives_identical_outputs(tmp_path: Path) -> None:
    network = _mixnet_s()
    model = _randomized(network)
    save_weights(model, tmp_path / "m.weights")
    assert (tmp_path / "m.weights").stat().st_size == 20 + 4 * designer.count(network).params_stored
    fresh = build_model(network)
    assert not _same_state(_state(fresh), _state(model))
    load_weights(fresh, tmp_path / "m.weights")
    assert _same_state(_state(fresh), _state(model))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    save_weights(fresh, tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == (tmp_path / "m.weights").read_bytes()


def test_connected_bn_and_shortcut_weights_round_trip(tmp_path: Path) -> None:
    network = designer.parse_cfg(CONNECTED_NET)
    model = _randomized(network, seed=1)
    save_weights(model, tmp_path / "c.weights")
    fresh = load_weights(build_model(network), tmp_path / "c.weights")
    assert _same_state(_state(fresh), _state(model))
    names = [(e.layer, e.name) for e in file_entries(model)]
    assert names == [(0, "biases"), (0, "scales"), (0, "rolling_mean"), (0, "rolling_variance"), (0, "weights"),
                     (1, "biases"), (1, "weights"),
                     (2, "biases"), (2, "weights"), (2, "scales"), (2, "rolling_mean"), (2, "rolling_variance"),
                     (3, "weights")]  # fmt: skip
    x = torch.randn(1, 2, 5, 6)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_old_header_has_32_bit_seen(tmp_path: Path) -> None:
    network = designer.parse_cfg(CONNECTED_NET)
    model = _randomized(network)
    model.weights_header = (0, 1, 0, 12345)  # major*10+minor < 2: uint32 seen, 16-byte header
    save_weights(model, tmp_path / "old.weights")
    data = (tmp_path / "old.weights").read_bytes()
    assert len(data) == 16 + 4 * designer.count(network).params_stored
    assert struct.unpack_from("<3iI", data) == (0, 1, 0, 12345)
    fresh = load_weights(build_model(network), tmp_path / "old.weights")
    assert fresh.weights_header == (0, 1, 0, 12345)
    assert _same_state(_state(fresh), _state(model))


def test_transposed_connected_when_major_or_minor_above_1000(tmp_path: Path) -> None:
    network = designer.parse_cfg(CONNECTED_NET)
    model = _randomized(network)
    model.weights_header = (0, 1001, 0, 0)
    save_weights(model, tmp_path / "t.weights")
    body = np.frombuffer((tmp_path / "t.weights").read_bytes(), dtype="<f4", offset=20)
    start = sum(e.count for e in file_entries(model)[:6])  # conv (5 arrays) + connected biases
    w = model.layers[1].fc.weight.detach().numpy()  # (out=4, in=90)
    assert np.array_equal(body[start : start + w.size].reshape(w.shape[1], w.shape[0]), w.T)
    fresh = load_weights(build_model(network), tmp_path / "t.weights")
    assert _same_state(_state(fresh), _state(model))


@pytest.mark.parametrize("cut", [4, 1000, 200_000])
def test_truncated_file_names_the_layer_and_loads_nothing(tmp_path: Path, cut: int) -> None:
    network = _mixnet_s()
    model = _randomized(network)
    save_weights(model, tmp_path / "full")
    data = (tmp_path / "full").read_bytes()
    (tmp_path / "short").write_bytes(data[:-cut])
    target = build_model(network)
    before = _state(target)
    with pytest.raises(WeightsError) as err:
        load_weights(target, tmp_path / "short")
    msg = str(err.value)
    # find, independently, the layer holding the first float that is missing
    have = (len(data) - cut - 20) // 4
    done = 0
    for e in file_entries(target):
        if done + e.count > have:
            break
        done += e.count
    assert f"too short: it runs out in layer {e.layer} [{e.type}]" in msg
    assert f"{len(data) - cut} bytes" in msg and f"needs {len(data)} bytes" in msg
    assert _same_state(_state(target), before)
    assert target.weights_header == (0, 2, 5, 0)


def test_oversized_file_is_an_error(tmp_path: Path) -> None:
    network = _mixnet_s()
    model = _randomized(network)
    save_weights(model, tmp_path / "full")
    (tmp_path / "long").write_bytes((tmp_path / "full").read_bytes() + b"\0" * 8)
    target = build_model(network)
    before = _state(target)
    with pytest.raises(
        WeightsError,
        match=r"too long: .* 8 bytes left over after the last weighted layer 194 "
        r"\[convolutional\]",
    ):
        load_weights(target, tmp_path / "long")
    assert _same_state(_state(target), before)


def test_header_too_short_and_missing_file(tmp_path: Path) -> None:
    model = build_model(designer.parse_cfg(CONNECTED_NET))
    (tmp_path / "tiny").write_bytes(b"\0" * 10)
    with pytest.raises(WeightsError, match="shorter than the 12-byte"):
        load_weights(model, tmp_path / "tiny")
    (tmp_path / "hdr").write_bytes(struct.pack("<3i", 0, 2, 0) + b"\0" * 4)
    with pytest.raises(WeightsError, match="20-byte header"):
        load_weights(model, tmp_path / "hdr")
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights(model, tmp_path / "nope.weights")


def test_dontload_layers_are_absent_from_the_file() -> None:
    network = designer.parse_cfg(CONNECTED_NET)
    conv = network.layers[0].set(dontload=1)
    skipped = dataclasses.replace(network, layers=(conv, *network.layers[1:]))
    full, part = build_model(network), build_model(skipped)
    conv_floats = 3 + 3 * 3 + 2 * 3 * 3 * 3  # biases + BN triple + weights
    assert expected_size(full) - expected_size(part) == 4 * conv_floats
    assert expected_size(part) == 20 + 4 * designer.count(skipped).params_stored
    # the core's torch-free layout (used by the bundle check) gives the same sizes, prefix included
    assert expected_weights_bytes(skipped) == expected_size(part)
    assert (
        expected_weights_bytes(network) - expected_weights_bytes(network, 1)
        == expected_size(full) - 20 - 4 * conv_floats
    )


def test_header_sizes_by_version(tmp_path: Path) -> None:
    assert (header_size(0, 1), header_size(0, 2), header_size(1, 0)) == (16, 20, 20)
    model = build_model(designer.parse_cfg(CONNECTED_NET))
    model.weights_header = (0, 1, 0, 7)
    save_weights(model, tmp_path / "old.weights")
    assert (
        file_header_size(tmp_path / "old.weights")
        == 16
        == (tmp_path / "old.weights").stat().st_size - 4 * sum(e.count for e in file_entries(model))
    )
    (tmp_path / "short.weights").write_bytes(b"\0" * 8)
    assert file_header_size(tmp_path / "short.weights") == -1


def test_optimized_model_refuses_weights(tmp_path: Path) -> None:
    model = build_model(_mixnet_s(), optimize=True)
    with pytest.raises(WeightsError, match="plain build"):
        save_weights(model, tmp_path / "x")
