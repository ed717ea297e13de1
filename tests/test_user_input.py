"""Issue 12: nothing a user types gives a traceback, a false claim or a half-written file (one test per case found).

Design values are checked where they enter (designer/limits.py, designer/api/sources.py), output paths are named
as the user gave them (designer/files.py), inputs are quoted as short excerpts (designer/errors.py).
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

import designer
from designer.cli import main
from designer.errors import MixdesignError
from designer.files import atomic_write_text, write_text


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)


# ------------------------------------------------------------------ design values


@pytest.mark.parametrize(
    "argv,needles",
    [
        (["--width-mult", "nan"], ["--width-mult", "not a finite number", "Fix:"]),
        (["--width-mult", "inf"], ["--width-mult", "not a finite number"]),
        (["--depth-mult", "nan"], ["--depth-mult", "not a finite number"]),
        (["--width-mult", "1e9"], ["above the maximum 4", "Fix:"]),
        (["--dw-group-size", "0"], ["--dw-group-size", "below the minimum 1"]),
        (["--dw-group-size", "1000"], ["--dw-group-size 1000", "300 channels", "Fix:"]),
        (["--size", "100000"], ["--size", "above the maximum 4096"]),
        (["--size", "7"], ["--size", "below the minimum 8"]),
        (["--classes", "0"], ["--classes", "below the minimum 1"]),
    ],
)
@pytest.mark.parametrize("command", ["stats", "export"])
def test_bad_design_values_are_one_line_errors(tmp_path, capsys, command, argv, needles):
    extra = ["-o", str(tmp_path / "x.cfg")] if command == "export" else []
    code, _, err = run(capsys, command, "mixnet-s", *extra, *argv)
    one_line_error(code, err, *needles)
    assert not (tmp_path / "x.cfg").exists()


def test_design_yaml_values_are_checked_in_validate():
    base = designer.load_preset("mixnet-s")
    from dataclasses import replace

    for bad, where in (
        (replace(base, width_mult=float("nan")), "width multiplier nan"),
        (replace(base, depth_mult=float("inf")), "depth multiplier inf"),
        (replace(base, width_mult=1e9), "above the maximum"),
        (replace(base, input_size=100000), "input size 100000"),
    ):
        issues = designer.validate(bad)
        assert issues and where in issues[0].message and issues[0].fix
        with pytest.raises(designer.DesignError):
            designer.lower(bad)


def test_train_size_7_is_refused_like_stats(capsys):
    for command in ("stats", "train", "bench", "bundle"):
        extra = ["-o", "never-written"] if command == "bundle" else []
        code, _, err = run(capsys, command, "mixnet-s", "--size", "7", *extra)
        one_line_error(code, err, "--size", "below the minimum 8")
    assert not Path("never-written").exists()


def test_train_keeps_the_design_header():
    from designer.edits import prepare_network

    net = designer.lower(designer.load_preset("mixnet-s"))
    trained = prepare_network(net, 64, 10)
    assert trained.design and designer.load_yaml(trained.design).input_size == 64
    with pytest.raises(designer.DesignError, match="total stride"):
        prepare_network(net, 16, 10)  # used to fall back to a plain cfg without the header


# ------------------------------------------------------------------ memory estimate


def test_memory_estimate_refuses_with_the_figure(capsys):
    pytest.importorskip("torch")
    code, _, err = run(capsys, "bench", "mixnet-m", "--batch", "100000")
    one_line_error(code, err, "needs about", "TB", "is free", "--batch")


def test_memory_estimate_counts_training_more():
    from designer.memory import check_fits, estimate

    net = designer.lower(designer.load_preset("mixnet-s"))
    inf, tr = estimate(net, 8), estimate(net, 8, training=True)
    assert tr.activation_bytes == 3 * inf.activation_bytes and tr.params_bytes == 4 * inf.params_bytes
    assert inf.activation_bytes == 8 * 4 * (3 * 224 * 224 + sum(lc.shape.outputs for lc in designer.count(net).layers))
    with pytest.raises(MixdesignError, match="training at batch 8"):
        check_fits(net, 8, training=True, limit=inf.total)
    check_fits(net, 8, limit=inf.total)


# ------------------------------------------------------------------ files and messages


def test_atomic_write_keeps_mode_and_follows_umask(tmp_path):
    p = tmp_path / "a.cfg"
    old = os.umask(0o022)
    try:
        atomic_write_text(p, "x")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        p.chmod(0o640)
        atomic_write_text(p, "y")
        assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_text() == "y"
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.cfg", "z")
        assert stat.S_IMODE((tmp_path / "b.cfg").stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    "target,needle", [("DIR", "is a folder"), ("", "empty output path"), ("FILE/x.cfg", "is a file, not a folder")]
)
def test_output_errors_name_the_users_path(tmp_path, capsys, target, needle):
    (tmp_path / "file.cfg").write_text("keep")
    path = {"DIR": str(tmp_path), "": "", "FILE/x.cfg": str(tmp_path / "file.cfg" / "x.cfg")}[target]
    code, _, err = run(capsys, "export", "mixnet-s", "-o", path)
    one_line_error(code, err, needle)
    assert ".tmp" not in err and "Errno" not in err and (path in err or not path)
    assert (tmp_path / "file.cfg").read_text() == "keep"
    with pytest.raises(MixdesignError):
        write_text(path, "x")


@pytest.mark.parametrize("content", ["x" * 2_000_000, "\0" * 2000, "[net]\nwidth=" + "9" * 100_000 + "\n"])
@pytest.mark.parametrize("command", ["stats", "lint"])
def test_errors_quote_a_short_excerpt(tmp_path, capsys, content, command):
    p = tmp_path / "big.cfg"
    p.write_text(content)
    code, out, err = run(capsys, command, str(p))
    assert code in (1, 2) and "Traceback" not in err
    assert len(out) + len(err) < 600 and "characters)" in out + err


def test_lint_missing_file_and_presets(capsys):
    code, _, err = run(capsys, "lint", "missing.cfg")
    one_line_error(code, err, "missing.cfg: no such file")
    assert "line 0" not in err
    code, out, _ = run(capsys, "lint", "mixnet-s")
    assert code == 0 and "clean" in out


def test_export_accepts_a_cfg(tmp_path, capsys):
    src = tmp_path / "m.cfg"
    assert run(capsys, "export", "mixnet-s", "-o", str(src))[0] == 0
    code, _, err = run(capsys, "export", str(src), "-o", str(tmp_path / "w.cfg"), "--width-mult", "0.5")
    assert code == 0 and "note: row 9" in err
    assert designer.load_yaml(designer.parse_cfg(tmp_path / "w.cfg").design).width_mult == 0.5


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("mixdesign ")


# ------------------------------------------------------------------ predict inputs


@pytest.fixture
def classifier(tmp_path):
    torch = pytest.importorskip("torch")
    from PIL import Image

    from runtime import build_model, save_weights

    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        "[net]\nwidth=12\nheight=10\nchannels=3\n\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
        "\n[avgpool]\n\n[softmax]\n"
    )
    torch.manual_seed(0)
    save_weights(build_model(designer.parse_cfg(cfg)), tmp_path / "c.weights")
    Image.new("RGB", (12, 10), (10, 200, 30)).save(tmp_path / "i.png")
    return cfg, tmp_path / "c.weights", tmp_path / "i.png"


def test_predict_labels_and_top_are_checked(classifier, tmp_path, capsys):
    cfg, w, img = classifier
    base = ["predict", str(cfg), str(img), "--weights", str(w)]
    one_line_error(*run(capsys, *base, "--labels", str(tmp_path / "nope.txt"))[::2], "--labels", "no such file")
    (tmp_path / "many.txt").write_text("a\nb\nc\nd\ne\n")
    one_line_error(*run(capsys, *base, "--labels", str(tmp_path / "many.txt"))[::2], "5 labels for 4 outputs")
    one_line_error(*run(capsys, *base, "--top", "0")[::2], "--top 0")
    (tmp_path / "ok.txt").write_text("a\nb\nc\nd\n")
    code, out, _ = run(capsys, *base, "--labels", str(tmp_path / "ok.txt"), "--top", "2")
    assert code == 0 and len(out.splitlines()) == 2


def test_app_jobs_refuse_what_does_not_fit(monkeypatch):
    from designer.memory import MemoryEstimateError
    from designer.webapp import jobs, workers

    monkeypatch.setattr("designer.machine.host_free_bytes", lambda: 10**6)  # a machine with 1 MB free
    work = workers.bench_work(designer.lower(designer.load_preset("mixnet-s")), "s", {"device": "cpu", "batch": 1})
    with pytest.raises(MemoryEstimateError, match="is free"):
        work(jobs.Job(id="t", kind="bench", label="s"))


def _limit_between_inference_and_training(net, batch: int) -> int:
    """Host memory free such that inference at `batch` fits and a training step does not (the check keeps
    designer.memory.HEADROOM of it)."""
    from designer.memory import HEADROOM, estimate

    return int((estimate(net, batch).total + estimate(net, batch, training=True).total) / 2 / HEADROOM)


@pytest.fixture()
def fake_gpu(monkeypatch):
    """A CUDA device cuda:0 with 1 MB free, on a host with plenty of RAM (what torch would report)."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=None: (10**6, 8 * 10**9))
    monkeypatch.setattr("designer.machine.host_free_bytes", lambda: 10**12)


