"""Quick-train: train a design's runtime model on a small image set, the way darknet would see it.

What is trained is the model built from the exported cfg (emit_cfg -> parse_cfg -> build_model), so the
weights saved as .weights are for exactly the network darknet trains. Inputs are RGB values / 255, darknet's
load_image_color convention; BN uses darknet's eps 1e-5 (the runtime's BatchNorm2d).

Recipe (chosen for time-to-accuracy on small sets, see benchmarks/bench_train.py): SGD, momentum 0.9,
Nesterov; linear warm-up over the first epoch, then cosine decay to 0 per step; cross-entropy with label
smoothing 0.1 on the logits (the model is the whole network, run up to the layer before [softmax]);
BN running statistics with momentum 0.1 instead of darknet's 0.01, which lags behind over a short run.

`python -m runtime.train ARGS` (and `torchrun --nproc_per_node N -m runtime.train ARGS`) take the same
arguments as `mixdesign train`; see designer/cli/train.py.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import designer
from designer.cfg import emit_cfg, parse_cfg
from designer.edits import logits_index, prepare_network
from designer.errors import EditError
from designer.files import atomic_write_text
from designer.memory import check_fits
from runtime.train.checkpoints import RunFiles, save_checkpoint, write_metrics
from runtime.train.data import Split, load_dataset

LABEL_SMOOTHING = 0.1
MOMENTUM = 0.9
VAL_BATCH = 256
BN_TRAIN_MOMENTUM = 0.1  # torch's default


@dataclass(frozen=True)
class TrainConfig:
    data: str = "digits"  # "digits" or a path (ImageFolder dir, or darknet .data file / list file)
    size: int = 32  # input size (square)
    epochs: int = 10
    batch: int = 64  # global batch: split over the ranks under torchrun
    lr: float = 0.05
    weight_decay: float = 5e-5
    seed: int = 0
    val_fraction: float = 0.2
    out_dir: str = "runs/quick"
    device: str = "cpu"
    threads: int | None = None


@dataclass
class TrainResult:
    history: list[dict]
    best_top1: float  # 0.0 and best_epoch 0 when no epoch finished (then no checkpoint was written)
    best_epoch: int
    stopped: bool  # ended early: stop event, KeyboardInterrupt
    out_dir: Path
    cfg_path: Path
    weights_path: Path
    state_path: Path
    metrics_csv: Path
    metrics_json: Path
    classes: tuple[str, ...] = ()
    interrupted: bool = False  # the early end was a KeyboardInterrupt (the CLI exits 130)
    world_size: int = 1
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------ training


def _lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up, then cosine to 0 (per optimiser step)."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _channels(network: designer.Network) -> int:
    c = network.input_shape[0]
    if c not in (1, 3):
        raise EditError(f"[net] channels={c}: quick-train reads grey (1) or RGB (3) images")
    return c


def train(
    network: designer.Network,
    cfg: TrainConfig,
    *,
    on_epoch: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    progress: bool = True,
    split: Split | None = None,
) -> TrainResult:
    """Train `network` on cfg.data; write model.cfg, labels.txt, best.pt/.weights, metrics.csv/.json.

    `split` passes an already loaded train/val split (to train two designs on the same data). Returns
    after the last epoch, or early (stopped=True) when `stop` is set or on KeyboardInterrupt; files written
    up to then stay complete. Refuses (designer/memory.py, training estimate) what would not fit on the device.
    torch's thread count, which the run sets (designer.threads policy), is restored when it returns: it is
    process-wide, and the app measures latency in the same process afterwards.
    """
    import torch

    old_threads = torch.get_num_threads()
    try:
        return _train(network, cfg, on_epoch=on_epoch, stop=stop, progress=progress, split=split)
    finally:
        torch.set_num_threads(old_threads)


def _train(
    network: designer.Network,
    cfg: TrainConfig,
    *,
    on_epoch: Callable[[dict], None] | None,
    stop: threading.Event | None,
    progress: bool,
    split: Split | None,
) -> TrainResult:
    from runtime.train import distributed as td

    t0 = time.perf_counter()
    d = td.setup(cfg.device)
    td.set_threads(cfg.threads, d)
    if split is None:
        split = load_dataset(cfg.data, cfg.size, _channels(network), cfg.val_fraction, cfg.seed)
    run = _start(network, cfg, split, d)
    history: list[dict] = []
    best_top1, best_epoch = 0.0, 0
    stopped = interrupted = False
    summary = _summary(cfg, split, d.world)
    try:
        for epoch in range(1, cfg.epochs + 1):
            row = _run_epoch(run, epoch, t0=t0, stop=stop, progress=progress)
            if row is None:
                stopped = True
                break
            history.append(row)
            if d.main:
                if row["val_top1"] > best_top1:
                    best_top1, best_epoch = row["val_top1"], epoch
                    _save_best(run, epoch, row["val_top1"], split.classes)
                write_metrics(run.files, history, {**summary, "best_top1": best_top1, "best_epoch": best_epoch})
                _report_epoch(row, on_epoch=on_epoch, progress=progress)
    except KeyboardInterrupt:
        stopped = interrupted = True
    finished = not stopped
    files = run.files
    if d.main and (history or finished):
        write_metrics(
            files,
            history,
            {**summary, "best_top1": best_top1, "best_epoch": best_epoch, "finished": finished, "stopped": stopped},
        )
    return TrainResult(
        history,
        best_top1,
        best_epoch,
        stopped,
        files.out_dir,
        files.cfg,
        files.weights,
        files.state,
        files.metrics_csv,
        files.metrics_json,
        split.classes,
        interrupted,
        d.world,
    )


def _summary(cfg: TrainConfig, split: Split, world: int) -> dict:
    """metrics.json's fields that hold for the whole run (the best epoch and how the run ended are added)."""
    return {
        "config": asdict(cfg),
        "classes": list(split.classes),
        "world_size": world,
        "data": split.train.source,
        "train_images": len(split.train),
        "val_images": len(split.val),
        "finished": False,
        "stopped": False,
    }


