"""The workspace: designs, imported cfgs, measurements, training runs and sweeps in one database, shared by the
app and the CLI.

`Workspace.open(url_or_path)` checks and migrates the database (designer/workspace/engine.py) and hands back an
object whose methods each run one short transaction. Rows come back as detached model instances
(designer/workspace/models.py). Stored designs and imports are validated as they are read: a row that no longer
loads (hand-edited YAML, a rule that changed) is reported in `Loaded.problems` and skipped, never fatal.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from designer.errors import MixdesignError
from designer.keys import cfg_sha256, layers_sha256
from designer.workspace.engine import (
    WorkspaceError,
    describe,
    make_engine,
    migrate,
    preflight_sqlite,
    resolve_url,
    sqlite_path,
)
from designer.workspace.models import (
    TRIAL_STATUSES,
    DesignRow,
    ImportedCfgRow,
    LatencyModelRow,
    MeasurementRow,
    SweepRow,
    SweepTrialRow,
    TrainingRunRow,
    utcnow,
)

if TYPE_CHECKING:
    from typing_extensions import Required, Unpack  # typing's own from Python 3.11

T = TypeVar("T")
MODELS = (
    DesignRow,
    ImportedCfgRow,
    MeasurementRow,
    TrainingRunRow,
    SweepRow,
    SweepTrialRow,
    LatencyModelRow,
)  # in FK order
SOURCES = ("app", "cli")
IMPORT_KINDS = ("design-yaml", "designer-cfg", "layers-cfg")


_cfg_sha256 = cfg_sha256  # for functions whose `cfg_sha256` parameter hides it


def library_versions() -> dict[str, str]:
    """Versions of what a figure depends on (libraries already loaded by this process only)."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    try:
        out["mixnet-designer"] = metadata.version("mixnet-designer")
    except metadata.PackageNotFoundError:
        pass
    for mod in ("torch", "onnxruntime", "openvino", "numpy"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            out[mod] = str(m.__version__)
    return out


@dataclass(frozen=True)
class Problem:
    """A stored row that did not load: which table and row, and why."""

    table: str
    row_id: int
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id} ({self.name!r}) skipped: {self.message}"


@dataclass
class Loaded(Generic[T]):
    items: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class StoredDesign:
    row: DesignRow
    arch: Any  # designer.Arch, validated

    @property
    def name(self) -> str:
        return self.row.name


@dataclass(frozen=True)
class StoredImport:
    row: ImportedCfgRow
    design: Any  # designer.Arch (design-yaml, designer-cfg) or designer.Network (layers-cfg)

    @property
    def name(self) -> str:
        return self.row.name


def _design_of_yaml(text: str) -> Any:
    from designer import load_yaml
    from designer.spec import check

    try:
        arch = load_yaml(text)
    except MixdesignError:
        raise
    except Exception as e:  # noqa: BLE001 - a hand-edited row the reader did not foresee: a bad row, not a crash
        raise MixdesignError(f"not a design ({type(e).__name__}: {e})") from None
    return check(arch)


def arch_cfg_sha256(arch: Any) -> str:
    return cfg_sha256(emitted_cfg(arch))


def arch_layers_sha256(arch: Any) -> str:
    return layers_sha256(emitted_cfg(arch))


def emitted_cfg(design: Any) -> str:
    """The cfg text a design (Arch) or a network (Network) is measured as: designer.emit_cfg."""
    from designer import Arch, emit_cfg, lower

    return emit_cfg(lower(design) if isinstance(design, Arch) else design)


def _machine(r: Mapping[str, Any]) -> tuple[str | None, dict | None]:
    """(key, fingerprint JSON) of the machine a result was measured on: the result's own `machine` (runtime's
    BenchResult carries it), else this machine for the result's device (a result recorded where it was taken)."""
    from designer.machine import Fingerprint, fingerprint

    d = r.get("machine")
    if isinstance(d, Mapping) and d:
        fp = Fingerprint.from_json(dict(d))
        return fp.key, fp.to_json()
    try:
        fp = fingerprint(str(r.get("device") or "cpu"))
    except Exception:  # noqa: BLE001 - a result from a device this process cannot see: no machine rather than a guess
        return None, None
    return fp.key, fp.to_json()


class RowSource(TypedDict, total=False):
    """bench_row's keywords, which add_bench_result passes on."""

    design_name: Required[str]
    source: Required[str]
    cfg_text: str | None
    cfg_sha256: str | None
    settings: Mapping[str, Any] | None
    backend: str | None


