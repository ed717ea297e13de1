"""Issue 12: a training run writes a consistent folder or nothing, and its messages claim only files that exist.

The CLI's folder handling (designer/cli/train.py, runtime/train/outdir.py) is driven with a stand-in for
runtime.train.train that writes what a real run writes up to the point it stops (fast; the real Ctrl-C path is
tests/test_train.py::test_ctrl_c_exits_130_with_files_intact).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.cli import main
from runtime.train.outdir import RUN_FILES, Staging, existing_files

TINY = str(Path(__file__).parent / "data" / "tiny.yaml")


def fake_train(epochs_before_stop: dict[str, int | None]):
    """train() stand-in: per design label, the epochs finished before a Ctrl-C (None: runs to the end)."""
    from runtime.train.loop import TrainResult

    def train(network, cfg, *, split=None, progress=True, **_):
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.cfg").write_text("cfg")
        (out / "labels.txt").write_text("0\n")
        label = out.name if out.name in epochs_before_stop else next(iter(epochs_before_stop))
        stop = epochs_before_stop[label]
        n = cfg.epochs if stop is None else stop
        history = [{"epoch": e} for e in range(1, n + 1)]
        if n:
            for f in ("best.weights", "best.pt", "metrics.csv"):
                (out / f).write_text(f"{label} epoch {n}")
            (out / "metrics.json").write_text(json.dumps({"history": history}))
        return TrainResult(
            history,
            0.5 if n else 0.0,
            n,
            stop is not None,
            out,
            out / "model.cfg",
            out / "best.weights",
            out / "best.pt",
            out / "metrics.csv",
            out / "metrics.json",
            interrupted=stop is not None,
        )

    return train


@pytest.fixture
def fake(monkeypatch):
    def use(stops):
        monkeypatch.setattr("runtime.train.train", fake_train(stops))

    return use


def train_cli(*extra: str) -> list[str]:
    return ["train", TINY, "--size", "16", "--epochs", "3", "--no-progress", "--threads", "1", *extra]


def test_ctrl_c_before_the_first_epoch_leaves_nothing(tmp_path, fake, capsys):
    fake({"tiny": 0})
    out = tmp_path / "run"
    assert main(train_cli("--out", str(out))) == 130
    err = capsys.readouterr().err
    assert "nothing written" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_ctrl_c_after_an_epoch_moves_a_consistent_run_into_place(tmp_path, fake, capsys):
    fake({"tiny": 2})
    out = tmp_path / "run"
    assert main(train_cli("--out", str(out))) == 130
    err = capsys.readouterr().err
    assert f"{out}/ (model.cfg, labels.txt, best.weights, best.pt, metrics.csv, metrics.json; epochs 1-2" in err
    assert sorted(existing_files(out)) == sorted(RUN_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no hidden partial folder left


def test_final_message_lists_only_files_that_exist(tmp_path, fake, capsys):
    fake({"tiny": None})
    out = tmp_path / "run"
    assert main(train_cli("--out", str(out))) == 0
    msg = capsys.readouterr().out
    assert f"wrote {out}/ (model.cfg, labels.txt, best.weights, best.pt, metrics.csv, metrics.json)" in msg


def test_non_empty_out_is_refused_unless_overwrite(tmp_path, fake, capsys):
    fake({"tiny": None})
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.weights").write_text("old run")
    assert main(train_cli("--out", str(out))) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--overwrite" in err and err.count("\n") == 1
    assert (out / "best.weights").read_text() == "old run"
    fake({"tiny": 0})  # a stopped --overwrite run leaves the old folder as it was
    assert main(train_cli("--out", str(out), "--overwrite")) == 130
    assert (out / "best.weights").read_text() == "old run" and "nothing written" in capsys.readouterr().err
    fake({"tiny": None})
    assert main(train_cli("--out", str(out), "--overwrite")) == 0
    assert (out / "best.weights").read_text() == "tiny epoch 3" and sorted(existing_files(out)) == sorted(RUN_FILES)


def test_compare_stopped_in_the_first_design_says_the_second_was_not_trained(tmp_path, fake, capsys):
    fake({"tiny-a": 1, "tiny-b": None})
    out = tmp_path / "cmp"
    assert main(train_cli("--compare", TINY, "--out", str(out))) == 130
    err = capsys.readouterr().err
    assert "interrupted during tiny-a" in err and "tiny-b was not trained" in err
    assert (out / "tiny-a" / "best.weights").exists() and not (out / "tiny-b").exists()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--epochs", "0"], "--epochs 0"),
        (["--batch", "0"], "--batch 0"),
        (["--lr", "-1"], "--lr -1"),
        (["--lr", "nan"], "--lr nan"),
        (["--val-fraction", "1"], "--val-fraction 1"),
    ],
)
def test_bad_training_values_are_refused_up_front(tmp_path, capsys, argv, needle):
    out = tmp_path / "run"
    assert main(train_cli("--out", str(out), *argv)) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_staging_refuses_a_file_and_an_empty_name(tmp_path):
    from designer.errors import OutputError

    (tmp_path / "f").write_text("x")
    for bad in (tmp_path / "f", ""):
        with pytest.raises(OutputError):
            Staging.begin(bad)
    stage = Staging.begin(tmp_path / "new")
    assert stage.work.is_dir() and stage.work.name == ".new.partial"
    stage.discard()
    assert list(p.name for p in tmp_path.iterdir()) == ["f"]
