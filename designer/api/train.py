"""`train`: quick-train a network on a small image set (runtime.train), checked before torch allocates, and
recorded in the workspace when one is given. The CLI's `mixdesign train` adds its run folder staging around the
same calls; the app's Quick-train job calls `train` per design."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from designer.api.record import Recorded, record_training
from designer.api.workspace import WorkspaceTarget
from designer.ir import Network
from designer.spec import Arch

if TYPE_CHECKING:
    from runtime.train.data import Split
    from runtime.train.loop import TrainResult


@dataclass(frozen=True)
class Trained:
    """The run (runtime.train.TrainResult: per-epoch history, best top-1 and epoch, its files; stopped=True when
    it ended early) and where it was recorded (None: no workspace given)."""

    result: TrainResult
    recorded: Recorded | None = None


def train_settings(config: Any) -> dict[str, Any]:
    """The settings a training run is recorded with (runtime.train.TrainConfig's fields, out_dir left out)."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(config).items() if k != "out_dir"}


def load_split(data: str, *, size: int, channels: int = 3, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """The checked train/validation split of `data` ('digits', an ImageFolder directory, a darknet .data or list
    file) at `size` pixels: load once, train several designs on it."""
    from runtime.train.data import load_dataset

    return load_dataset(data, size, channels, val_fraction, seed)


def train(
    network: Arch | Network,
    *,
    data: str = "digits",
    size: int = 32,
    epochs: int = 10,
    batch: int = 64,
    lr: float = 0.05,
    weight_decay: float = 5e-5,
    seed: int = 0,
    val_fraction: float = 0.2,
    out_dir: str = "runs/quick",
    device: str = "cpu",
    threads: int | None = None,
    split: Split | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    progress: bool = True,
    workspace: WorkspaceTarget = None,
    design_name: str = "api",
    source: str = "api",
) -> Trained:
    """Train `network` as darknet would (built from its cfg, at `size` with a classifier for the data's classes)
        and write model.cfg, labels.txt, best.pt/.weights and metrics into `out_dir`. Refused (MixdesignError,
        nothing written) when a training batch would not fit on `device`. Returns the run (stopped=True when `stop`
        was set) and, with a `workspace`, where it was recorded. `split`: an already loaded split (load_split) to
    train several designs on the same data."""
    from designer.edits import prepare_network
    from designer.memory import check_fits
    from runtime.train import TrainConfig
    from runtime.train import train as run

    config = TrainConfig(
        data=data,
        size=size,
        epochs=epochs,
        batch=batch,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        val_fraction=val_fraction,
        out_dir=out_dir,
        device=device,
        threads=threads,
    )
    if split is None:
        from designer.lower import lower

        channels = (network if isinstance(network, Network) else lower(network)).input_shape[0]
        split = load_split(data, size=size, channels=channels, val_fraction=val_fraction, seed=seed)
    prepared = prepare_network(network, size, len(split.classes))
    check_fits(prepared, batch, training=True, device=device)  # before torch allocates
    result = run(prepared, config, on_epoch=on_epoch, stop=stop, progress=progress, split=split)
    if workspace is None or workspace is False:
        return Trained(result)
    recorded = record_training(
        workspace, result, design_name=design_name, device=device, settings=train_settings(config), source=source
    )
    return Trained(result, recorded)


# ------------------------------------------------------------------ the pieces of a staged run (mixdesign train)


def check_train_values(
    *, size: int, classes: int | None, epochs: int, batch: int, lr: float, weight_decay: float, val_fraction: float
) -> None:
    """Refuse values torch would fail on later (or that claim work that never happens), one line each."""
    import math

    from designer.api.sources import SourceError, check_overrides

    check_overrides(size=size, classes=classes)
    if epochs < 1:
        raise SourceError(f"--epochs {epochs}: train at least 1 epoch")
    if batch < 1:
        raise SourceError(f"--batch {batch}: use a batch of 1 or more images")
    if not (math.isfinite(lr) and lr > 0):
        raise SourceError(f"--lr {lr}: the learning rate must be a positive number such as 0.05")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise SourceError(f"--weight-decay {weight_decay}: use 0 or a small positive number such as 5e-5")
    if not 0 < val_fraction < 1:
        raise SourceError(f"--val-fraction {val_fraction}: use a share between 0 and 1, such as 0.2")


def is_main_process() -> bool:
    """False on the torchrun ranks other than 0 (they train, but do not write the run folder or print)."""
    from runtime.train.distributed import from_env

    return from_env()[0] == 0


def leave_process_group() -> None:
    """Under torchrun: leave the process group together once every run is done (train() keeps it joined so
    several designs train in one group). Not after Ctrl-C: the other ranks may be gone."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def begin_staging(out: str, *, overwrite: bool, main: bool) -> Any:
    """A run folder staged in a hidden sibling of `out` (runtime.train.outdir.Staging: commit() moves it into
    place, discard() removes it): `out` holds one run's files together, or is left as it was."""
    from runtime.train.outdir import Staging

    return Staging.begin(out, overwrite=overwrite, main=main)


def existing_files(folder: Any) -> list[str]:
    """The run files present in a finished run folder, in a fixed order."""
    from runtime.train.outdir import existing_files as files

    return list(files(folder))
