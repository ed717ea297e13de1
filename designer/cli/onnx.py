"""`mixdesign onnx`: a preset, design YAML or cfg (optionally with darknet .weights) as an ONNX model.

designer/cli/main.py calls `register(subparsers)`; torch and onnx are imported only when the command runs. The
export is runtime.deploy.onnx_export (node names `L<layer>_<type>`, every [yolo] output, checked by onnx.checker
and strict shape inference). The file is written atomically: an error leaves no .onnx behind. User errors
(MixdesignError, OSError) print one line and exit 2 through designer.commands.run_command.
"""

from __future__ import annotations

import argparse

from designer.options import add_out, add_overrides, add_source, network_of, overrides


def cmd_onnx(args: argparse.Namespace) -> int:
    from designer.api import export_onnx

    network = network_of(args.source, **overrides(args))
    batch = None if args.dynamic_batch else args.batch
    done = export_onnx(
        network, out=args.out, weights=args.weights, batch=batch, opset=args.opset, optimized=args.optimized
    )
    c, h, w = network.input_shape
    outs = ", ".join(done.outputs)
    print(
        f"wrote {args.out}: {len(done.data):,} bytes, opset {done.opset}, "
        f"{done.nodes} nodes, input {'batch' if batch is None else batch}x{c}x{h}x{w}, "
        f"outputs {outs}, {'optimised' if args.optimized else 'plain'} build, "
        f"{'weights from ' + args.weights if args.weights else 'random weights'}"
    )
    return 0


def register(subparsers) -> None:
    """Add `onnx` to the mixdesign CLI (called by designer/cli/main.py)."""
    s = subparsers.add_parser("onnx", help="write a preset / design / cfg (+ darknet .weights) as an ONNX model")
    add_source(s)
    add_out(s, required=True, help="the .onnx file to write")
    s.add_argument("--weights", help="darknet .weights for the cfg (default: random weights)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--batch", type=int, default=1, help="fixed batch size of the input (default 1)")
    g.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch dimension")
    s.add_argument("--opset", type=int, help="ONNX opset, 13..20 (default 17)")
    s.add_argument(
        "--optimized",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export the optimised build (BN folded, MixConv and SE fused; default) or --no-optimized "
        "for the plain one",
    )
    s.add_argument("--plain", dest="optimized", action="store_false", help="same as --no-optimized")
    add_overrides(s)
    s.set_defaults(func=cmd_onnx)
