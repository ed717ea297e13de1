"""`mixdesign train` and `python -m runtime.train` (also under torchrun): one argument definition and one run
flow for both entry points, below the CLI package and the runtime alike.

The run goes into a hidden sibling of --out and moves into place at the end: --out holds one run's cfg, weights
and metrics together, or is left as it was. Each run put into place is recorded in the workspace
(designer.api.record; --no-record skips). Exit codes: 0, 2 (a user error, one line) or 130 (interrupted: the
files on disk are left complete). Torch loads only inside designer.api's functions.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields, replace
from typing import Any

from designer.api.record import design_label
from designer.commands import run_command
from designer.ir import Network
from designer.options import add_device, add_out, add_overrides, add_source, add_threads, network_of

DEFAULT_OUT = "runs/quick"


def design_arguments(p: argparse.ArgumentParser, size_help: str) -> None:
    """SOURCE, --data, the design overrides, --seed and --val-fraction (train and bundle read them alike)."""
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
    design_arguments(p, "input width and height, 8-4096 and at least the total stride")
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


@dataclass(frozen=True)
class TrainRequest:
    """What `mixdesign train` was asked: the design (and the --compare one), the data, the training values, the
    run folder, and where to record (designer.api.WorkspaceTarget; None: --no-record)."""

    source: str
    data: str = "digits"
    size: int = 32
    classes: int | None = None
    width_mult: float | None = None
    depth_mult: float | None = None
    dw_group_size: int | None = None
    seed: int = 0
    val_fraction: float = 0.2
    epochs: int = 10
    batch: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-5
    out: str = DEFAULT_OUT
    overwrite: bool = False
    device: str = "cpu"
    threads: int | None = None
    compare: str | None = None
    progress: bool = True
    record: Any = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainRequest:
        names = {f.name for f in fields(cls)} - {"progress", "record"}
        values = {k: getattr(args, k) for k in names if hasattr(args, k)}
        record = None if getattr(args, "no_record", False) else (getattr(args, "workspace", None) or True)
        return cls(**values, progress=not getattr(args, "no_progress", False), record=record)

    def settings(self) -> dict[str, Any]:
        """What a run is recorded with (the workspace's settings column)."""
        keys = ("data", "size", "epochs", "batch", "lr", "weight_decay", "seed", "val_fraction", "threads")
        return {k: getattr(self, k) for k in (*keys, "width_mult", "depth_mult")}


def run_train(request: TrainRequest, prog: str = "train") -> int:
    """Train one design (or two with --compare); exit code 0, 2 (user error) or 130 (interrupted)."""
    return run_command(f"mixdesign {prog}", lambda: _train(request, prog))


def _train(req: TrainRequest, prog: str) -> int:
    from designer import api

    main_rank = api.is_main_process()
    stage = None
    runs: list = []
    labels: list[str] = []
    try:
        api.check_train_values(
            size=req.size,
            classes=req.classes,
            epochs=req.epochs,
            batch=req.batch,
            lr=req.lr,
            weight_decay=req.weight_decay,
            val_fraction=req.val_fraction,
        )
        networks, labels = _designs(req)
        stage = api.begin_staging(req.out, overwrite=req.overwrite, main=main_rank)
        split = _split(req, channels=networks[0].input_shape[0])
        trained = _checked_for_training(req, networks, classes=len(split.classes))
        columns = []
        for k, (label, network) in enumerate(zip(labels, networks)):
            out = stage.work if len(networks) == 1 else stage.work / label
            result = api.train(
                network,
                **_values(req),
                out_dir=str(out),
                split=split,
                progress=req.progress,
            ).result
            runs.append((label, result))
            if main_rank:
                columns.append(_summary_rows(label, trained[k], result))
            if result.interrupted or result.stopped:
                if main_rank:
                    _keep_interrupted(req, stage, runs, labels, prog)
                return 130
        if main_rank:
            _keep_finished(req, stage, runs, columns)
        api.leave_process_group()
        return 0
    except KeyboardInterrupt:  # outside an epoch loop (data loading, model building, between the designs)
        where = _finish(stage, runs, labels) if stage is not None and main_rank else "nothing written"
        if stage is not None and main_rank:
            _record(req, runs, stage)
        skipped = labels[len(runs) :]
        print(
            f"{prog}: interrupted; {where}" + (f"; {', '.join(skipped)} was not trained" if skipped and runs else ""),
            file=sys.stderr,
        )
        return 130
    except BaseException:  # a user error (designer.commands.run_command prints it) or a bug: nothing half-kept
        if stage is not None:
            stage.discard()
        raise


def _values(req: TrainRequest) -> dict[str, Any]:
    """designer.api.train's training values of the request."""
    keys = ("data", "size", "epochs", "batch", "lr", "weight_decay", "seed", "val_fraction", "device", "threads")
    return {k: getattr(req, k) for k in keys}


def _designs(req: TrainRequest) -> tuple[list[Network], list[str]]:
    """The design to train (and the --compare one) with a distinct label each; both must take the same input
    channels, since one data split feeds both."""
    from designer.api.sources import SourceError

    sources = [req.source] + ([req.compare] if req.compare else [])
    over = dict(width_mult=req.width_mult, depth_mult=req.depth_mult, size=req.size, dw_group_size=req.dw_group_size)
    networks = [network_of(s, **over) for s in sources]
    labels = [design_label(s) for s in sources]
    if len(labels) == 2 and labels[0] == labels[1]:
        labels = [labels[0] + "-a", labels[1] + "-b"]
    channels = networks[0].input_shape[0]
    if any(n.input_shape[0] != channels for n in networks):
        raise SourceError("--compare needs two designs with the same input channels (one split feeds both)")
    return networks, labels


def _split(req: TrainRequest, *, channels: int) -> Any:
    """The train/validation split of --data at --size; --classes, when given, must match the data's classes."""
    from designer.api import load_split
    from designer.api.sources import SourceError

    split = load_split(req.data, size=req.size, channels=channels, val_fraction=req.val_fraction, seed=req.seed)
    if req.classes is not None and req.classes != len(split.classes):
        raise SourceError(
            f"--classes {req.classes} but the data has {len(split.classes)} classes; leave "
            "--classes out to use the data's"
        )
    return split


def _checked_for_training(req: TrainRequest, networks: list[Network], *, classes: int) -> list[Network]:
    """Each design as it is trained (--size, a classifier for `classes`), refused before torch allocates when a
    training batch would not fit (designer/memory.py): every design before the first trains."""
    from designer.edits import prepare_network
    from designer.memory import check_fits

    trained = [prepare_network(n, req.size, classes) for n in networks]
    for t in trained:
        check_fits(t, req.batch, training=True, device=req.device)
    return trained


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


def _finish(stage: Any, runs: list[tuple[str, Any]], labels: list[str]) -> str:
    """Put the runs that finished at least one epoch into place (or nothing), and say which files exist."""
    import shutil

    from designer.api import existing_files

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


def _keep_interrupted(req: TrainRequest, stage: Any, runs: list, labels: list[str], prog: str) -> None:
    """The last run stopped early (Ctrl-C or a stop request): keep what finished an epoch, record it, and say
    on stderr where it went and which designs were not trained."""
    label, result = runs[-1]
    where = _finish(stage, runs, labels)
    _record(req, runs, stage)
    skipped = labels[len(runs) :]
    print(
        f"{prog}: interrupted during {label} (epoch {len(result.history) + 1}); {where}"
        + (f"; {', '.join(skipped)} was not trained" if skipped else ""),
        file=sys.stderr,
    )


def _keep_finished(req: TrainRequest, stage: Any, runs: list, columns: list[list[tuple[str, str]]]) -> None:
    """Every run finished: move them into place, record them, print each one's best figure and files, and with
    --compare both runs' final figures side by side (their `out dir` rows at the final folders)."""
    from designer.api import existing_files

    final = stage.commit()
    _record(req, runs, stage)
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


def _record(req: TrainRequest, runs: list, stage: Any) -> None:
    """Record the runs whose folders were put into place (at least one finished epoch), at their final path."""
    if req.record is None:
        return
    from designer.api import record_training

    for label, result in runs:
        if not result.history:
            continue
        folder = stage.final / label if req.compare else stage.final  # --compare: one sub-folder per design
        done = record_training(
            req.record,
            replace(result, out_dir=folder, cfg_path=folder / "model.cfg"),
            design_name=label,
            device=req.device,
            settings=req.settings(),
            source="cli",
        )
        if done.location is not None:
            print(f"mixdesign train: recorded the run of {label} in {done.location}", file=sys.stderr)
        else:
            print(f"mixdesign train: not recorded in the workspace: {done.problem}", file=sys.stderr)
