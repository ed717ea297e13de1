"""runtime.train: preparing a network for the data, a short run, its files, reload as .weights, interruption, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import designer
from designer.cli import main as mixdesign
from designer.edits import prepare_network
from designer.errors import MixdesignError
from runtime import build_model, load_weights
from runtime.train import TrainConfig, train
from runtime.train.checkpoints import METRIC_COLUMNS, read_metrics_csv
from runtime.train.data import load_dataset
from tests.conftest import REPO, TINY_YAML

TINY = TINY_YAML


@pytest.fixture(scope="module")
def tiny() -> designer.Arch:
    return designer.load_yaml(TINY)


@pytest.fixture(scope="module")
def split():
    return load_dataset("digits", 16, 3, 0.2, 0)


def _cfg(tmp_path: Path, **kw) -> TrainConfig:
    return TrainConfig(**{"size": 16, "epochs": 2, "batch": 64, "out_dir": str(tmp_path / "run"), "threads": 2, **kw})


# ------------------------------------------------------------------ prepare_network


def test_prepare_network_from_design(tiny):
    net = prepare_network(tiny, 32, 3)
    assert net.input_shape == (3, 32, 32)
    assert designer.infer_shapes(net)[-1].outputs == 3
    assert designer.load_yaml(net.design).classes == 3  # the carried design stays true


def test_prepare_network_from_plain_cfg(tiny):
    plain = designer.parse_cfg(designer.emit_cfg(designer.lower(tiny, with_design=False)))
    net = prepare_network(plain, 32, 4)
    assert net.net["width"] == net.net["height"] == 32 and net.design is None
    assert net.layers[-2].type == "convolutional" and net.layers[-2]["filters"] == 4
    assert prepare_network(designer.lower(tiny), 32, 4).layers == net.layers  # same IR by both routes


DARKNET19_TAIL = """[net]
width=32
height=32
channels=3
[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=leaky
[convolutional]
filters=1000
size=1
stride=1
pad=1
activation=linear
{tail}
"""


def test_prepare_network_darknet19_style_and_errors():
    net = prepare_network(designer.parse_cfg(DARKNET19_TAIL.format(tail="[avgpool]\n[softmax]")), 16, 5)
    assert net.layers[1]["filters"] == 5 and designer.infer_shapes(net)[-1].outputs == 5
    with pytest.raises(MixdesignError, match="does not end in \\[softmax\\]"):
        prepare_network(designer.parse_cfg(DARKNET19_TAIL.format(tail="[avgpool]")), 16, 5)
    with pytest.raises(MixdesignError, match="add an \\[avgpool\\]"):
        prepare_network(designer.parse_cfg(DARKNET19_TAIL.format(tail="[softmax]")), 16, 5)
    with pytest.raises(MixdesignError, match="two or more"):
        prepare_network(designer.parse_cfg(DARKNET19_TAIL.format(tail="[avgpool]\n[softmax]")), 16, 1)


# ------------------------------------------------------------------ a short run and its files


@pytest.fixture(scope="module")
def run(tiny, split, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    rows: list[dict] = []
    result = train(designer.lower(tiny), _cfg(out, epochs=3), split=split, progress=False, on_epoch=rows.append)
    return result, rows


def test_loss_goes_down_and_metrics_are_written(run):
    result, rows = run
    assert [r["epoch"] for r in rows] == [1, 2, 3] and not result.stopped
    assert set(rows[0]) == set(METRIC_COLUMNS)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[-1]["val_loss"] < rows[0]["val_loss"]
    assert result.best_top1 == max(r["val_top1"] for r in rows) > 0.3
    csv_rows = read_metrics_csv(result.metrics_csv)
    assert [r["epoch"] for r in csv_rows] == [1, 2, 3]
    assert csv_rows[-1]["val_top1"] == pytest.approx(rows[-1]["val_top1"])
    meta = json.loads(result.metrics_json.read_text())
    assert meta["finished"] and meta["best_epoch"] == result.best_epoch and len(meta["history"]) == 3
    assert meta["classes"] == list(result.classes)
    # the trained cfg is what darknet reads, and labels.txt is darknet's labels file
    assert designer.parse_cfg(result.cfg_path.read_text()).layers[-1].type == "softmax"
    assert (result.out_dir / "labels.txt").read_text().split() == list(result.classes)


def test_weights_checkpoint_reloads_with_identical_outputs(run):
    result, _ = run
    net = designer.parse_cfg(result.cfg_path.read_text())
    from_weights = load_weights(build_model(net), result.weights_path)
    from_state = build_model(net)
    ck = torch.load(result.state_path, weights_only=False)
    from_state.load_state_dict(ck["state_dict"])
    assert ck["epoch"] == result.best_epoch and ck["classes"] == list(result.classes)
    x = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = from_weights(x), from_state(x)
    assert torch.equal(a, b)
    assert torch.allclose(a.flatten(1).sum(1), torch.ones(5))  # the full network ends in the softmax


def _assert_files_intact(out: Path, epochs: int) -> None:
    rows = read_metrics_csv(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["finished"] is False and meta["stopped"] is True and len(meta["history"]) == epochs
    net = designer.parse_cfg((out / "model.cfg").read_text())
    load_weights(build_model(net), out / "best.weights")  # raises unless the file is whole
    torch.load(out / "best.pt", weights_only=False)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_training_restores_torchs_thread_count(tiny, split, tmp_path):
    """Quick-train runs in the app's process: the thread count it sets must not outlive it (issue 16)."""
    torch.set_num_threads(2)
    try:
        stop = threading.Event()
        train(
            designer.lower(tiny),
            _cfg(tmp_path, epochs=3, threads=1),
            split=split,
            progress=False,
            stop=stop,
            on_epoch=lambda row: stop.set(),
        )
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_stop_event_ends_cleanly(tiny, split, tmp_path):
    stop = threading.Event()
    result = train(
        designer.lower(tiny),
        _cfg(tmp_path, epochs=5),
        split=split,
        progress=False,
        stop=stop,
        on_epoch=lambda row: stop.set(),
    )
    assert result.stopped and not result.interrupted and len(result.history) == 1
    _assert_files_intact(result.out_dir, 1)


def test_keyboard_interrupt_keeps_last_checkpoint(tiny, split, tmp_path):
    def on_epoch(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    result = train(designer.lower(tiny), _cfg(tmp_path, epochs=5), split=split, progress=False, on_epoch=on_epoch)
    assert result.stopped and result.interrupted and len(result.history) == 2
    _assert_files_intact(result.out_dir, 2)


# ------------------------------------------------------------------ command line


def test_ctrl_c_exits_130_with_files_intact(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}  # SIGABRT prints every thread's stack
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.train",
            str(tmp_path / "tiny.yaml"),
            "--size",
            "16",
            "--epochs",
            "500",
            "--threads",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches a foreground job whose SIGINT is not ignored; a suite started in the background (nohup,
        # `&` in a script) passes SIGINT ignored to its children, so the run is given the terminal's default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        staged = tmp_path / ".run.partial"  # the run writes into a hidden sibling until it ends (issue 12)
        while not (staged / "metrics.csv").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # say where it hangs and whether it ignores SIGINT, then fail
            ignored = (Path(f"/proc/{proc.pid}/status").read_text().split("SigIgn:")[1].split() or ["?"])[0]
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            pytest.fail(
                f"still running 60 s after SIGINT (ignored signals mask {ignored}); its threads:\n{err[-6000:]}"
            )
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert f"{out}/ (model.cfg, labels.txt, best.weights" in err and not staged.exists()
    rows = read_metrics_csv(out / "metrics.csv")
    assert rows and json.loads((out / "metrics.json").read_text())["history"]


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    cases = [
        (["train", "no-such-preset"], "neither a .cfg"),
        (["train", str(tmp_path / "tiny.yaml"), "--data", str(tmp_path / "missing")], "no such file or folder"),
    ]
    plain = tmp_path / "plain.cfg"
    plain.write_text(DARKNET19_TAIL.format(tail="[avgpool]"))
    cases.append((["train", str(plain)], "does not end in [softmax]"))
    cases.append((["train", str(plain), "--width-mult", "0.5"], "--width-mult needs a design"))
    for argv, text in cases:
        assert mixdesign(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and text in err, err


def test_compare_trains_both_on_the_same_split(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "wide.yaml").write_text(TINY.replace("name: tiny", "name: wide").replace("c24", "c32"))
    argv = [
        "train",
        str(tmp_path / "tiny.yaml"),
        "--compare",
        str(tmp_path / "wide.yaml"),
        "--size",
        "16",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "cmp"),
        "--no-progress",
        "--threads",
        "2",
    ]
    assert mixdesign(argv) == 0
    out = capsys.readouterr().out
    table = out[out.index("design") :]
    assert "tiny" in table and "wide" in table and "best val top-1" in table and "params" in table
    a = json.loads((tmp_path / "cmp" / "tiny" / "metrics.json").read_text())
    b = json.loads((tmp_path / "cmp" / "wide" / "metrics.json").read_text())
    assert a["val_images"] == b["val_images"] and a["config"]["seed"] == b["config"]["seed"]


def test_command_module_does_not_import_torch():
    # mixdesign registers train/bundle at start-up: that must not pull in torch (runtime/__init__ is lazy)
    code = (
        "import sys, designer.cli, designer.cli.train, runtime.bundle, runtime.train.data; "
        "designer.cli.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_design_overrides_reach_the_trained_cfg(tiny, split, tmp_path):
    wide = replace(tiny, width_mult=2.0)
    result = train(designer.lower(wide), _cfg(tmp_path, epochs=1), split=split, progress=False)
    trained = designer.parse_cfg(result.cfg_path.read_text())
    assert trained.layers[0]["filters"] == 16 and trained.input_shape == (3, 16, 16)
