"""Darknet's .weights file layout as numbers, torch-free: the header by version and the file's byte count.

parser.c save_weights_upto / load_weights_upto (../shared/darknet/NOTES.md section 7): int32 major, minor and
revision; then `seen`, a uint64 when major*10+minor >= 2, else a uint32; then every stored float32 in cfg order.
How many floats a layer stores is designer.cost's `params_stored` (BN running statistics included); the runtime
(runtime/weights.py) reads and writes the floats themselves and the bundle check (runtime/bundle/check.py)
compares file sizes, both with the numbers from here.
"""

from __future__ import annotations

import struct
from pathlib import Path

from designer.cost import count
from designer.ir import Network

VERSION_BYTES = 12  # int32 major, minor, revision
DEFAULT_VERSION = (0, 2, 5)  # what darknet writes today: a uint64 `seen`
FLOAT_BYTES = 4


def header_size(major: int, minor: int) -> int:
    """Bytes before the first float: 20 (uint64 seen) for version >= 0.2, else 16."""
    return VERSION_BYTES + (8 if major * 10 + minor >= 2 else 4)


def seen_format(major: int, minor: int) -> str:
    """struct format of `seen` for this version."""
    return "<Q" if header_size(major, minor) == 20 else "<I"


def transposed_connected(major: int, minor: int) -> bool:
    """Files with major or minor > 1000 store [connected] weights transposed ([in][out])."""
    return major > 1000 or minor > 1000


def file_header_size(path: str | Path) -> int:
    """The header size of a .weights file on disk, -1 when it is shorter than the version fields."""
    with open(path, "rb") as f:
        head = f.read(VERSION_BYTES)
    if len(head) < VERSION_BYTES:
        return -1
    major, minor, _ = struct.unpack("<3i", head)
    return header_size(major, minor)


def weights_bytes(floats: int, header: int = header_size(*DEFAULT_VERSION[:2])) -> int:
    """Size of a .weights file holding `floats` float32 values after a `header`-byte header."""
    return header + FLOAT_BYTES * floats


def expected_weights_bytes(
    network: Network, layers: int | None = None, header: int = header_size(*DEFAULT_VERSION[:2])
) -> int:
    """Size of the .weights file of `network` (of its first `layers` layers: a backbone prefix, NAME.conv.N)."""
    per_layer = count(network).layers
    n = len(per_layer) if layers is None else layers
    return weights_bytes(sum(c.params_stored for c in per_layer[:n]), header)
