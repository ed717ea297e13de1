"""Darknet's .weights file: read into and write from a plain-build DarknetModel, byte for byte.

Format (../shared/darknet/NOTES.md section 7, parser.c load_weights_upto / save_weights_upto):
- header: int32 major, minor, revision; `seen` is uint64 when major*10+minor >= 2, else uint32. When major or
  minor is > 1000, [connected] weights are stored transposed ([in][out]).
- body: float32 little-endian, layer after layer in cfg order, no padding:
  conv: biases, [scales, rolling_mean, rolling_variance if batch_normalize], weights [f][c][ky][kx];
  connected: biases, weights [out][in], [scales, mean, variance]; batchnorm: biases, scales, mean, variance;
  weighted shortcut: (n+1) or (n+1)*C floats, [input][channel]. dontload=1 layers are absent, and a BN layer
  with dontloadscales=1 has only its biases and weights read (darknet leaves the file pointer there).
Darknet stops silently at EOF and ignores trailing bytes; here a file of any other size than the network needs
is a `WeightsError` saying in which layer it ran out (or how much is left over), and nothing is copied into
the model unless the whole file was read.

save_weights writes exactly what load_weights reads, with the header the model was loaded with (darknet's
0.2.5 with seen=0 for a fresh model), so load-then-save reproduces the file bit for bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from designer.errors import MixdesignError
from designer.weights_layout import (
    VERSION_BYTES,
    header_size,
    seen_format,
    transposed_connected,
    weights_bytes,
)
from runtime.layers.conv import BatchnormLayer, ConnectedLayer, ConvolutionalLayer, running_stats
from runtime.layers.merge import ShortcutLayer
from runtime.model import DarknetModel


class WeightsError(MixdesignError):
    """A .weights file that does not fit the network (too short, too long, bad header)."""


@dataclass(frozen=True)
class Entry:
    """One float array in the file, the tensor it fills, and how it is laid out."""

    layer: int
    type: str
    name: str
    target: Tensor
    transposed: bool  # stored as the transpose of target viewed as 2-D (rows = first dim)

    @property
    def count(self) -> int:
        return self.target.numel()


def file_entries(model: DarknetModel, transpose_connected: bool = False) -> list[Entry]:
    """Every array the file holds for `model`, in file order."""
    if model.optimized:
        raise WeightsError(
            "weights are read into and written from the plain build: load them with build_model(network), then optimize"
        )
    out: list[Entry] = []
    for i, layer in enumerate(model.network.layers):
        if layer.get("dontload"):
            continue
        mod = model.layers[i]
        scales = not layer.get("dontloadscales")
        t = layer.type
        if isinstance(mod, ConvolutionalLayer):
            bn = mod.bn
            out.append(Entry(i, t, "biases", _bias(bn, mod.conv), False))
            if bn is not None and scales:
                out += _bn_entries(i, t, bn)
            out.append(Entry(i, t, "weights", mod.conv.weight, bool(layer["flipped"])))
        elif isinstance(mod, ConnectedLayer):
            out.append(Entry(i, t, "biases", _bias(mod.bn, mod.fc), False))
            out.append(Entry(i, t, "weights", mod.fc.weight, transpose_connected))
            if mod.bn is not None and scales:
                out += _bn_entries(i, t, mod.bn)
        elif isinstance(mod, BatchnormLayer):
            out += [Entry(i, t, "biases", mod.bn.bias, False), *_bn_entries(i, t, mod.bn)]
        elif isinstance(mod, ShortcutLayer) and mod.weights is not None:
            out.append(Entry(i, t, "weights", mod.weights, False))
    return out


def _bias(bn: _BatchNorm | None, op: nn.Conv2d | nn.Linear) -> Tensor:
    """Darknet's biases: BN's shift when the layer normalises (the conv or fc then has none), else the op's."""
    if bn is not None:
        return bn.bias
    if op.bias is None:
        raise ValueError(f"{type(op).__name__} without BN has no bias")  # never built so: bias=not bn
    return op.bias


def _bn_entries(i: int, t: str, bn: _BatchNorm) -> list[Entry]:
    """scales, rolling_mean, rolling_variance: a BN layer's arrays after its biases, in file order."""
    mean, var = running_stats(bn)
    return [
        Entry(i, t, "scales", bn.weight, False),
        Entry(i, t, "rolling_mean", mean, False),
        Entry(i, t, "rolling_variance", var, False),
    ]


