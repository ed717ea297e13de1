"""`mixdesign train` and `mixdesign bundle`: argument parsing and the handlers, registered into designer/cli/main.py.

Importing this module pulls in neither torch nor PIL: `register` only declares arguments; the handlers import
the trainer and the bundle writer when they run. User errors (a bad design, bad data, a cfg without a
classifier) print one line on stderr and return 2; Ctrl-C during training returns 130 after the files on
disk are left complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from designer.cli.errors import run_command
from designer.cli.options import add_device, add_out, add_overrides, add_source, add_threads, overrides
from designer.ir import Network

DEFAULT_OUT = "runs/quick"


def _design_arguments(p: argparse.ArgumentParser, size_help: str) -> None:
    add_source(p)
    p.add_argument(
        "--data",
        default="digits",
        help="'digits' (scikit-learn's bundled 8x8 digits, no download), an ImageFolder directory, "
        "a darknet .data file or a darknet list file (default: digits)",
    )
    add_overrides(
        p,
        size_default=32,
        size_help=size_help,
        classes_help="classes the network outputs; must match the data's (default: the data's)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the initial weights (default 0)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="validation share when the data has no separate valid list (default 0.2)",
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `mixdesign train` and `python -m runtime.train` (one definition for both)."""
    _design_arguments(p, "input width and height, 8-4096 and at least the total stride")
    p.add_argument("--epochs", type=int, default=10, help="epochs, 1 or more")
    p.add_argument("--batch", type=int, default=64, help="global batch (split over torchrun processes)")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate (SGD, Nesterov, cosine)")
    p.add_argument("--weight-decay", type=float, default=5e-5, help="SGD weight decay")
    add_out(
        p,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="run folder; must be new or empty (written in a hidden sibling, moved into place at the end)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    add_device(p)
    add_threads(p, "torch intra-op threads per process")
    p.add_argument(
        "--compare",
        metavar="OTHER",
        help="also train this design on the same split; print both runs' final figures side by side",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _network(text: str, args: argparse.Namespace):
    from designer.cli.sources import load_source, to_network

    return to_network(load_source(text), **overrides(args, with_classes=False))


def check_train_values(args: argparse.Namespace) -> None:
    """Refuse values torch would fail on later (or that claim work that never happens), one line each."""
    import math

    from designer.cli.sources import SourceError, check_overrides

    check_overrides(size=args.size, classes=args.classes)
    if args.epochs < 1:
        raise SourceError(f"--epochs {args.epochs}: train at least 1 epoch")
    if args.batch < 1:
        raise SourceError(f"--batch {args.batch}: use a batch of 1 or more images")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise SourceError(f"--lr {args.lr}: the learning rate must be a positive number such as 0.05")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise SourceError(f"--weight-decay {args.weight_decay}: use 0 or a small positive number such as 5e-5")
    if not 0 < args.val_fraction < 1:
        raise SourceError(f"--val-fraction {args.val_fraction}: use a share between 0 and 1, such as 0.2")


def _label(text: str) -> str:
    return Path(text).stem if text.endswith((".cfg", ".yaml", ".yml")) else text


def _config(args: argparse.Namespace, out_dir: str):
    from runtime.train import TrainConfig

    return TrainConfig(
        data=args.data,
        size=args.size,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        val_fraction=args.val_fraction,
        out_dir=out_dir,
        device=args.device,
        threads=args.threads,
    )


def _summary_rows(label: str, network, result) -> list[tuple[str, str]]:
    from designer.cost import count

    c = count(network)
    last = result.history[-1] if result.history else {}
    fmt = lambda k, f: format(last[k], f) if k in last else "-"  # noqa: E731
    return [
        ("design", label),
        ("params", f"{c.params:,}"),
        ("FMA", f"{c.fma:,}"),
        ("epochs run", str(len(result.history))),
        ("best val top-1", f"{result.best_top1:.4f}"),
        ("best epoch", str(result.best_epoch)),
        ("final train loss", fmt("train_loss", ".4f")),
        ("final val loss", fmt("val_loss", ".4f")),
        ("final val top-1", fmt("val_top1", ".4f")),
        ("train images/s", fmt("images_per_s", ".0f")),
        ("wall time s", fmt("elapsed_s", ".1f")),
        ("out dir", str(result.out_dir)),
    ]


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


def _finish(stage, runs: list[tuple[str, object]], labels: list[str], prog: str) -> str:
    """Put the runs that finished at least one epoch into place (or nothing), and say which files exist."""
    import shutil

    from runtime.train.outdir import existing_files

    kept = [(label, r) for label, r in runs if r.history]
    if not kept:
        stage.discard()
        return f"nothing written: no epoch finished ({stage.final} was not created or changed)"
    for _label, r in runs:
        if not r.history:  # a --compare design stopped before its first epoch: drop its partial folder
            shutil.rmtree(r.out_dir, ignore_errors=True)
    final = stage.commit()
    parts = []
    for label, r in kept:
        folder = final if len(labels) == 1 else final / label
        parts.append(
            f"{folder}/ ({', '.join(existing_files(folder))}; epochs 1-{len(r.history)}"
            + (f", best epoch {r.best_epoch})" if r.best_epoch else ", no best checkpoint)")
        )
    return "; ".join(parts)


def run_train(args: argparse.Namespace, prog: str = "train") -> int:
    """Train one design (or two with --compare); exit code 0, 2 (user error) or 130 (interrupted)."""
    return run_command(f"mixdesign {prog}", lambda: _train(args, prog))


def _train(args: argparse.Namespace, prog: str) -> int:
    """The run goes into a hidden sibling of --out and moves into place at the end: --out holds one run's
    cfg, weights and metrics together, or is left as it was. Each run that is put into place is recorded in the
    workspace (designer/cli/workspace.py; --no-record skips)."""
    from designer.cli.workspace import record_training
    from runtime.train.distributed import from_env

    main_rank = from_env()[0] == 0
    stage = None
    runs: list = []
    labels: list[str] = []
    try:
        check_train_values(args)
        from runtime.train import train
        from runtime.train.outdir import Staging

        networks, labels = _designs(args)
        stage = Staging.begin(args.out, overwrite=args.overwrite, main=main_rank)
        split = _split(args, channels=networks[0].input_shape[0])
        trained = _checked_for_training(args, networks, classes=len(split.classes))
        columns = []
        for k, (label, network) in enumerate(zip(labels, networks)):
            out = stage.work if len(networks) == 1 else stage.work / label
            result = train(network, _config(args, str(out)), split=split, progress=not args.no_progress)
            runs.append((label, result))
            if main_rank:
                columns.append(_summary_rows(label, trained[k], result))
            if result.interrupted or result.stopped:
                if main_rank:
                    _keep_interrupted(args, stage, runs, labels, prog)
                return 130
        if main_rank:
            _keep_finished(args, stage, runs, columns)
        _leave_process_group()
        return 0
    except KeyboardInterrupt:  # outside an epoch loop (data loading, model building, between the designs)
        where = _finish(stage, runs, labels, prog) if stage is not None and main_rank else "nothing written"
        if stage is not None and main_rank:
            _record(args, runs, stage, record_training)
        skipped = labels[len(runs) :]
        print(
            f"{prog}: interrupted; {where}" + (f"; {', '.join(skipped)} was not trained" if skipped and runs else ""),
            file=sys.stderr,
        )
        return 130
    except BaseException:  # a user error (designer.cli.errors.run_command prints it) or a bug: nothing half-kept
        if stage is not None:
            stage.discard()
        raise


def _designs(args: argparse.Namespace) -> tuple[list[Network], list[str]]:
    """The design to train (and the --compare one) with a distinct label each; both must take the same input
    channels, since one data split feeds both."""
    from designer.cli.sources import SourceError

    sources = [args.source] + ([args.compare] if args.compare else [])
    networks = [_network(s, args) for s in sources]
    labels = [_label(s) for s in sources]
    if len(labels) == 2 and labels[0] == labels[1]:
        labels = [labels[0] + "-a", labels[1] + "-b"]
    channels = networks[0].input_shape[0]
    if any(n.input_shape[0] != channels for n in networks):
        raise SourceError("--compare needs two designs with the same input channels (one split feeds both)")
    return networks, labels


def _split(args: argparse.Namespace, *, channels: int):
    """The train/validation split of --data at --size; --classes, when given, must match the data's classes."""
    from designer.cli.sources import SourceError
    from runtime.train.data import load_dataset

    split = load_dataset(args.data, args.size, channels, args.val_fraction, args.seed)
    if args.classes is not None and args.classes != len(split.classes):
        raise SourceError(
            f"--classes {args.classes} but the data has {len(split.classes)} classes; leave "
            "--classes out to use the data's"
        )
    return split


def _checked_for_training(args: argparse.Namespace, networks: list[Network], *, classes: int) -> list[Network]:
    """Each design as it is trained (--size, a classifier for `classes`), refused before torch allocates when a
    training batch would not fit (designer/memory.py)."""
    from designer.edits import prepare_network
    from designer.memory import check_fits

    trained = [prepare_network(n, args.size, classes) for n in networks]
    for t in trained:
        check_fits(t, args.batch, training=True, device=args.device)
    return trained


def _keep_interrupted(args: argparse.Namespace, stage, runs: list, labels: list[str], prog: str) -> None:
    """The last run stopped early (Ctrl-C or a stop request): keep what finished an epoch, record it, and say
    on stderr where it went and which designs were not trained."""
    from designer.cli.workspace import record_training

    label, result = runs[-1]
    where = _finish(stage, runs, labels, prog)
    _record(args, runs, stage, record_training)
    skipped = labels[len(runs) :]
    print(
        f"{prog}: interrupted during {label} (epoch {len(result.history) + 1}); {where}"
        + (f"; {', '.join(skipped)} was not trained" if skipped else ""),
        file=sys.stderr,
    )


def _keep_finished(args: argparse.Namespace, stage, runs: list, columns: list[list[tuple[str, str]]]) -> None:
    """Every run finished: move them into place, record them, print each one's best figure and files, and with
    --compare both runs' final figures side by side (their `out dir` rows at the final folders)."""
    from designer.cli.workspace import record_training
    from runtime.train.outdir import existing_files

    final = stage.commit()
    _record(args, runs, stage, record_training)
    folders = {label: final if len(runs) == 1 else final / label for label, _ in runs}
    for label, result in runs:
        folder = folders[label]
        print(
            f"{label}: best val top-1 {result.best_top1:.4f} (epoch {result.best_epoch}); "
            f"wrote {folder}/ ({', '.join(existing_files(folder))})"
        )
    if len(columns) > 1:
        at_final = [[(k, str(folders[row[0][1]]) if k == "out dir" else v) for k, v in row] for row in columns]
        print()
        _print_side_by_side(at_final)


def _record(args: argparse.Namespace, runs: list, stage, record_training) -> None:
    """Record the runs whose folders were put into place (at least one finished epoch), at their final path."""
    from dataclasses import replace

    for label, result in runs:
        if not result.history:
            continue
        folder = stage.final / label if args.compare else stage.final  # --compare: one sub-folder per design
        record_training(args, label, replace(result, out_dir=folder, cfg_path=folder / "model.cfg"))


def add_bundle_arguments(p: argparse.ArgumentParser) -> None:
    _design_arguments(p, "input width and height, 8-4096 (default: 32 for a classifier, 128 for a detector)")
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
    from designer.cli.sources import check_overrides
    from runtime.bundle import BundleOptions, write_bundle

    check_overrides(size=args.size, classes=args.classes)
    network = _network(args.source, args)
    opts = BundleOptions(
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
    report = write_bundle(network, args.out, opts)
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
