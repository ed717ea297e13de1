"""`mixdesign train` and `mixdesign bundle`: the arguments and the handlers, registered into designer/cli/main.py.

`mixdesign train` is designer/train_command.py (one definition shared with `python -m runtime.train`); `bundle`
writes what `darknet classifier|detector train` needs through designer.api.bundle. Importing this module pulls in
neither torch nor PIL. User errors print one line on stderr and return 2.
"""

from __future__ import annotations

import argparse

from designer.cli.record import add_record_arguments
from designer.commands import run_command
from designer.options import add_out, network_of, overrides
from designer.train_command import TrainRequest, add_train_arguments, design_arguments, run_train


def add_bundle_arguments(p: argparse.ArgumentParser) -> None:
    design_arguments(p, "input width and height, 8-4096 (default: 32 for a classifier, 128 for a detector)")
    p.set_defaults(size=None)  # 32 for a classifier, 128 for a detector (a multiple of 32)
    add_out(p, required=True, metavar="DIR", help="bundle folder (must not exist yet)")
    p.add_argument("--weights", metavar="W", help="pretrained .weights to include (e.g. runs/quick/best.weights)")
    p.add_argument("--name", help="base name of the .cfg/.data files (default: the design's name)")
    g = p.add_argument_group("darknet training [net] keys")
    g.add_argument("--batch", type=int, default=64)
    g.add_argument("--subdivisions", type=int, default=1)
    g.add_argument("--lr", type=float, help="learning_rate (default 0.1 classifier, 0.001 detector)")
    g.add_argument(
        "--policy",
        choices=("poly", "steps", "constant", "sgdr"),
        default=None,
        help="learning-rate policy (default poly for classifiers, steps for detectors)",
    )
    g.add_argument("--power", type=float, default=4.0, help="poly power (default 4)")
    g.add_argument("--steps", help="policy=steps: comma list of iterations (default 80%%,90%% of max_batches)")
    g.add_argument("--scales", help="policy=steps: comma list of factors (default .1,.1)")
    g.add_argument(
        "--max-batches",
        type=int,
        help="iterations (default: 30 epochs for classifiers, max(6000, 2000 per class) for detectors; never 0)",
    )
    g.add_argument("--burn-in", type=int, help="warm-up iterations (default 0 classifier, 1000 detector)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--decay", type=float, default=0.0005)
    g.add_argument(
        "--flip",
        type=int,
        choices=(0, 1),
        default=0,
        help="random horizontal flips (default 0: wrong for digits and text)",
    )
    g = p.add_argument_group("detector bundle")
    g.add_argument(
        "--detector",
        action="store_true",
        help="attach a YOLO head to the design's backbone and write a `darknet detector train` bundle",
    )
    g.add_argument(
        "--anchors", help="comma list of w,h pairs in input pixels (default: 6 anchors, k-means of the training boxes)"
    )
    g.add_argument("--masks", help="anchor indices per [yolo], scales separated by ';' (default '3,4,5;0,1,2')")
    g.add_argument("--images", type=int, default=600, help="detector on digits: synthetic images (default 600)")


def run_bundle(args: argparse.Namespace, prog: str = "bundle") -> int:
    """Write a darknet training bundle; exit code 0 or 2 (user error)."""
    return run_command(f"mixdesign {prog}", lambda: _bundle(args))


def _bundle(args: argparse.Namespace) -> int:
    from designer.api import bundle
    from designer.api.sources import check_overrides

    check_overrides(size=args.size, classes=args.classes)
    network = network_of(args.source, **overrides(args, with_classes=False))
    report = bundle(
        network,
        out=args.out,
        data=args.data,
        size=args.size,
        seed=args.seed,
        val_fraction=args.val_fraction,
        name=args.name,
        weights=args.weights,
        batch=args.batch,
        subdivisions=args.subdivisions,
        learning_rate=args.lr,
        policy=args.policy,
        power=args.power,
        steps=args.steps,
        scales=args.scales,
        max_batches=args.max_batches,
        burn_in=args.burn_in,
        momentum=args.momentum,
        decay=args.decay,
        flip=args.flip,
        detector=args.detector,
        classes=args.classes,
        anchors=args.anchors,
        masks=args.masks,
        detector_images=args.images,
    )
    print(report.summary())
    return 0


def register(subparsers) -> None:
    """Add `train` and `bundle` to mixdesign's sub-commands (handlers take args, return an exit code)."""
    s = subparsers.add_parser("train", help="quick-train a design on digits or your images (PyTorch, CPU/GPU)")
    add_train_arguments(s)
    add_record_arguments(s)  # --workspace, --no-record (designer/cli/record.py)
    s.set_defaults(func=lambda a: run_train(TrainRequest.from_args(a), "train"))
    s = subparsers.add_parser("bundle", help="write what `darknet classifier|detector train` needs to train a design")
    add_bundle_arguments(s)
    s.set_defaults(func=lambda a: run_bundle(a, "bundle"))