def _run_epoch(
    run: _Run, epoch: int, *, t0: float, stop: threading.Event | None, progress: bool
) -> dict[str, Any] | None:
    """Train one epoch, then validate: the epoch's history row (train loss over every rank's images, validation
    loss and top-1, images/s of the training part, seconds since `t0`, the last learning rate), or None when
    `stop` ended the epoch early (it is not counted)."""
    from runtime.train import distributed as td

    t_ep = time.perf_counter()
    loss_sum, seen, stopped = _train_epoch(run, epoch, stop=stop, progress=progress)
    if stopped:
        return None
    train_time = time.perf_counter() - t_ep
    loss_sum, seen = td.sum_all([loss_sum, seen], run.d)
    val_loss, top1 = _evaluate(run)
    return {
        "epoch": epoch,
        "train_loss": loss_sum / max(1.0, seen),
        "val_loss": val_loss,
        "val_top1": top1,
        "images_per_s": seen / max(1e-9, train_time),
        "elapsed_s": time.perf_counter() - t0,
        "lr": run.opt.param_groups[0]["lr"],
    }


def _save_best(run: _Run, epoch: int, top1: float, classes: tuple[str, ...]) -> None:
    """best.pt and best.weights for the epoch with the best validation top-1 so far (main rank only)."""
    save_checkpoint(
        run.files,
        run.model,
        {
            "epoch": epoch,
            "val_top1": top1,
            "cfg": run.cfg_text,
            "classes": list(classes),
            "train_config": asdict(run.cfg),
        },
    )


@dataclass
class _Run:
    """What the epochs of one training run share: the model, the data on tensors, the schedule, the files."""

    d: Any  # runtime.train.distributed's process layout (device, rank, world, main)
    cfg: TrainConfig
    files: RunFiles
    cfg_text: str
    model: Any  # the whole network, run up to the logits
    net_for_step: Any  # the model, wrapped in DistributedDataParallel under torchrun
    opt: Any
    sampler: Any
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    per_rank: int
    steps_per_epoch: int
    total_steps: int
    warmup: int
    step: int = 0  # optimiser steps taken so far (the learning-rate schedule's clock)

    def to_input(self, xb):
        return xb.to(self.d.device, non_blocking=True).float().div_(255.0)


