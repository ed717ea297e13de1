"""The workspace store on SQLite and on a real PostgreSQL server: every record type round-trips, two processes
writing at once lose nothing, a process killed mid-write loses nothing it committed, a newer schema is refused
untouched, and a stored design that no longer loads is reported and skipped."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from designer import emit_cfg, gpu_variant, load_preset, lower
from designer.workspace import (
    NewerWorkspaceError,
    Workspace,
    WorkspaceError,
    cfg_sha256,
    head_revision,
    layers_sha256,
)
from designer.workspace.store import bench_row
from designer.workspace.transfer import export_workspace, import_workspace

MACHINE = {
    "cpu": "Test CPU",
    "cores": 2,
    "system": "Linux x86_64",
    "gpu": None,
    "gpu_driver": None,
    "libraries": {"torch": "2.13.0"},
    "cpu_isa": "family 25 model 17, AVX-512",
}
REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"


def _fill(ws: Workspace) -> dict:
    """One of every record type, with every field set; returns what was written."""
    arch = load_preset("mixnet-s")
    d = ws.save_design("mine", arch, derived_from="preset:mixnet-s")
    gpu = ws.save_design("mine gs4", gpu_variant(arch, 4), derived_from="mine")
    yaml_text = TINY.read_text()
    i1 = ws.add_imported("tiny", "design-yaml", yaml_text, filename="tiny.yaml")
    cfg_text = emit_cfg(lower(load_preset("mixnet-m")))
    i2 = ws.add_imported("m-cfg", "designer-cfg", cfg_text, filename="m.cfg")
    plain = (
        "[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"
        "activation=leaky\n"
    )
    i3 = ws.add_imported("plain", "layers-cfg", plain)
    when = datetime(2026, 12, 1, 12, 30, 15, 250000, tzinfo=timezone.utc)
    m = ws.add_measurement(
        design_name="mine",
        cfg_sha256=d.cfg_sha256,
        device="cuda",
        device_name="NVIDIA H200",
        backend="onnxruntime",
        dtype="fp16",
        batch=8,
        threads=None,
        median_ms=4.5,
        iqr_ms=0.125,
        fma=8 * 339_200_000,
        fma_per_s=6.03e11,
        params=4_999_999,
        settings={"optimized": True, "channels_last": False},
        per_layer=[{"index": 0, "type": "convolutional", "ms": 0.5, "time_share": 0.1, "fma": 10, "fma_share": 0.01}],
        versions={"torch": "2.13.0"},
        source="app",
        measured_at=when,
    )
    run = ws.add_training_run(
        design_name="mine",
        cfg_sha256=d.cfg_sha256,
        device="cpu",
        settings={"epochs": 2, "lr": 0.05, "data": "digits"},
        metrics=[{"epoch": 1, "val_top1": 0.5}, {"epoch": 2, "val_top1": 0.75}],
        best_top1=0.75,
        best_epoch=2,
        artifact_dir="/tmp/runs/x",
        status="stopped",
        started=when - timedelta(seconds=30),
        finished=when,
        source="cli",
    )
    sweep = ws.add_sweep({"vary": {"width_mult": [0.75, 1.0]}, "measure": ["infer"]}, settings_hash="0123456789abcdef")
    t1 = ws.add_trial(
        sweep.id,
        "k/0.75/infer/r0",
        kind="infer",
        point={"width_mult": 0.75},
        result={"median_ms": 2.5},
        machine_key="fedcba9876543210",
        measurement=bench_row(
            {
                "median_ms": 2.5,
                "machine": MACHINE,
                "runs": 7,
                "load_before": 0.25,
                "load_during": 1.5,
                "unstable": "load 1.5 cores busy",
            },
            design_name="mine",
            source="sweep",
            cfg_text=emit_cfg(lower(arch)),
        ),
    )
    t2 = ws.add_trial(
        sweep.id, "k/1.0/count", point={"width_mult": 1.0}, status="invalid", message="384 channels into 5 groups"
    )
    return dict(designs=[d, gpu], imports=[i1, i2, i3], measurement=m, run=run, sweep=sweep, trials=[t1, t2], when=when)


def _columns(row) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key != "id"}


def test_every_record_type_round_trips(workspace_url):
    with Workspace.open(workspace_url) as ws:
        made = _fill(ws)
    with Workspace.open(workspace_url) as ws:  # a new engine: what is read comes from the database
        designs = ws.designs()
        assert not designs.problems
        assert [d.name for d in designs.items] == ["mine", "mine gs4"]
        assert designs.items[0].arch == load_preset("mixnet-s")
        assert designs.items[1].arch == gpu_variant(load_preset("mixnet-s"), 4)
        assert designs.items[1].row.derived_from == "mine"
        for got, want in zip(designs.items, made["designs"]):
            assert _columns(got.row) == _columns(want)
        assert made["designs"][0].cfg_sha256 == cfg_sha256(emit_cfg(lower(load_preset("mixnet-s"))))

        imports = ws.imported()
        assert not imports.problems
        assert [i.name for i in imports.items] == ["tiny", "m-cfg", "plain"]
        assert imports.items[0].design.name == "tiny"
        assert imports.items[1].design == load_preset("mixnet-m")  # a designer cfg comes back as its design
        assert len(imports.items[2].design.layers) == 1
        for got, want in zip(imports.items, made["imports"]):
            assert _columns(got.row) == _columns(want)

        (m,) = ws.measurements(source="app")
        assert _columns(m) == _columns(made["measurement"])
        assert m.measured_at == made["when"] and m.measured_at.tzinfo is not None
        assert m.fma == 8 * 339_200_000  # above 2**31: a 64-bit column
        (run,) = ws.training_runs()
        assert _columns(run) == _columns(made["run"])
        assert run.metrics[1]["val_top1"] == 0.75
        (sweep,) = ws.sweeps()
        assert sweep.spec == {"vary": {"width_mult": [0.75, 1.0]}, "measure": ["infer"]}
        trials = ws.trials(sweep.id)
        assert [_columns(t) for t in trials] == [_columns(t) for t in made["trials"]]
        (sm,) = ws.measurements(source="sweep")
        assert trials[0].measurement_id == sm.id and sm.machine == MACHINE and sm.runs == 7
        assert (sm.load_before, sm.load_during, sm.unstable) == (0.25, 1.5, "load 1.5 cores busy")
        assert sm.layers_sha256 == layers_sha256(emit_cfg(lower(load_preset("mixnet-s"))))
        from designer.machine import Fingerprint

        assert sm.machine_key == Fingerprint.from_json(MACHINE).key

        # filters
        assert len(ws.measurements(device="cuda")) == 1 and len(ws.measurements(backend="onnxruntime")) == 1
        assert len(ws.measurements(cfg_sha256=made["designs"][0].cfg_sha256)) == 2  # the app's and the sweep's
        # saving under a taken name replaces the design and keeps its identity
        again = ws.save_design("mine", load_preset("mixnet-m"))
        assert again.uid == made["designs"][0].uid and again.derived_from == "preset:mixnet-s"
        assert ws.get_design("mine").arch == load_preset("mixnet-m")
        assert ws.get_design("nope") is None


def test_export_import_round_trip(workspace_url, tmp_path):
    with Workspace.open(workspace_url) as ws:
        _fill(ws)
        before = ws.counts()
        report = export_workspace(ws, tmp_path / "shared.sqlite")
    assert report.added == before
    assert not list(tmp_path.glob("shared.sqlite-*")) and not list(tmp_path.glob(".shared*"))  # one file
    with pytest.raises(WorkspaceError, match="exists already"):
        with Workspace.open(workspace_url) as ws:
            export_workspace(ws, tmp_path / "shared.sqlite")

    with Workspace.open(tmp_path / "colleague.sqlite") as other:
        other.save_design("mine", load_preset("mixnet-l"))  # a different design under a name the file uses
        first = import_workspace(other, tmp_path / "shared.sqlite")
        second = import_workspace(other, tmp_path / "shared.sqlite")
        assert first.added["measurements"] == 2 and first.added["sweep_trials"] == 2
        assert first.renamed == [("mine", "mine (imported)")]
        assert sum(second.added.values()) == 0  # the same file twice adds nothing
        assert other.get_design("mine (imported)").arch == load_preset("mixnet-s")
        (m,) = other.measurements(source="sweep")
        (sweep,) = other.sweeps()
        assert other.trials(sweep.id)[0].measurement_id == m.id  # the link follows the new ids
        assert other.counts()["designs"] == 3


WRITER = """
import sys
from designer.workspace import Workspace
url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ws = Workspace.open(url)
print("open", flush=True)
sys.stdin.readline()  # "go": both writers start together
for i in range(n):
    ws.add_measurement(design_name=tag, cfg_sha256="%064d" % i, device="cpu", device_name="test", dtype="fp32",
                       batch=1, threads=1, median_ms=float(i), iqr_ms=0.0, source="cli", versions={})
    print(i, flush=True)  # printed only after the commit returned
