"""What a training run leaves in its out_dir, every file written atomically (temp file + os.replace).

An interrupted run (Ctrl-C, a stop request, a crash) therefore leaves the previous complete version of each
file: metrics.csv / metrics.json always parse, best.pt and best.weights are always a whole checkpoint.

    model.cfg      the exact cfg that was trained (what darknet trains)
    labels.txt     class names, one a line, in label-index order (darknet's labels file)
    best.pt        PyTorch checkpoint of the best epoch: state_dict, epoch, val_top1, cfg text, classes
    best.weights   the same weights in Darknet's .weights format
    metrics.csv    one row per finished epoch
    metrics.json   config, classes, history, best epoch, whether the run finished
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from designer.files import atomic_write_bytes, atomic_write_text, target_mode

METRIC_COLUMNS = ("epoch", "train_loss", "val_loss", "val_top1", "images_per_s", "elapsed_s", "lr")


@dataclass(frozen=True)
class RunFiles:
    out_dir: Path

    @property
    def cfg(self) -> Path:
        return self.out_dir / "model.cfg"

    @property
    def labels(self) -> Path:
        return self.out_dir / "labels.txt"

    @property
    def state(self) -> Path:
        return self.out_dir / "best.pt"

    @property
    def weights(self) -> Path:
        return self.out_dir / "best.weights"

    @property
    def metrics_csv(self) -> Path:
        return self.out_dir / "metrics.csv"

    @property
    def metrics_json(self) -> Path:
        return self.out_dir / "metrics.json"


def write_metrics(files: RunFiles, history: list[dict], summary: dict[str, Any]) -> None:
    """metrics.csv (one row per epoch) and metrics.json (summary + history), each replaced atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: row[k] for k in METRIC_COLUMNS})
    atomic_write_text(files.metrics_csv, buf.getvalue())
    atomic_write_text(files.metrics_json, json.dumps({**summary, "history": history}, indent=2) + "\n")


def read_metrics_csv(path: str | Path) -> list[dict]:
    """metrics.csv back as dicts of numbers (epoch an int)."""
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def save_checkpoint(files: RunFiles, model, meta: dict[str, Any]) -> None:
    """best.pt and best.weights of `model` (a runtime model, unwrapped from DDP), both atomically."""
    import torch

    from runtime import save_weights

    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), **meta}, buf)
    atomic_write_bytes(files.state, buf.getvalue())
    # save_weights writes to a path: give it a temp name in the same folder, then rename over the old file
    fd, tmp = tempfile.mkstemp(prefix=".best.weights.", suffix=".tmp", dir=files.out_dir)
    os.close(fd)
    try:
        save_weights(model, tmp)
        os.chmod(tmp, target_mode(files.weights))  # mkstemp made it 0600
        os.replace(tmp, files.weights)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
