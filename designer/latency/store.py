"""Latency models in the workspace: keep one, find the one for this machine and setting, or say there is none.

A model is found only under the fingerprint key of the machine asking (designer.machine.fingerprint) and the
exact setting; the newest such model wins. A model for another machine, or for this machine with other library
versions, is never used: `find_model` raises NoLatencyModel, which names what the workspace does hold and the
command that makes the missing model (with about how long it takes).
"""

from __future__ import annotations

from sqlalchemy import select

from designer.errors import MixdesignError
from designer.latency.model import LatencyModel
from designer.latency.setting import Setting
from designer.machine import Fingerprint, fingerprint

_PARSED: dict[str, LatencyModel] = {}  # uid -> model: a stored model never changes, parse it once per process


def _parse(row) -> LatencyModel:
    model = _PARSED.get(row.uid)
    if model is None:
        if len(_PARSED) > 32:
            _PARSED.clear()
        model = _PARSED[row.uid] = LatencyModel.from_json(row.model)
    return model


class NoLatencyModel(MixdesignError):
    """No latency model for this machine and setting in the workspace (the message says how to make one)."""


def _row_type():
    from designer.workspace.models import LatencyModelRow

    return LatencyModelRow


def save_model(ws, model: LatencyModel):
    """Store `model` (its uid is the row's, so export/import never duplicates it); returns the row."""
    from designer.workspace.store import library_versions

    Row = _row_type()
    s = model.setting
    versions = {**library_versions(), **dict(model.fingerprint.libraries)}
    return ws._add(
        Row(
            fingerprint_key=model.fingerprint.key,
            fingerprint=model.fingerprint.to_json(),
            backend=s.backend,
            device=s.device,
            threads=s.threads,
            batch=s.batch,
            dtype=s.dtype,
            mode=s.mode,
            model=model.to_json(),
            metrics=model.metrics,
            versions=versions,
            uid=model.uid,
        )
    )


def _matching(setting: Setting):
    Row = _row_type()
    q = select(Row).order_by(Row.created.desc(), Row.id.desc())
    for col, value in (
        (Row.backend, setting.backend),
        (Row.device, setting.device),
        (Row.threads, setting.threads),
        (Row.batch, setting.batch),
        (Row.dtype, setting.dtype),
        (Row.mode, setting.mode),
    ):
        q = q.where(col == value)
    return q


def list_models(ws, setting: Setting | None = None) -> list:
    """Stored model rows, newest first (only `setting`'s where given)."""
    Row = _row_type()
    q = _matching(setting) if setting is not None else select(Row).order_by(Row.created.desc(), Row.id.desc())
    with ws.session() as s:
        return list(s.scalars(q).all())


def find_model(ws, setting: Setting, machine: Fingerprint | None = None) -> LatencyModel:
    """The newest model for `setting` calibrated on `machine` (default: this machine for setting.device)."""
    machine = machine if machine is not None else fingerprint(setting.device)
    Row = _row_type()
    with ws.session() as s:
        row = s.scalars(_matching(setting).where(Row.fingerprint_key == machine.key).limit(1)).first()
    if row is not None:
        try:
            return _parse(row)
        except (KeyError, TypeError, ValueError) as e:
            raise NoLatencyModel(
                f"the workspace's latency model {row.uid} for {setting.describe()} does not load "
                f"({e}); make a new one: {setting.calibrate_command()}"
            ) from None
    raise NoLatencyModel(no_model_message(ws, setting, machine))


def no_model_message(ws, setting: Setting, machine: Fingerprint) -> str:
    others = list_models(ws, setting)
    text = f"no latency model for this machine ({machine.describe()}) and {setting.describe()}"
    if others:
        foreign = {r.fingerprint_key: Fingerprint.from_json(r.fingerprint) for r in others}
        why = "; ".join(_difference(fp, machine) for fp in foreign.values())
        text += (
            f"; the workspace has {len(others)} for this setting from other machines or library versions "
            f"({why}), not used here"
        )
    return f"{text}. Make one: {setting.calibrate_command()}"


def _difference(other: Fingerprint, mine: Fingerprint) -> str:
    """What sets a stored model's machine apart from this one, in a few words."""
    if (other.cpu, other.cores, other.gpu, other.cpu_isa) != (mine.cpu, mine.cores, mine.gpu, mine.cpu_isa):
        return f"made on {other.where()}" + (f", not {mine.where()}" if other.cpu == mine.cpu else "")
    theirs, ours = dict(other.libraries), dict(mine.libraries)
    diff = [
        f"{k} {theirs.get(k, '-')} vs {ours.get(k, '-')} here"
        for k in sorted(set(theirs) | set(ours))
        if theirs.get(k) != ours.get(k)
    ]
    return (
        "made with " + ", ".join(diff)
        if diff
        else "made on a machine that differs in " + ("its system" if other.system != mine.system else "its GPU driver")
    )


def newest_for_machine(
    ws, machine: Fingerprint, *, device: str = "cpu", mode: str = "infer", batch: int = 1
) -> LatencyModel | None:
    """The newest model calibrated on `machine` for `device`, `mode` and `batch`, any backend and thread count
    (what the app shows next to the counts); None when there is none."""
    Row = _row_type()
    q = (
        select(Row)
        .where(Row.fingerprint_key == machine.key, Row.device == device, Row.mode == mode, Row.batch == batch)
        .order_by(Row.created.desc(), Row.id.desc())
        .limit(1)
    )
    with ws.session() as s:
        row = s.scalars(q).first()
    if row is None:
        return None
    try:
        return _parse(row)
    except (KeyError, TypeError, ValueError):
        return None
