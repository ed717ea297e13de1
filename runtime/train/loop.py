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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

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


def train(network: designer.Network, cfg: TrainConfig, *, on_epoch: Callable[[dict], None] | None = None,
          stop: threading.Event | None = None, progress: bool = True, split: Split | None = None) -> TrainResult:
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


def _train(network: designer.Network, cfg: TrainConfig, *, on_epoch: Callable[[dict], None] | None,
           stop: threading.Event | None, progress: bool, split: Split | None) -> TrainResult:
    import torch
    import torch.nn.functional as F
    from torch.utils.data.distributed import DistributedSampler
    from tqdm import tqdm

    from runtime import build_model
    from runtime.train import distributed as td

    t0 = time.perf_counter()
    d = td.setup(cfg.device)
    td.set_threads(cfg.threads, d)
    if split is None:
        split = load_dataset(cfg.data, cfg.size, _channels(network), cfg.val_fraction, cfg.seed)
    classes = split.classes
    network = prepare_network(network, cfg.size, len(classes))
    check_fits(network, cfg.batch, training=True, device=cfg.device)  # before torch allocates
    cfg_text = emit_cfg(network)
    trained = parse_cfg(cfg_text)  # train what darknet reads, not the in-memory IR
    files = RunFiles(Path(cfg.out_dir))
    if d.main:
        files.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(files.cfg, cfg_text)
        atomic_write_text(files.labels, "".join(c + "\n" for c in classes))

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

    x_train = torch.from_numpy(split.train.images)
    y_train = torch.from_numpy(split.train.labels)
    x_val = torch.from_numpy(split.val.images)
    y_val = torch.from_numpy(split.val.labels)
    per_rank = max(1, cfg.batch // d.world)
    sampler = DistributedSampler(range(len(y_train)), num_replicas=d.world, rank=d.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=True)
    steps_per_epoch = max(1, len(sampler) // per_rank)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = min(steps_per_epoch, max(1, total_steps // 5))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=MOMENTUM, nesterov=True,
                          weight_decay=cfg.weight_decay)

    history: list[dict] = []
    best_top1, best_epoch = 0.0, 0
    stopped = interrupted = False
    step = 0
    summary = {"config": asdict(cfg), "classes": list(classes), "world_size": d.world, "data": split.train.source,
               "train_images": len(split.train), "val_images": len(split.val), "finished": False,
               "stopped": False}

    def to_input(xb: torch.Tensor) -> torch.Tensor:
        return xb.to(d.device, non_blocking=True).float().div_(255.0)

    def evaluate() -> tuple[float, float]:
        model.eval()
        loss_sum = correct = 0.0
        idx = torch.arange(d.rank, len(y_val), d.world)  # each rank scores its share, then sum over ranks
        with torch.no_grad():
            for s in range(0, len(idx), VAL_BATCH):
                j = idx[s: s + VAL_BATCH]
                out = model(to_input(x_val[j])).flatten(1)
                yb = y_val[j].to(d.device)
                loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
                correct += float((out.argmax(1) == yb).sum())
        loss_sum, correct, n = td.sum_all([loss_sum, correct, float(len(idx))], d)
        return loss_sum / max(1.0, n), correct / max(1.0, n)

    try:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.long)
            loss_sum = seen = 0.0
            t_ep = time.perf_counter()
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", leave=False, unit="batch",
                       disable=not (progress and d.main), file=sys.stderr)
            for b in bar:
                if td.any_rank(stop is not None and stop.is_set(), d):
                    stopped = True
                    break
                j = order[b * per_rank:(b + 1) * per_rank]
                lr = _lr_at(step, total_steps, warmup, cfg.lr)
                for g in opt.param_groups:
                    g["lr"] = lr
                out = net_for_step(to_input(x_train[j])).flatten(1)
                loss = F.cross_entropy(out, y_train[j].to(d.device), label_smoothing=LABEL_SMOOTHING)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                loss_sum += loss.item() * len(j)
                seen += len(j)
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.4f}")
            bar.close()
            if stopped:
                break
            train_time = time.perf_counter() - t_ep
            loss_sum, seen = td.sum_all([loss_sum, seen], d)
            val_loss, top1 = evaluate()
            row = {"epoch": epoch, "train_loss": loss_sum / max(1.0, seen), "val_loss": val_loss, "val_top1": top1,
                   "images_per_s": seen / max(1e-9, train_time), "elapsed_s": time.perf_counter() - t0,
                   "lr": opt.param_groups[0]["lr"]}
            history.append(row)
            if d.main:
                if top1 > best_top1:
                    best_top1, best_epoch = top1, epoch
                    save_checkpoint(files, model, {"epoch": epoch, "val_top1": top1, "cfg": cfg_text,
                                                   "classes": list(classes), "train_config": asdict(cfg)})
                write_metrics(files, history, {**summary, "best_top1": best_top1, "best_epoch": best_epoch})
                if progress:
                    tqdm.write(f"epoch {epoch:3d}  train loss {row['train_loss']:.4f}  val loss {val_loss:.4f}  "
                               f"val top-1 {top1:.4f}  {row['images_per_s']:.0f} img/s  {row['elapsed_s']:.1f} s",
                               file=sys.stderr)
                if on_epoch is not None:
                    on_epoch(dict(row))
    except KeyboardInterrupt:
        stopped = interrupted = True
    finished = not stopped
    if d.main and (history or finished):
        write_metrics(files, history, {**summary, "best_top1": best_top1, "best_epoch": best_epoch,
                                       "finished": finished, "stopped": stopped})
    return TrainResult(history, best_top1, best_epoch, stopped, files.out_dir, files.cfg, files.weights,
                       files.state, files.metrics_csv, files.metrics_json, classes, interrupted, d.world)