def test_memory_check_compares_cuda_with_the_devices_own_memory(fake_gpu):
    from designer.memory import MemoryEstimateError, check_fits

    net = designer.lower(designer.load_preset("mixnet-s"))
    check_fits(net, 1)  # 1 TB of RAM: fits on the CPU
    with pytest.raises(MemoryEstimateError, match="of memory on cuda:0 is free"):
        check_fits(net, 1, device="cuda:0")


def test_bench_on_cuda_is_refused_by_the_devices_memory(fake_gpu, capsys):
    one_line_error(
        *run(capsys, "bench", "mixnet-s", "--device", "cuda")[::2],
        "needs about",
        "of memory on cuda:0 is free",
        "--batch",
    )


def test_app_training_step_job_is_checked_with_the_training_estimate(monkeypatch):
    from designer.memory import MemoryEstimateError
    from designer.webapp import jobs, workers

    net = designer.lower(designer.load_preset("mixnet-s"))
    monkeypatch.setattr("designer.machine.host_free_bytes", lambda: _limit_between_inference_and_training(net, 8))
    work = workers.bench_work(net, "s", {"device": "cpu", "batch": 8, "mode": "train", "threads": 1})
    with pytest.raises(MemoryEstimateError, match="training at batch 8"):
        work(jobs.Job(id="t", kind="bench", label="s"))


