"""The files a design becomes: its Darknet cfg (`export_cfg`, torch-free), its ONNX model (`export_onnx`), and a
Darknet training bundle (`bundle`). Each file is written atomically: an error leaves nothing half-written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.ir import Network
from designer.spec import Arch

if TYPE_CHECKING:
    from runtime.bundle.writer import BundleReport


def export_cfg(design: Arch | Network, *, out: str | Path | None = None) -> str:
    """The Darknet cfg text of a design (lowered first) or a network: designer.emit_cfg, written to `out` when
    given."""
    from designer import emit_cfg, lower
    from designer.files import write_text

    text = emit_cfg(lower(design) if isinstance(design, Arch) else design)
    if out is not None:
        write_text(out, text)
    return text


@dataclass(frozen=True)
class OnnxExport:
    """The serialised ONNX model and what it holds: opset, node count, input batch (None: symbolic), output
    names; `path` where it was written (None when not written)."""

    data: bytes
    opset: int
    nodes: int
    batch: int | None
    outputs: tuple[str, ...]
    path: Path | None = None


def export_onnx(
    network: Network,
    *,
    out: str | Path | None = None,
    weights: str | Path | None = None,
    batch: int | None = 1,
    opset: int | None = None,
    optimized: bool = True,
) -> OnnxExport:
    """The checked ONNX model of `network` (runtime.deploy.onnx_export: node names `L<layer>_<type>`, every
    [yolo] output): random weights unless a darknet .weights file is given, `batch=None` for a symbolic batch,
    `opset` None for the default (17), the optimised build (BN folded, MixConv and SE fused) unless
    `optimized=False`. Written to `out` when given."""
    from designer.files import atomic_write_bytes
    from runtime.deploy.onnx_export import DEFAULT_OPSET, export_network

    proto = export_network(network, weights=weights, batch=batch, opset=opset or DEFAULT_OPSET, optimized=optimized)
    data = proto.SerializeToString()
    path = atomic_write_bytes(out, data) if out is not None else None
    return OnnxExport(
        data=data,
        opset=proto.opset_import[0].version,
        nodes=len(proto.graph.node),
        batch=batch,
        outputs=tuple(o.name for o in proto.graph.output),
        path=path,
    )


def bundle(network: Network, *, out: str | Path, **options: Any) -> BundleReport:
    """Write what `darknet classifier|detector train` needs to train `network` into the new folder `out`:
    `options` are runtime.bundle.BundleOptions' fields (data, size, weights, batch, learning_rate, policy,
    detector, anchors, ...). Returns the report (files, images, the darknet command)."""
    from runtime.bundle import BundleOptions, write_bundle

    return write_bundle(network, out, BundleOptions(**options))