def _file_to_tensor(arr: np.ndarray, e: Entry) -> Tensor:
    shape = tuple(e.target.shape)
    if e.transposed:
        rows = shape[0]
        arr = arr.reshape(-1, rows).T  # stored [cols][rows]: transpose_matrix on load
    return torch.from_numpy(np.ascontiguousarray(arr).reshape(shape))


def _tensor_to_file(t: Tensor, e: Entry) -> bytes:
    a = t.detach().to("cpu", torch.float32).contiguous().numpy()
    if e.transposed:
        a = a.reshape(a.shape[0], -1).T
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def read_header(data: bytes, path: str) -> tuple[tuple[int, int, int, int], int]:
    if len(data) < VERSION_BYTES:
        raise WeightsError(f"{path}: {len(data)} bytes, shorter than the {VERSION_BYTES}-byte version header")
    major, minor, revision = struct.unpack_from("<3i", data, 0)
    size = header_size(major, minor)
    if len(data) < size:
        raise WeightsError(
            f"{path}: {len(data)} bytes, shorter than the {size}-byte header of a "
            f"version {major}.{minor}.{revision} file"
        )
    seen = struct.unpack_from(seen_format(major, minor), data, VERSION_BYTES)[0]
    return (major, minor, revision, seen), size


def _size_error(path: str, entries: list[Entry], hsize: int, n_bytes: int) -> WeightsError:
    need = sum(e.count for e in entries)
    expected = weights_bytes(need, hsize)
    if n_bytes < expected:
        have = (n_bytes - hsize) // 4
        done = 0
        for e in entries:
            if done + e.count > have:
                return WeightsError(
                    f"{path}: too short: it runs out in layer {e.layer} [{e.type}] ({e.name}, at float {done}): "
                    f"the file has {n_bytes} bytes, the network needs {expected} bytes "
                    f"(header {hsize} + 4 x {need} floats), {expected - n_bytes} bytes missing"
                )
            done += e.count
    last = entries[-1] if entries else None
    where = f"after the last weighted layer {last.layer} [{last.type}]" if last else "(the network has no weights)"
    return WeightsError(
        f"{path}: too long: {n_bytes} bytes, the network needs {expected} bytes "
        f"(header {hsize} + 4 x {need} floats); {n_bytes - expected} bytes left over {where}. "
        "Wrong cfg for these weights?"
    )


def load_weights(model: DarknetModel, path: str | Path) -> DarknetModel:
    """Fill a plain-build model from a darknet .weights file; raises WeightsError before touching the model."""
    p = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise WeightsError(f"cannot read {p}: {e.strerror}") from None
    header, hsize = read_header(data, p)
    major, minor = header[0], header[1]
    entries = file_entries(model, transpose_connected=transposed_connected(major, minor))
    need = sum(e.count for e in entries)
    if len(data) != weights_bytes(need, hsize):
        raise _size_error(p, entries, hsize, len(data))
    body = np.frombuffer(data, dtype="<f4", offset=hsize)
    tensors, at = [], 0
    for entry in entries:  # everything into new tensors first: a failure here leaves the model untouched
        tensors.append(_file_to_tensor(body[at : at + entry.count].astype(np.float32), entry))
        at += entry.count
    with torch.no_grad():
        for entry, t in zip(entries, tensors):
            entry.target.copy_(t)
    model.weights_header = header
    return model


def save_weights(model: DarknetModel, path: str | Path) -> None:
    """Write the model's weights in darknet's format (the header it was loaded with, else 0.2.5, seen 0)."""
    major, minor, revision, seen = model.weights_header
    entries = file_entries(model, transpose_connected=transposed_connected(major, minor))
    parts = [struct.pack("<3i", major, minor, revision), struct.pack(seen_format(major, minor), seen)]
    parts += [_tensor_to_file(e.target, e) for e in entries]
    Path(path).write_bytes(b"".join(parts))


def expected_size(model: DarknetModel) -> int:
    """Bytes of the .weights file this model reads (with its current header version), counted from its tensors
    (designer.weights_layout.expected_weights_bytes counts the same from the network; the tests compare them)."""
    major, minor = model.weights_header[:2]
    entries = file_entries(model, transpose_connected=transposed_connected(major, minor))
    return weights_bytes(sum(e.count for e in entries), header_size(major, minor))
