"""`mixdesign train` and `mixdesign bundle`: argument parsing and the handlers, registered into designer/cli/main.py.

Importing this module pulls in neither torch nor PIL: `register` only declares arguments; the handlers import
the trainer and the bundle writer when they run. User errors (a bad design, bad data, a cfg without a
classifier) print one line on stderr and return 2; Ctrl-C during training returns 130 after the files on
disk are left complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from designer.cli.errors import run_command

DEFAULT_OUT = "runs/quick"


def _design_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="CFG|PRESET|design.yaml")
    p.add_argument("--data", default="digits",
                   help="'digits' (scikit-learn's bundled 8x8 digits, no download), an ImageFolder directory, "
                        "a darknet .data file or a darknet list file (default: digits)")
    p.add_argument("--size", type=int, default=32,
                   help="input width and height (default 32; a detector bundle: 128)")
    p.add_argument("--width-mult", type=float, help="width multiplier (designs only)")
    p.add_argument("--depth-mult", type=float, help="depth multiplier (designs only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the initial weights (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="validation share when the data has no separate valid list (default 0.2)")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `mixdesign train` and `python -m runtime.train` (one definition for both)."""
    _design_arguments(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=64, help="global batch (split over torchrun processes)")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate (SGD, Nesterov, cosine)")
    p.add_argument("--weight-decay", type=float, default=5e-5)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: cores / processes)")
    p.add_argument("--compare", metavar="OTHER",
                   help="also train this design on the same split; print both runs' final figures side by side")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _network(text: str, args: argparse.Namespace):
    from designer.cli.sources import load_source, to_network

    return to_network(load_source(text), width_mult=args.width_mult, depth_mult=args.depth_mult)


def _label(text: str) -> str:
    return Path(text).stem if text.endswith((".cfg", ".yaml", ".yml")) else text


def _config(args: argparse.Namespace, out_dir: str):
    from runtime.train import TrainConfig

    return TrainConfig(data=args.data, size=args.size, epochs=args.epochs, batch=args.batch, lr=args.lr,
                       weight_decay=args.weight_decay, seed=args.seed, val_fraction=args.val_fraction,
                       out_dir=out_dir, device=args.device, threads=args.threads)


def _summary_rows(label: str, network, result) -> list[tuple[str, str]]:
    from designer.cost import count

    c = count(network)
    last = result.history[-1] if result.history else {}
    fmt = lambda k, f: format(last[k], f) if k in last else "-"  # noqa: E731
    return [("design", label), ("params", f"{c.params:,}"), ("FMA", f"{c.fma:,}"),
            ("epochs run", str(len(result.history))), ("best val top-1", f"{result.best_top1:.4f}"),
            ("best epoch", str(result.best_epoch)), ("final train loss", fmt("train_loss", ".4f")),
            ("final val loss", fmt("val_loss", ".4f")), ("final val top-1", fmt("val_top1", ".4f")),
            ("train images/s", fmt("images_per_s", ".0f")), ("wall time s", fmt("elapsed_s", ".1f")),
            ("out dir", str(result.out_dir))]


def _print_side_by_side(columns: list[list[tuple[str, str]]]) -> None:
    keys = [k for k, _ in columns[0]]
    cells = [[v for _, v in col] for col in columns]
    kw = max(len(k) for k in keys)
    widths = [max(len(v) for v in col) for col in cells]
    for i, k in enumerate(keys):
        print(k.ljust(kw) + "  " + "  ".join(col[i].rjust(w) for col, w in zip(cells, widths)))


