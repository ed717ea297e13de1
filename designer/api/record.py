"""Recording into the workspace: the one mapping from a measurement or a training run to its workspace row, for
the CLI, the app and notebooks alike (designer.workspace.store does the storing).

A workspace problem (a damaged file, a newer schema, a server that is down) never fails the work that produced
the result: it comes back as `Recorded.problem`, for the caller to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from designer.api.workspace import WorkspaceTarget, opened
from designer.errors import MixdesignError
from designer.ir import Network


@dataclass(frozen=True)
class Recorded:
    """Where results went: `location` (the workspace's description) and how many rows, or `problem` (why not)."""

    location: str | None = None
    rows: int = 0
    problem: str | None = None


def design_label(source: str) -> str:
    """The name a source is filed under: a file's stem, or the preset name."""
    return Path(source).stem if source.endswith((".cfg", ".yaml", ".yml")) else source


def record_measurements(
    workspace: WorkspaceTarget,
    network: Network,
    results: Sequence[Any],
    *,
    design_name: str,
    source: str,
    backend: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Recorded:
    """Record bench or train-step results of `network` under its emitted cfg's hashes, with the network's
    trainable params. Each result is a runtime.bench.BenchResult or its to_json() mapping (the app's job
    entries carry it so)."""
    from designer import count, emit_cfg

    try:
        text = emit_cfg(network)
        rows = [r.to_json() if hasattr(r, "to_json") else dict(r) for r in results]
        params = rows[0].get("params") if rows[0].get("params") is not None else count(network).params
        with opened(workspace) as ws:
            for row in rows:
                ws.add_bench_result(
                    {**row, "params": params},
                    design_name=design_name,
                    cfg_text=text,
                    source=source,
                    backend=backend,
                    settings=settings,
                )
            return Recorded(ws.location, len(rows))
    except MixdesignError as e:
        return Recorded(problem=str(e))


def record_training(
    workspace: WorkspaceTarget,
    result: Any,
    *,
    design_name: str,
    device: str,
    settings: Mapping[str, Any],
    source: str,
    not_before: datetime | None = None,
) -> Recorded:
    """Record one finished or stopped training run (runtime.train.TrainResult: per-epoch metrics, best top-1,
    where its files are) with the `settings` it ran with. It started `elapsed_s` of its last epoch before now,
    or at `not_before` when that is later (a job that waited for its data)."""
    try:
        from designer.workspace import cfg_sha256

        cfg = Path(result.cfg_path)
        elapsed = float(result.history[-1].get("elapsed_s", 0.0)) if result.history else 0.0
        finished = datetime.now(timezone.utc)
        started = finished - timedelta(seconds=elapsed)
        with opened(workspace) as ws:
            ws.add_training_run(
                design_name=design_name,
                cfg_sha256=cfg_sha256(cfg.read_text()) if cfg.is_file() else None,
                device=str(device),
                settings=dict(settings),
                metrics=list(result.history),
                best_top1=result.best_top1,
                best_epoch=result.best_epoch,
                artifact_dir=str(result.out_dir),
                status="stopped" if result.stopped else "finished",  # stopped covers Ctrl-C too
                started=max(started, not_before) if not_before is not None else started,
                finished=finished,
                source=source,
            )
            return Recorded(ws.location, 1)
    except (MixdesignError, OSError) as e:
        return Recorded(problem=str(e))