def bench_row(
    r: Mapping[str, Any],
    *,
    design_name: str,
    source: str,
    cfg_text: str | None = None,
    cfg_sha256: str | None = None,
    settings: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> MeasurementRow:
    """A bench or train-step result -> its measurement row (not yet stored). Columns from the result when it has
    them: machine, runs, load_before, load_during, unstable (runtime.bench.BenchResult); a result without a
    machine is filed under this machine's fingerprint for its device. Without `cfg_text`, the layers hash is
    the result's `layers_sha256` when it has one (a sweep record does)."""
    if cfg_sha256 is not None:
        sha = cfg_sha256
    elif cfg_text is not None:
        sha = _cfg_sha256(cfg_text)
    else:
        raise WorkspaceError("a measurement needs its cfg text (or at least its cfg sha256)")
    fma, median = r.get("fma"), float(r["median_ms"])
    key, machine = _machine(r)
    runs = r.get("runs")
    return MeasurementRow(
        design_name=str(design_name)[:200],
        cfg_sha256=sha,
        layers_sha256=layers_sha256(cfg_text) if cfg_text is not None else r.get("layers_sha256"),
        device=r.get("device", "cpu"),
        device_name=r.get("device_name", ""),
        backend=str(r.get("backend") or backend or "torch"),
        dtype=r.get("dtype", "fp32"),
        batch=int(r.get("batch") or 1),
        threads=r.get("threads"),
        median_ms=median,
        iqr_ms=float(r.get("iqr_ms") or 0.0),
        fma=fma,
        fma_per_s=r.get("fma_per_s") or ((fma / (median / 1e3)) if fma and median else None),
        params=r.get("params"),
        per_layer=r.get("per_layer"),
        settings={
            **{k: r[k] for k in ("optimized", "channels_last", "mode", "execution") if k in r},
            **(settings or {}),
        },
        machine_key=key,
        machine=machine,
        runs=int(runs) if runs is not None else None,
        load_before=r.get("load_before"),
        load_during=r.get("load_during"),
        unstable=r.get("unstable") or None,
        versions=library_versions(),
        source=source,
    )


class Workspace:
    """One workspace database. Open with `Workspace.open(url_or_path)`; close with `close()` (or `with`)."""

    def __init__(self, engine: Engine, url: URL):
        self.engine = engine
        self.url = url
        self.location = describe(url)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, target: str | Path | None = None, *, revision: str = "head") -> Workspace:
        """PATH | URL | None ($MIXDESIGN_WORKSPACE, then the default file): checked, migrated, ready."""
        url = resolve_url(target)
        path = sqlite_path(url)
        if path is not None:
            preflight_sqlite(path)
        engine = make_engine(url)
        try:
            migrate(engine, describe(url), revision)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, url)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return sqlite_path(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> _Tx:
        """One transaction: committed on leaving the block, rolled back on an exception."""
        return _Tx(self)

    # ------------------------------------------------------------ designs

    def save_design(self, name: str, arch: Any, *, derived_from: str | None = None, source: str = "app") -> DesignRow:
        """Keep `arch` under `name` (replacing an earlier design of that name). It must be valid."""
        from designer import dump_yaml

        name = name.strip()
        if not name:
            raise WorkspaceError("a saved design needs a name")
        text = dump_yaml(arch)
        _design_of_yaml(text)  # refuse what could not be loaded back
        sha = arch_cfg_sha256(arch)
        with self.session() as s:
            row = s.scalar(select(DesignRow).where(DesignRow.name == name))
            if row is None:
                row = DesignRow(name=name, design_yaml=text, cfg_sha256=sha, derived_from=derived_from, source=source)
                s.add(row)
            else:
                row.design_yaml, row.cfg_sha256, row.updated = text, sha, utcnow()
                row.derived_from = derived_from if derived_from is not None else row.derived_from
            self._fill_layers(s, sha, arch_layers_sha256(arch))
            s.flush()
            return row

    def designs(self) -> Loaded[StoredDesign]:
        """Every saved design, oldest first; a row whose YAML no longer loads is reported and skipped."""
        return self._load(DesignRow, DesignRow.created, lambda r: StoredDesign(r, _design_of_yaml(r.design_yaml)))

    def get_design(self, name: str) -> StoredDesign | None:
        with self.session() as s:
            row = s.scalar(select(DesignRow).where(DesignRow.name == name))
        if row is None:
            return None
        try:
            return StoredDesign(row, _design_of_yaml(row.design_yaml))
        except MixdesignError as e:
            raise WorkspaceError(f"saved design {name!r} does not load: {e}", file=self.location) from None

    def delete_design(self, name: str) -> bool:
        with self.session() as s:
            row = s.scalar(select(DesignRow).where(DesignRow.name == name))
            if row is not None:
                s.delete(row)
            return row is not None

    # ------------------------------------------------------------ imported cfgs

    def add_imported(self, name: str, kind: str, text: str, *, filename: str | None = None) -> ImportedCfgRow:
        """Keep an imported file's text (replacing an earlier import of that name); it must load."""
        if kind not in IMPORT_KINDS:
            raise WorkspaceError(f"import kind {kind!r}: use one of {', '.join(IMPORT_KINDS)}")
        design = _load_import(kind, text)
        sha = _import_sha(design)
        with self.session() as s:
            row = s.scalar(select(ImportedCfgRow).where(ImportedCfgRow.name == name))
            if row is None:
                row = ImportedCfgRow(name=name, kind=kind, text=text, cfg_sha256=sha, filename=filename)
                s.add(row)
            else:
                row.kind, row.text, row.cfg_sha256, row.filename = kind, text, sha, filename
                row.created = utcnow()
            self._fill_layers(s, sha, layers_sha256(emitted_cfg(design)))
            s.flush()
            return row

    def imported(self) -> Loaded[StoredImport]:
        """Every import, oldest first; a row that no longer reads is reported and skipped."""
        return self._load(
            ImportedCfgRow, ImportedCfgRow.created, lambda r: StoredImport(r, _load_import(r.kind, r.text))
        )

    def _load(self, model: Any, order: Any, read: Any) -> Loaded:
        out: Loaded = Loaded()
        with self.session() as s:
            rows = s.scalars(select(model).order_by(order, model.id)).all()
        for row in rows:
            try:
                out.items.append(read(row))
            except MixdesignError as e:
                out.problems.append(Problem(model.__tablename__, row.id, row.name, str(e)))
        return out

    # ------------------------------------------------------------ measurements

    def add_measurement(self, **fields: Any) -> MeasurementRow:
        """Record one latency measurement (keyword arguments: the MeasurementRow columns)."""
        fields.setdefault("versions", library_versions())
        return self._add(MeasurementRow(**fields))

    def add_bench_result(self, r: Mapping[str, Any], **where: Unpack[RowSource]) -> MeasurementRow:
        """Record one result of runtime.bench / runtime.train_step (BenchResult.to_json(), or a sweep trial with
        the same keys): the one mapping from a measurement to its row, for the CLI, the app and sweeps. Pass the
        emitted `cfg_text` (both hashes are taken from it); a bare `cfg_sha256` leaves the layers hash to be
        filled when a design or import with that cfg is saved."""
        return self._add(bench_row(r, **where))

    def measurements(
        self,
        *,
        design: str | None = None,
        cfg_sha256: str | None = None,
        device: str | None = None,
        backend: str | None = None,
        source: str | None = None,
        machine_key: str | None = None,
        layers_sha256: str | None = None,
        limit: int | None = None,
    ) -> list[MeasurementRow]:
        """Newest first; each filter that is given must match."""
        q = select(MeasurementRow).order_by(MeasurementRow.measured_at.desc(), MeasurementRow.id.desc())
        for col, value in (
            (MeasurementRow.design_name, design),
            (MeasurementRow.cfg_sha256, cfg_sha256),
            (MeasurementRow.device, device),
            (MeasurementRow.backend, backend),
            (MeasurementRow.source, source),
            (MeasurementRow.machine_key, machine_key),
            (MeasurementRow.layers_sha256, layers_sha256),
        ):
            if value is not None:
                q = q.where(col == value)
        with self.session() as s:
            return list(s.scalars(q.limit(limit)).all())

    def _fill_layers(self, s: Session, cfg_sha: str, layers: str) -> None:
        """Measurements recorded under `cfg_sha` before its text was known here get its layers hash."""
        s.execute(
            update(MeasurementRow)
            .where(MeasurementRow.cfg_sha256 == cfg_sha, MeasurementRow.layers_sha256.is_(None))
            .values(layers_sha256=layers)
        )

    # ------------------------------------------------------------ training runs

    def add_training_run(self, **fields: Any) -> TrainingRunRow:
        """Record one training run (keyword arguments: the TrainingRunRow columns)."""
        fields.setdefault("versions", library_versions())
        return self._add(TrainingRunRow(**fields))

    def training_runs(
        self, *, design: str | None = None, device: str | None = None, limit: int | None = None
    ) -> list[TrainingRunRow]:
        q = select(TrainingRunRow).order_by(TrainingRunRow.finished.desc(), TrainingRunRow.id.desc())
        if design is not None:
            q = q.where(TrainingRunRow.design_name == design)
        if device is not None:
            q = q.where(TrainingRunRow.device == device)
        with self.session() as s:
            return list(s.scalars(q.limit(limit)).all())

    # ------------------------------------------------------------ sweeps

    def add_sweep(self, spec: dict[str, Any], *, settings_hash: str) -> SweepRow:
        """The sweep of this settings hash (designer.explore.space.spec_hash of its spec): the row already here,
        or a new one with a random uid. One row per settings hash, even when two processes start it at once."""
        for _ in range(2):
            found = self.sweep(settings_hash)
            if found is not None:
                return found
            try:
                return self._add(SweepRow(spec=spec, settings_hash=settings_hash))
            except WorkspaceError:  # another process added it between the two statements: read theirs
                continue
        raise WorkspaceError(f"cannot record sweep {settings_hash}", file=self.location)

    def sweep(self, settings_hash: str) -> SweepRow | None:
        with self.session() as s:
            return s.scalar(select(SweepRow).where(SweepRow.settings_hash == settings_hash))

    def add_trial(
        self,
        sweep_id: int,
        trial_key: str,
        *,
        kind: str = "count",
        round: int = 0,
        status: str = "ok",
        message: str | None = None,
        point: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
        machine_key: str | None = None,
        measurement: MeasurementRow | None = None,
    ) -> SweepTrialRow:
        """Record one trial and, for a timed one, its measurement row, in ONE transaction (a kill leaves both or
        neither). A trial key already in the sweep is replaced (a retried failure), keeping one row per key."""
        if status not in TRIAL_STATUSES:
            raise WorkspaceError(f"trial status {status!r}: use one of {', '.join(TRIAL_STATUSES)}")
        with self.session() as s:
            if measurement is not None:
                s.add(measurement)
                s.flush()
            row = s.scalar(
                select(SweepTrialRow).where(SweepTrialRow.sweep_id == sweep_id, SweepTrialRow.trial_key == trial_key)
            )
            if row is None:
                row = SweepTrialRow(sweep_id=sweep_id, trial_key=trial_key)
                s.add(row)
            row.kind, row.round, row.status, row.message = kind, round, status, message
            row.point, row.result, row.machine_key = dict(point or {}), dict(result or {}) or None, machine_key
            row.measurement_id = measurement.id if measurement is not None else None
            row.created = utcnow()
            s.flush()
            return row

    def sweeps(self) -> list[SweepRow]:
        with self.session() as s:
            return list(s.scalars(select(SweepRow).order_by(SweepRow.created, SweepRow.id)).all())

    def trials(self, sweep_id: int) -> list[SweepTrialRow]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(SweepTrialRow).where(SweepTrialRow.sweep_id == sweep_id).order_by(SweepTrialRow.id)
                ).all()
            )

    # ------------------------------------------------------------ helpers

    def _add(self, row: T) -> T:
        with self.session() as s:
            s.add(row)
            s.flush()
        return row

    def designs_version(self) -> tuple:
        """Changes whenever a design or an import is added or replaced (a cheap cache key for readers)."""
        from sqlalchemy import func

        with self.session() as s:
            d = s.execute(select(func.count(), func.max(DesignRow.updated))).one()
            i = s.execute(select(func.count(), func.max(ImportedCfgRow.created), func.max(ImportedCfgRow.id))).one()
        return tuple(d) + tuple(i)

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        out = {}
        with self.session() as s:
            for model in MODELS:
                out[model.__tablename__] = s.scalar(select(func.count()).select_from(model)) or 0
        return out


