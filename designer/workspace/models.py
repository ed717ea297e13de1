"""The workspace's tables (schema revision 3, the current one), as SQLAlchemy 2.x declarative models.

One row per thing a user made or measured: designs (by name), imported cfgs, measurements, training runs, and
sweeps with their trials. A measurement and a training run are keyed by the sha256 of the emitted cfg text
(`designer.emit_cfg(network)`), so the same network measured from the CLI and from the app lines up; a
measurement also carries `layers_sha256` (the same text without its comment lines, i.e. without the embedded
design header), so renaming or re-saving a design keeps its history. Every measurement and trial names the
machine it was taken on (`machine_key`, designer.machine.Fingerprint.key, and the whole fingerprint). Every
row that can travel between workspaces (export/import) carries a `uid` so importing the same file twice adds
nothing; trials travel by their sweep and their `trial_key`. Times are UTC.

The Alembic revisions in migrations/versions/ are the authority on the stored schema; these models mirror
revision 3 and are checked against it in tests/test_workspace_migrations.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text: read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Constraint and index names the migrations spell out too (so both sides name them alike on every backend).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class DesignRow(Base):
    """A saved design: its YAML (designer.dump_yaml), the hash of the cfg it exports to, what it came from."""

    __tablename__ = "designs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    design_yaml: Mapped[str] = mapped_column(Text)
    cfg_sha256: Mapped[str] = mapped_column(String(64), index=True)
    derived_from: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="app")
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedCfgRow(Base):
    """A file a user imported: the text as it was read (cfg or design YAML) and how it was read."""

    __tablename__ = "imported_cfgs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # "design-yaml", "designer-cfg", "layers-cfg"
    text: Mapped[str] = mapped_column(Text)
    cfg_sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(260))
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class MeasurementRow(Base):
    """One latency measurement: what (cfg hash, layers hash, design name), where (machine, device, backend, dtype,
    batch, threads), the result (median and IQR in ms per batch over `runs` timed runs, per-layer times), how
    trustworthy (busy cores before and during, the `unstable` reason or None), with which libraries, when, from
    where."""

    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(primary_key=True)
    design_name: Mapped[str] = mapped_column(String(200), index=True)
    cfg_sha256: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str] = mapped_column(String(32))
    device_name: Mapped[str] = mapped_column(String(200), default="")
    backend: Mapped[str] = mapped_column(String(32), default="torch")
    dtype: Mapped[str] = mapped_column(String(16))
    batch: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int | None] = mapped_column(Integer)
    median_ms: Mapped[float] = mapped_column(Float)
    iqr_ms: Mapped[float] = mapped_column(Float)
    fma: Mapped[int | None] = mapped_column(BigInteger)  # multiply-adds per batch
    fma_per_s: Mapped[float | None] = mapped_column(Float)
    params: Mapped[int | None] = mapped_column(BigInteger)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # optimized, channels_last, min_run_time, ...
    per_layer: Mapped[list[Any] | None] = mapped_column()
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # python, torch, designer, ...
    source: Mapped[str] = mapped_column(String(16), default="cli")  # "app", "cli" or "sweep"
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    measured_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    layers_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # None: cfg text never seen here
    machine_key: Mapped[str | None] = mapped_column(String(16), index=True)  # None: recorded before revision 3
    machine: Mapped[dict[str, Any] | None] = mapped_column()  # designer.machine.Fingerprint.to_json()
    runs: Mapped[int | None] = mapped_column(Integer)  # timed runs the median rests on
    load_before: Mapped[float | None] = mapped_column(Float)  # cores other processes kept busy, before
    load_during: Mapped[float | None] = mapped_column(Float)  # ... and while it was timed
    unstable: Mapped[str | None] = mapped_column(Text)  # why the figure may be unreliable; None: stable


class TrainingRunRow(Base):
    """One training run of one design: settings, the per-epoch metrics, where its files are, how it ended."""

    __tablename__ = "training_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    design_name: Mapped[str] = mapped_column(String(200), index=True)
    cfg_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    device: Mapped[str] = mapped_column(String(32), default="cpu")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[list[Any]] = mapped_column(default=list)  # one dict per finished epoch
    best_top1: Mapped[float | None] = mapped_column(Float)
    best_epoch: Mapped[int | None] = mapped_column(Integer)
    artifact_dir: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="finished")  # "finished", "stopped", "failed"
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16), default="cli")
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    started: Mapped[datetime | None] = mapped_column()
    finished: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SweepRow(Base):
    """A sweep over design knobs (its spec as given). `uid` is random (the sweep's id); `settings_hash` is the
    hash of its spec (designer.explore.space.spec_hash): one row per settings hash in a workspace, so the same
    sweep run on two machines, or imported from a colleague, is one sweep whose trials carry their machine."""

    __tablename__ = "sweeps"
    id: Mapped[int] = mapped_column(primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    settings_hash: Mapped[str] = mapped_column(String(16), unique=True)


TRIAL_STATUSES = ("ok", "failed", "invalid")


class LatencyModelRow(Base):
    """A fitted latency model (designer/latency): the machine it was calibrated on (fingerprint key and JSON)
    and the setting, its fitted numbers as JSON (designer.latency.model.LatencyModel.to_json, never a pickle),
    its held-out errors and the library versions. Found by fingerprint key + setting; never used on another."""

    __tablename__ = "latency_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint_key: Mapped[str] = mapped_column(String(16), index=True)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backend: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(32))
    threads: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    created: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SweepTrialRow(Base):
    """One trial of a sweep (one design x one kind x one round on one machine): its key (unique in the sweep,
    designer.explore.runner.trial_key), how it ended (ok / failed with the error / invalid with the reason), the
    record the runner keeps (`result`), and for a timed ok trial its measurement row."""

    __tablename__ = "sweep_trials"
    __table_args__ = (UniqueConstraint("sweep_id", "trial_key", name="uq_sweep_trials_trial_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), index=True)
    measurement_id: Mapped[int | None] = mapped_column(ForeignKey("measurements.id", ondelete="SET NULL"))
    point: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the knob values of this trial
    status: Mapped[str] = mapped_column(String(16), default="ok")  # TRIAL_STATUSES
    message: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    trial_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="count")  # count, infer, train, accuracy
    round: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column()
    machine_key: Mapped[str | None] = mapped_column(String(16), index=True)