def _leave_process_group() -> None:
    """Under torchrun: leave the process group together once every run is done (train() keeps it joined so
    --compare trains both designs in one group). Not after Ctrl-C: the other ranks may be gone."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def run_train(args: argparse.Namespace, prog: str = "train") -> int:
    """Train one design (or two with --compare); exit code 0, 2 (user error) or 130 (interrupted)."""
    return run_command(f"mixdesign {prog}", lambda: _train(args, prog))


def _train(args: argparse.Namespace, prog: str) -> int:
    from runtime.train.distributed import from_env

    main_rank = from_env()[0] == 0

    from designer.cli.sources import SourceError
    from designer.cli.workspace import record_training
    from designer.edits import prepare_network
    from runtime.train import train
    from runtime.train.data import load_dataset

    sources = [args.source] + ([args.compare] if args.compare else [])
    networks = [_network(s, args) for s in sources]
    labels = [_label(s) for s in sources]
    if len(labels) == 2 and labels[0] == labels[1]:
        labels = [labels[0] + "-a", labels[1] + "-b"]
    channels = networks[0].input_shape[0]
    if any(n.input_shape[0] != channels for n in networks):
        raise SourceError("--compare needs two designs with the same input channels (one split feeds both)")
    split = load_dataset(args.data, args.size, channels, args.val_fraction, args.seed)
    columns = []
    for label, network in zip(labels, networks):
        out = args.out if len(networks) == 1 else os.path.join(args.out, label)
        result = train(network, _config(args, out), split=split, progress=not args.no_progress)
        if main_rank:
            record_training(args, label, result)  # into the workspace (designer/cli/workspace.py)
            trained = prepare_network(network, args.size, len(split.classes))
            columns.append(_summary_rows(label, trained, result))
            print(f"{label}: best val top-1 {result.best_top1:.4f} (epoch {result.best_epoch}); "
                  f"wrote {result.out_dir}/ (model.cfg, best.weights, best.pt, metrics.csv, metrics.json)")
        if result.interrupted or result.stopped:
            print(f"{prog}: interrupted; files in {result.out_dir} are complete up to epoch "
                  f"{len(result.history)}", file=sys.stderr)
            return 130
    if main_rank and len(columns) > 1:
        print()
        _print_side_by_side(columns)
    _leave_process_group()
    return 0


def add_bundle_arguments(p: argparse.ArgumentParser) -> None:
    _design_arguments(p)
    p.set_defaults(size=None)  # 32 for a classifier, 128 for a detector (a multiple of 32)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="bundle folder (must not exist yet)")
    p.add_argument("--weights", metavar="W", help="pretrained .weights to include (e.g. runs/quick/best.weights)")
    p.add_argument("--name", help="base name of the .cfg/.data files (default: the design's name)")
    g = p.add_argument_group("darknet training [net] keys")
    g.add_argument("--batch", type=int, default=64)
    g.add_argument("--subdivisions", type=int, default=1)
    g.add_argument("--lr", type=float, help="learning_rate (default 0.1 classifier, 0.001 detector)")
    g.add_argument("--policy", choices=("poly", "steps", "constant", "sgdr"), default=None,
                   help="learning-rate policy (default poly for classifiers, steps for detectors)")
    g.add_argument("--power", type=float, default=4.0, help="poly power (default 4)")
    g.add_argument("--steps", help="policy=steps: comma list of iterations (default 80%%,90%% of max_batches)")
    g.add_argument("--scales", help="policy=steps: comma list of factors (default .1,.1)")
    g.add_argument("--max-batches", type=int, help="iterations (default: 30 epochs for classifiers, "
                                                   "max(6000, 2000 per class) for detectors; never 0)")
    g.add_argument("--burn-in", type=int, help="warm-up iterations (default 0 classifier, 1000 detector)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--decay", type=float, default=0.0005)
    g.add_argument("--flip", type=int, choices=(0, 1), default=0,
                   help="random horizontal flips (default 0: wrong for digits and text)")
    g = p.add_argument_group("detector bundle")
    g.add_argument("--detector", action="store_true",
                   help="attach a YOLO head to the design's backbone and write a `darknet detector train` bundle")
    g.add_argument("--classes", type=int, help="detector classes (default: the data's)")
    g.add_argument("--anchors", help="comma list of w,h pairs in input pixels "
                                     "(default: 6 anchors, k-means of the training boxes)")
    g.add_argument("--masks", help="anchor indices per [yolo], scales separated by ';' (default '3,4,5;0,1,2')")
    g.add_argument("--images", type=int, default=600, help="detector on digits: synthetic images (default 600)")


def run_bundle(args: argparse.Namespace, prog: str = "bundle") -> int:
    """Write a darknet training bundle; exit code 0 or 2 (user error)."""
    return run_command(f"mixdesign {prog}", lambda: _bundle(args))


def _bundle(args: argparse.Namespace) -> int:
    from runtime.bundle import BundleOptions, write_bundle

    network = _network(args.source, args)
    opts = BundleOptions(
        data=args.data, size=args.size, seed=args.seed, val_fraction=args.val_fraction, name=args.name,
        weights=args.weights, batch=args.batch, subdivisions=args.subdivisions, learning_rate=args.lr,
        policy=args.policy, power=args.power, steps=args.steps, scales=args.scales,
        max_batches=args.max_batches, burn_in=args.burn_in, momentum=args.momentum, decay=args.decay,
        flip=args.flip, detector=args.detector, classes=args.classes, anchors=args.anchors, masks=args.masks,
        detector_images=args.images)
    report = write_bundle(network, args.output, opts)
    print(report.summary())
    return 0


def register(subparsers) -> None:
    """Add `train` and `bundle` to mixdesign's sub-commands (handlers take args, return an exit code)."""
    from designer.cli.workspace import add_record_arguments

    s = subparsers.add_parser("train", help="quick-train a design on digits or your images (PyTorch, CPU/GPU)")
    add_train_arguments(s)
    add_record_arguments(s)  # --workspace, --no-record (designer/cli/workspace.py)
    s.set_defaults(func=lambda a: run_train(a, "train"))
    s = subparsers.add_parser("bundle", help="write what `darknet classifier|detector train` needs to train a design")
    add_bundle_arguments(s)
    s.set_defaults(func=lambda a: run_bundle(a, "bundle"))