"""


def _writer(url: str, tag: str, n: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, tag, str(n)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "open\n", proc.stderr.read()[-2000:]
    return proc


def _go(proc: subprocess.Popen) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()


def test_two_processes_writing_at_once_lose_nothing(workspace_url):
    n = 300
    procs = [_writer(workspace_url, tag, n) for tag in ("a", "b")]
    for p in procs:
        _go(p)
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    with Workspace.open(workspace_url) as ws:
        for tag in ("a", "b"):
            rows = ws.measurements(design=tag)
            assert sorted(r.median_ms for r in rows) == [float(i) for i in range(n)]
        ids = {tag: [r.id for r in ws.measurements(design=tag)] for tag in ("a", "b")}
    # the two writers really overlapped: their rows interleave in commit order
    assert min(ids["a"]) < max(ids["b"]) and min(ids["b"]) < max(ids["a"])


def test_killed_mid_write_keeps_every_committed_row(workspace_url):
    proc = _writer(workspace_url, "k", 100_000)
    _go(proc)
    committed = -1
    deadline = time.time() + 120
    while committed < 150 and time.time() < deadline:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()[-2000:]
        if line.strip().isdigit():
            committed = int(line)
    proc.send_signal(signal.SIGKILL)  # while it is in the middle of the next write
    proc.wait(30)
    for line in proc.stdout.read().split():  # commits that finished before the kill but were not read yet
        if line.isdigit():
            committed = max(committed, int(line))
    with Workspace.open(workspace_url) as ws:
        got = {int(r.median_ms) for r in ws.measurements(design="k")}
    assert set(range(committed + 1)) <= got
    assert len(got) <= committed + 2  # at most the one write that was under way


def _set_revision(url: str, revision: str) -> None:
    eng = create_engine(url if "://" in url else f"sqlite:///{url}")
    with eng.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    eng.dispose()


def _digest(url: str) -> str:
    if "://" not in url:
        return hashlib.sha256(Path(url).read_bytes()).hexdigest()
    eng = create_engine(url)
    with eng.connect() as c:
        rows = (
            c.execute(text("SELECT version_num FROM alembic_version")).all()
            + c.execute(text("SELECT uid, design_yaml FROM designs ORDER BY id")).all()
        )
    eng.dispose()
    return repr(rows)


def test_newer_schema_is_refused_and_left_alone(workspace_url):
    with Workspace.open(workspace_url) as ws:
        ws.save_design("mine", load_preset("mixnet-s"))
    _set_revision(workspace_url, "9999_from_the_future")
    before = _digest(workspace_url)
    with pytest.raises(NewerWorkspaceError) as e:
        Workspace.open(workspace_url)
    msg = str(e.value)
    assert "9999_from_the_future" in msg and "newer mixnet-designer" in msg and head_revision() in msg
    assert "left as it is" in msg and "\n" not in msg
    assert _digest(workspace_url) == before


def test_bad_design_row_is_reported_and_skipped(workspace_url):
    with Workspace.open(workspace_url) as ws:
        ws.save_design("good", load_preset("mixnet-s"))
        ws.save_design("broken", load_preset("mixnet-m"))
        ws.save_design("invalid", load_preset("mixnet-l"))
        with ws.engine.begin() as c:  # hand-edited rows: YAML that does not parse, a design that does not lower
            c.execute(text("UPDATE designs SET design_yaml = 'name: [unclosed' WHERE name = 'broken'"))
            c.execute(
                text("UPDATE designs SET design_yaml = :y WHERE name = 'invalid'"),
                {"y": TINY.read_text().replace("classes: 10", "classes: 0")},
            )
        loaded = ws.designs()
        assert [d.name for d in loaded.items] == ["good"]
        assert [(p.name, p.table) for p in loaded.problems] == [("broken", "designs"), ("invalid", "designs")]
        assert "not valid YAML" in str(loaded.problems[0]) and "classes=0" in str(loaded.problems[1])
        with pytest.raises(WorkspaceError, match="'broken' does not load"):
            ws.get_design("broken")