@pytest.mark.parametrize("kind", ["infer", "train"])
def test_sweep_trials_are_checked_before_anything_is_built(monkeypatch, kind):
    """runtime.explore.run_trial (sweeps, Explore, Ray tasks): a training step that would not fit is refused
    with the training estimate (`sweep --vary size=4096 --measure train`), before torch allocates."""
    pytest.importorskip("torch")
    from designer.cfg import emit_cfg
    from designer.memory import MemoryEstimateError
    from runtime.explore import run_trial

    net = designer.lower(designer.load_yaml(Path(__file__).parent / "data" / "tiny.yaml"))
    monkeypatch.setattr("designer.machine.host_free_bytes", lambda: _limit_between_inference_and_training(net, 2))
    settings = {"device": "cpu", "batch": 2, "dtype": "fp32", "threads": 1, "min_run_time": 0.01}
    if kind == "train":
        with pytest.raises(MemoryEstimateError, match="training at batch 2"):
            run_trial(emit_cfg(net), "train", settings)
    else:
        assert run_trial(emit_cfg(net), "infer", settings)["runs"] >= 5  # inference fits the same memory
    big = emit_cfg(designer.lower(dataclasses.replace(designer.load_preset("mixnet-s"), input_size=4096)))
    with pytest.raises(MemoryEstimateError, match="needs about"):
        run_trial(big, kind, {**settings, "batch": 8})