class _Tx:
    """`with ws.session() as s:` one committed transaction; database errors become one-line WorkspaceErrors."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.s: Session | None = None

    def __enter__(self) -> Session:
        self.s = self.ws._sessions()
        self.s.begin()
        return self.s

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        assert self.s is not None
        try:
            if exc_type is None:
                self.s.commit()
            else:
                self.s.rollback()
        except DBAPIError as e:
            self.s.rollback()
            raise self._error(e) from None
        finally:
            self.s.close()
        if isinstance(exc, SQLAlchemyError):
            raise self._error(exc) from None

    def _error(self, e: SQLAlchemyError) -> WorkspaceError:
        cause = getattr(e, "orig", None) or e
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        return WorkspaceError(f"the workspace refused the write ({first})", file=self.ws.location)


def _load_import(kind: str, text: str) -> Any:
    from designer import parse_cfg

    if kind == "design-yaml":
        return _design_of_yaml(text)
    try:
        network = parse_cfg(text)
    except MixdesignError:
        raise
    except Exception as e:  # noqa: BLE001 - as in _design_of_yaml: a bad row, not a crash
        raise MixdesignError(f"not a cfg ({type(e).__name__}: {e})") from None
    if kind == "designer-cfg" and network.design is not None:
        return _design_of_yaml(network.design)
    return network


def _import_sha(design: Any) -> str:
    return cfg_sha256(emitted_cfg(design))