def _start(network: designer.Network, cfg: TrainConfig, split: Split, d) -> _Run:
    """Write model.cfg and labels.txt, build the model from the cfg text, and lay out the data and schedule."""
    import torch
    from torch.utils.data.distributed import DistributedSampler

    from runtime import build_model

    network = prepare_network(network, cfg.size, len(split.classes))
    check_fits(network, cfg.batch, training=True, device=cfg.device)  # before torch allocates
    cfg_text = emit_cfg(network)
    trained = parse_cfg(cfg_text)  # train what darknet reads, not the in-memory IR
    files = RunFiles(Path(cfg.out_dir))
    if d.main:
        files.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(files.cfg, cfg_text)
        atomic_write_text(files.labels, "".join(c + "\n" for c in split.classes))

    torch.manual_seed(cfg.seed)
    # the whole network (so save_weights writes darknet's file for it), run up to the logits
    model = build_model(trained, outputs=(logits_index(trained),)).to(d.device)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            # darknet's rolling update (.99/.01) is made for 100k-step runs; a few hundred steps need 0.1
            m.momentum = BN_TRAIN_MOMENTUM
    net_for_step = model
    if d.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net_for_step = DDP(model, device_ids=[d.device] if d.device.type == "cuda" else None)

    y_train = torch.from_numpy(split.train.labels)
    per_rank = max(1, cfg.batch // d.world)
    indices: Any = range(len(y_train))  # a Sequence of sample indices; the sampler needs only its len()
    sampler: DistributedSampler = DistributedSampler(
        indices, num_replicas=d.world, rank=d.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    steps_per_epoch = max(1, len(sampler) // per_rank)
    total_steps = steps_per_epoch * cfg.epochs
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=MOMENTUM, nesterov=True, weight_decay=cfg.weight_decay
    )
    return _Run(
        d=d,
        cfg=cfg,
        files=files,
        cfg_text=cfg_text,
        model=model,
        net_for_step=net_for_step,
        opt=opt,
        sampler=sampler,
        x_train=torch.from_numpy(split.train.images),
        y_train=y_train,
        x_val=torch.from_numpy(split.val.images),
        y_val=torch.from_numpy(split.val.labels),
        per_rank=per_rank,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        warmup=min(steps_per_epoch, max(1, total_steps // 5)),
    )


def _train_epoch(run: _Run, epoch: int, *, stop: threading.Event | None, progress: bool) -> tuple[float, float, bool]:
    """One epoch of SGD steps on this rank's share: (loss sum, images seen, stopped by `stop`)."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from runtime.train import distributed as td

    d = run.d
    run.model.train()
    run.sampler.set_epoch(epoch)
    order = torch.tensor(list(run.sampler), dtype=torch.long)
    loss_sum = seen = 0.0
    stopped = False
    bar = tqdm(
        range(run.steps_per_epoch),
        desc=f"epoch {epoch}/{run.cfg.epochs}",
        leave=False,
        unit="batch",
        disable=not (progress and d.main),
        file=sys.stderr,
    )
    for b in bar:
        if td.any_rank(stop is not None and stop.is_set(), d):
            stopped = True
            break
        j = order[b * run.per_rank : (b + 1) * run.per_rank]
        lr = _lr_at(run.step, run.total_steps, run.warmup, run.cfg.lr)
        for g in run.opt.param_groups:
            g["lr"] = lr
        out = run.net_for_step(run.to_input(run.x_train[j])).flatten(1)
        loss = F.cross_entropy(out, run.y_train[j].to(d.device), label_smoothing=LABEL_SMOOTHING)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.step += 1
        loss_sum += loss.item() * len(j)
        seen += len(j)
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.4f}")
    bar.close()
    return loss_sum, seen, stopped


def _evaluate(run: _Run) -> tuple[float, float]:
    """Validation loss and top-1 over every rank's share of the validation set."""
    import torch
    import torch.nn.functional as F

    from runtime.train import distributed as td

    d = run.d
    run.model.eval()
    loss_sum = correct = 0.0
    idx = torch.arange(d.rank, len(run.y_val), d.world)  # each rank scores its share, then sum over ranks
    with torch.no_grad():
        for s in range(0, len(idx), VAL_BATCH):
            j = idx[s : s + VAL_BATCH]
            out = run.model(run.to_input(run.x_val[j])).flatten(1)
            yb = run.y_val[j].to(d.device)
            loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += float((out.argmax(1) == yb).sum())
    loss_sum, correct, n = td.sum_all([loss_sum, correct, float(len(idx))], d)
    return loss_sum / max(1.0, n), correct / max(1.0, n)


def _report_epoch(row: dict, *, on_epoch: Callable[[dict], None] | None, progress: bool) -> None:
    from tqdm import tqdm

    if progress:
        tqdm.write(
            f"epoch {row['epoch']:3d}  train loss {row['train_loss']:.4f}  val loss {row['val_loss']:.4f}  "
            f"val top-1 {row['val_top1']:.4f}  {row['images_per_s']:.0f} img/s  {row['elapsed_s']:.1f} s",
            file=sys.stderr,
        )
    if on_epoch is not None:
        on_epoch(dict(row))
