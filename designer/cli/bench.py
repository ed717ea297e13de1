"""The runtime's `mixdesign` subcommands: `bench` (latency table or JSON) and `predict` (darknet-style top-k).

designer/cli/main.py calls `register(subparsers)`. torch is imported only inside the handlers, so `mixdesign stats`
and the other core commands stay fast. Every user error (bad cfg, missing file, weights that do not fit,
unsupported device or dtype) prints one line to stderr and returns exit code 2.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from designer.api.record import design_label
from designer.backends import BACKEND_LABELS
from designer.cli.record import add_record_arguments, note_recorded, record_target
from designer.ir import Network
from designer.machine import Fingerprint, usable_cores
from designer.noise import warning
from designer.options import add_device, add_overrides, add_source, add_threads, network_of, overrides

if TYPE_CHECKING:
    from runtime.bench import BenchResult  # imports torch: for the annotations only


# ------------------------------------------------------------------ bench


def _batches(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch takes comma-separated integers, got {text!r}") from None
    if not out or any(b < 1 for b in out):
        raise argparse.ArgumentTypeError(f"--batch takes positive integers, got {text!r}")
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    from designer.api import measure

    network = network_of(args.source, **overrides(args))
    m = measure(
        network,
        backend=args.backend,
        device=args.device,
        mode=args.mode,
        batch=args.batch,
        dtype=args.dtype,
        threads=args.threads,
        per_layer=args.per_layer,
        min_run_time=args.min_run_time,
        channels_last=args.channels_last,
        optimized=not args.plain,
        execution=args.execution,
        compile=args.compile,
        workspace=record_target(args),  # --no-record: None
        design_name=design_label(args.source),
        source="cli",
        tune_allocator=True,  # this process only measures: keep large activations mapped between calls
    )
    note_recorded("bench", m.recorded_in, m.not_recorded, f"{len(m.results)} measurement(s)")
    results = list(m.results)
    if args.json:
        data = [r.to_json() for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=1))
        return 0
    _print_results(args, network, results)
    return 0


def _print_results(args: argparse.Namespace, network: Network, results: list[BenchResult]) -> None:
    """The human-readable report: the setting, one row per batch, the load and machine, noise warnings, and the
    slowest layers when `--per-layer` timed them."""
    r0 = results[0]
    c, h, w = network.input_shape
    print(
        f"{args.source}: {c}x{h}x{w}, {r0.fma // r0.batch:,} FMA per image | {r0.backend} on {r0.device} "
        f"({r0.device_name}), "
        f"{r0.threads} threads, {r0.dtype}, {'optimised' if r0.optimized else 'plain'} build"
        f"{', training step (fwd+loss+bwd+SGD)' if r0.mode == 'train' else ''}"
        f"{', channels_last' if r0.channels_last else ''}"
        f"{f', {r0.execution} execution' if r0.backend == 'torch' and r0.mode == 'infer' else ''}"
    )
    print(
        f"{'batch':>5}  {'median ms':>10}  {'IQR ms':>8}  {'runs':>5}  {'ms/image':>9}  {'GFMA/s':>8}  "
        f"{'load before/during':>18}"
    )
    for r in results:
        print(
            f"{r.batch:>5}  {r.median_ms:>10.3f}  {r.iqr_ms:>8.3f}  {r.runs:>5}  {r.median_ms / r.batch:>9.3f}  "
            f"{r.fma_per_s / 1e9:>8.2f}  {f'{r.load_before:.1f} / {r.load_during:.1f}':>18}"
        )
    print(
        f"load: cores other processes kept busy just before / during the timing, of {usable_cores()}; "
        f"machine: {Fingerprint.from_json(r0.machine).describe() if r0.machine else 'unknown'}"
    )
    for r in results:
        if r.unstable:
            print(f"WARNING: batch {r.batch}: {warning(r.unstable)}")
    for r in results:
        if r.per_layer:
            _print_slowest_layers(r, top=args.top)


def _print_slowest_layers(r: BenchResult, *, top: int) -> None:
    """The `top` slowest layers of one measurement (already sorted slowest first), time share vs FMA share."""
    what = " (forward+backward)" if r.mode == "train" else ""
    print(f"\nslowest layers at batch {r.batch}{what} (time share vs FMA share):")
    print(f"{'layer':>5}  {'type':<14}  {'ms':>8}  {'time':>6}  {'FMA':>6}")
    for t in (r.per_layer or ())[:top]:
        print(f"{t.index:>5}  {t.type:<14}  {t.ms:>8.3f}  {t.time_share:>6.1%}  {t.fma_share:>6.1%}")


# ------------------------------------------------------------------ predict


def cmd_predict(args: argparse.Namespace) -> int:
    from designer.api import predict

    network = network_of(args.source, **overrides(args))
    for p in predict(
        network, args.images, weights=args.weights, labels=args.labels, top=args.top, threads=args.threads
    ):
        if len(args.images) > 1:
            print(f"{p.image}:")
        for prob, label in p.top:
            print(f"{100 * prob:5.2f}%: {label}")  # darknet classifier predict: "%5.2f%%: %s"
    return 0


def register(subparsers) -> None:
    """Add `bench` and `predict` to the mixdesign CLI (called by designer/cli/main.py)."""
    s = subparsers.add_parser("bench", help="latency of a cfg / preset / design under torch (median, IQR, FMA/s)")
    add_source(s)
    add_record_arguments(s)  # --workspace, --no-record
    add_device(s)
    s.add_argument(
        "--backend",
        choices=tuple(BACKEND_LABELS),
        default="torch",
        help="torch runtime, or the exported ONNX model in onnxruntime / OpenVINO (fp32 unless --dtype)",
    )
    s.add_argument(
        "--mode",
        choices=("infer", "train"),
        default="infer",
        help="infer: one forward pass; train: one training step (forward, loss, backward, SGD step; "
        "plain build, BN in training mode)",
    )
    s.add_argument("--batch", type=_batches, default=[1], help="batch sizes, comma-separated (e.g. 1,8)")
    s.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32")
    s.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NHWC memory format (torch backend; default: NHWC on CPU, where it is faster, NCHW on CUDA)",
    )
    add_threads(s, "CPU threads")
    s.add_argument("--per-layer", action="store_true", help="also time each layer: slowest layers, time vs FMA")
    s.add_argument("--top", type=int, default=15, help="layers shown with --per-layer")
    s.add_argument("--plain", action="store_true", help="measure the plain build (no BN folding / fusion)")
    s.add_argument(
        "--execution",
        choices=("auto", "eager", "torchscript", "compiled", "cuda-graph"),
        default="auto",
        help="how the model runs while timed: eager Python runner, torchscript (traced + frozen), "
        "compiled (torch.compile), cuda-graph (CUDA only: one graph replay per pass); auto = "
        "torchscript for the optimised build on cpu, else eager",
    )
    s.add_argument("--compile", action="store_true", help="torch.compile the model first (= --execution compiled)")
    s.add_argument("--json", action="store_true", help="print runtime.bench's JSON instead of a table")
    add_overrides(s)
    s.add_argument("--min-run-time", type=float, default=1.0, help="seconds of timed runs per measurement")
    s.set_defaults(func=cmd_bench)

    p = subparsers.add_parser("predict", help="classify images with a cfg + darknet .weights (top-k)")
    add_source(p)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--weights", required=True, help="darknet .weights file")
    p.add_argument("--labels", help="one label per line, one per output (default: class indices)")
    p.add_argument("--top", type=int, default=5, help="classes shown per image")
    add_threads(p, "CPU threads")
    add_overrides(p)
    p.set_defaults(func=cmd_predict)
