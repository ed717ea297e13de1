"""The latency model (designer/latency): `calibrate` measures this machine and fits a model for one setting,
stored in the workspace; `estimate` applies the newest matching model to a network, torch-free, in well under a
second. A setting is named the same way in both (designer.latency.setting.Setting)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from designer.api.workspace import WorkspaceTarget, opened
from designer.ir import Network

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from designer.cost import Cost
    from designer.latency.model import Estimate, LatencyModel
    from designer.latency.setting import Setting, SettingOptions


@dataclass(frozen=True)
class Calibrated:
    """The fitted model (its metrics: designs, kernels, held-out errors, seconds taken) and the workspace it was
    stored in."""

    model: LatencyModel
    stored_in: str


@dataclass(frozen=True)
class Estimated:
    """The estimate (ms with its interval, per kernel), the model it came from, the setting, and the network's
    counts (cost.fma per image)."""

    estimate: Estimate
    model: LatencyModel
    setting: Setting
    cost: Cost


def calibrate(
    *,
    budget_s: float | None = None,
    seed: int = 0,
    sizes: tuple[int, ...] | None = None,
    progress: bool = True,
    workspace: WorkspaceTarget = True,
    on_progress: Callable[[float, str], None] | None = None,
    stop: threading.Event | None = None,
    **setting: Unpack[SettingOptions],
) -> Calibrated:
    """Measure random designs for about `budget_s` seconds (default designer.latency.setting.DEFAULT_BUDGET_S; at
    least 3 designs whatever it says) in the setting `setting` names (Setting.make's keywords: backend, device,
    threads, batch, dtype, mode; by default torch fp32 inference of batch 1 on the CPU), fit the model and store
    it in `workspace` (default: the default workspace, opened before measuring so a workspace problem is found in
    a second, not after minutes). `progress`: a tqdm bar on stderr; `on_progress(fraction of the budget, what was
    measured)` and `stop` (set: fit on what is measured so far) are for callers that show progress themselves
    (the app's Latency page)."""
    from designer.latency.setting import DEFAULT_BUDGET_S, Setting, SettingError
    from designer.latency.store import save_model

    s = Setting.make(**setting)
    budget = DEFAULT_BUDGET_S if budget_s is None else budget_s
    if budget <= 0:
        raise SettingError(f"--budget {budget:g}: give the seconds calibration may take, e.g. 180")
    with opened(workspace) as ws:
        from runtime.calibrate import calibrate as fit

        model = fit(s, budget_s=budget, seed=seed, progress=progress, sizes=sizes, on_progress=on_progress, stop=stop)
        save_model(ws, model)
        return Calibrated(model, ws.location)


@dataclass(frozen=True)
class Refreshed:
    """The refreshed model (its metrics["refresh"]: factor, spread, rounds, seconds), the model it was made from,
    and the workspace both are in."""

    model: LatencyModel
    previous: LatencyModel
    stored_in: str


def refresh(
    *,
    budget_s: float | None = None,
    progress: bool = True,
    workspace: WorkspaceTarget = True,
    **setting: Unpack[SettingOptions],
) -> Refreshed:
    """Bring this machine's newest model for `setting` to the machine's present speed: time its reference designs
    again for about `budget_s` seconds (default designer.latency.setting.REFRESH_BUDGET_S) and store the re-levelled
    model, which estimates use from then on (runtime.calibrate.refresh). NoLatencyModel where there is no model
    to refresh, or it keeps no reference designs (the message names the calibrate command)."""
    from designer.latency.setting import Setting, SettingError
    from designer.latency.store import NoLatencyModel, find_model, save_model

    s = Setting.make(**setting)
    if budget_s is not None and budget_s <= 0:
        raise SettingError(f"--budget {budget_s:g}: give the seconds the refresh may take, e.g. 20")
    with opened(workspace) as ws:
        model = find_model(ws, s)
        if not model.anchors:
            raise NoLatencyModel(
                f"latency model {model.uid[:8]} for {s.describe()} keeps no reference designs to time again "
                f"(it was calibrated by an older version); calibrate anew: {s.calibrate_command()}"
            )
        from designer.latency.setting import REFRESH_BUDGET_S
        from runtime.calibrate import refresh as relevel

        made = relevel(model, budget_s=REFRESH_BUDGET_S if budget_s is None else budget_s, progress=progress)
        save_model(ws, made)
        return Refreshed(made, model, ws.location)


def estimate(network: Network, *, workspace: WorkspaceTarget = True, **setting: Unpack[SettingOptions]) -> Estimated:
    """The latency of `network` in the setting `setting` names (Setting.make's keywords, as for `calibrate`) from
    this machine's newest latency model for it in `workspace`; NoLatencyModel (a MixdesignError, with the
    calibrate command that makes one) where there is none."""
    from designer.cost import count
    from designer.latency.setting import Setting
    from designer.latency.store import find_model
    from designer.shapes import infer_shapes

    s = Setting.make(**setting)
    with opened(workspace) as ws:
        model = find_model(ws, s)
    shapes = infer_shapes(network)
    cost = count(network, shapes)
    return Estimated(model.estimate(network, shapes, cost), model, s, cost)
