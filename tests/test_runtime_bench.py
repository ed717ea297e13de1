"""runtime.bench.measure (the API the Streamlit app calls) and the `mixdesign bench` / `predict` commands.

Small inputs and short timing windows: these check the figures' bookkeeping, never their values.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import designer
from designer.cfg import emit_cfg, with_net
from designer.cli import main
from designer.machine import DeviceError, fingerprint, usable_cores
from designer.noise import MIN_RUNS
from runtime import build_model, save_weights
from runtime.bench import BenchError, measure
from tests.conftest import TINY_YAML

KEYS = {"device", "device_name", "threads", "batch", "dtype", "optimized", "channels_last", "median_ms", "iqr_ms",
        "fma", "fma_per_s", "per_layer", "mode", "params", "backend", "execution",
        "runs", "load_before", "load_during", "unstable", "machine"}  # fmt: skip
LAYER_KEYS = {"index", "type", "ms", "time_share", "fma", "fma_share"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_allocator_tuning(monkeypatch):
    # `mixdesign bench` raises glibc's mmap threshold for its own process; not for the whole test session
    monkeypatch.setattr("runtime.bench.tune_cpu_allocator", lambda: True)


@pytest.fixture(scope="module")
def small() -> designer.Network:
    return with_net(designer.lower(designer.load_preset("mixnet-s")), width=32, height=32)


@pytest.fixture(scope="module")
def tiny() -> designer.Network:
    """Two block rows with a mixconv (two kernel groups: route/split in the plain build) and squeeze-excite: every
    per-layer row kind, in far fewer steps than mixnet-s (per_layer times each step alone, twice)."""
    return designer.lower(designer.load_yaml(TINY_YAML))


@pytest.mark.parametrize("optimized", [False, True])
def test_measure_json(small: designer.Network, optimized: bool) -> None:
    r = measure(small, batch=2, optimized=optimized, threads=1, min_run_time=0.05)
    d = json.loads(json.dumps(r.to_json()))
    assert set(d) == KEYS
    assert d["device"] == "cpu" and d["threads"] == 1 and d["batch"] == 2 and d["dtype"] == "fp32"
    assert d["optimized"] is optimized and d["per_layer"] is None
    assert d["channels_last"] is True  # unset on CPU: NHWC, the faster layout there (default_channels_last)
    assert d["fma"] == 2 * designer.count(small).fma
    assert d["median_ms"] > 0 and d["iqr_ms"] >= 0
    assert d["fma_per_s"] == pytest.approx(d["fma"] / (d["median_ms"] / 1e3))
    assert isinstance(d["device_name"], str) and d["device_name"]
    assert d["runs"] >= MIN_RUNS and d["machine"] == fingerprint("cpu").to_json()
    assert 0 <= d["load_before"] <= usable_cores() and 0 <= d["load_during"] <= usable_cores()


def test_measure_keeps_an_explicit_memory_format(small: designer.Network) -> None:
    assert measure(small, threads=1, min_run_time=0.05, channels_last=False).channels_last is False
    assert measure(small, threads=1, min_run_time=0.05, channels_last=True).channels_last is True


@pytest.mark.parametrize("optimized", [False, True])
def test_measure_per_layer(tiny: designer.Network, optimized: bool) -> None:
    r = measure(tiny, optimized=optimized, threads=1, per_layer=True, min_run_time=0.05, channels_last=optimized)
    rows = r.to_json()["per_layer"]
    assert rows and all(set(row) == LAYER_KEYS for row in rows)
    assert [row["ms"] for row in rows] == sorted((row["ms"] for row in rows), reverse=True)
    assert sum(row["time_share"] for row in rows) == pytest.approx(1.0)
    assert sum(row["fma"] for row in rows) == designer.count(tiny).fma
    assert sum(row["fma_share"] for row in rows) == pytest.approx(1.0)
    types = {row["type"] for row in rows}
    assert ("mixconv" in types) is optimized and ("route" in types) is not optimized


def test_measure_bf16_and_fp16_on_cpu(small: designer.Network) -> None:
    r = measure(small, dtype="bf16", threads=1, min_run_time=0.05)
    assert r.dtype == "bf16" and r.median_ms > 0
    try:
        r = measure(small, dtype="fp16", threads=1, min_run_time=0.05, optimized=False)
    except BenchError as e:  # depends on the CPU and the torch build
        assert "fp16 convolution is not supported on CPU" in str(e)
    else:
        assert r.dtype == "fp16"


def test_measure_refuses_cuda_without_cuda(small: designer.Network) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here (tests/test_runtime_gpu.py measures on it)")
    for device in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(DeviceError, match="no CUDA device"):
            measure(small, device=device)


def test_measure_refuses_a_bad_thread_count(small: designer.Network) -> None:
    with pytest.raises(BenchError, match="thread count -1 is below the minimum 1"):
        measure(small, threads=-1)


def test_measure_restores_thread_count(small: designer.Network) -> None:
    torch.set_num_threads(2)
    r = measure(small, threads=1, min_run_time=0.02, optimized=False)
    assert r.threads == 1 and torch.get_num_threads() == 2


# ------------------------------------------------------------------ CLI


def test_bench_cli_json_and_table(capsys) -> None:
    args = ["bench", "mixnet-s", "--size", "32", "--threads", "1", "--min-run-time", "0.05"]
    assert main(args + ["--json", "--batch", "1,2", "--plain"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["batch"] for d in data] == [1, 2] and all(set(d) == KEYS for d in data)
    assert main(args + ["--per-layer", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "median ms" in out and "slowest layers" in out and "mixconv" in out
    head = next(ln for ln in out.splitlines() if "median ms" in ln).split()
    assert "runs" in head and "load before/during" in " ".join(head)
    assert "machine: " in out and fingerprint("cpu").describe() in out


def test_bench_cli_warns_when_unstable(capsys, monkeypatch) -> None:
    """A verdict is printed with pyperf's words, and stays in --json (the load is made up: two busy cores)."""
    monkeypatch.setattr("designer.load.busy_cores", lambda sample_s=0.05: 2.0)
    args = ["bench", "mixnet-s", "--size", "32", "--threads", "2", "--min-run-time", "0.02"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "WARNING: batch 1: the benchmark may be unstable: " in out and "other processes kept 2.0 of" in out
    assert main(args + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["load_before"] == 2.0 and "other processes kept 2.0 of" in d["unstable"]


@pytest.mark.parametrize("argv,message", [
    (["bench", "missing.cfg"], "missing.cfg: no such file"),
    (["bench", "no-such-preset"], "neither a .cfg"),
    (["bench", "mixnet-s", "--device", "cuda"] if not torch.cuda.is_available() else ["bench", "x.yaml"],
     "no CUDA device" if not torch.cuda.is_available() else "x.yaml: no such file"),
    (["bench", "mixnet-s", "--threads", "-1"], "--threads: thread count -1 is below the minimum 1"),
    (["bench", "mixnet-s", "--threads", "0"], "--threads: thread count 0 is below the minimum 1"),
    (["bench", "mixnet-s", "--threads", "5000"], "above the maximum 1024"),
    (["predict", "mixnet-s", "x.png", "--weights", "w", "--threads", "-1"], "below the minimum 1"),
    (["sweep", "mixnet-s", "--vary", "size=32", "--threads", "-2"], "below the minimum 1"),
    (["bench", "mixnet-s", "--device", "gpu"], "device 'gpu': use cpu, cuda or cuda:N"),
    (["bench", "mixnet-s", "--execution", "cuda-graph"], "execution cuda-graph needs a CUDA device"),
])  # fmt: skip
def test_bench_cli_errors(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_cfg_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.cfg").write_text("[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nactivation=nope\n")
    assert main(["bench", str(tmp_path / "bad.cfg")]) == 2
    err = capsys.readouterr().err
    assert "unknown activation" in err and err.count("\n") == 1


CLASSIFIER = """[net]
width=12
height=10
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[avgpool]

[convolutional]
filters=4
size=1
activation=linear

[softmax]
"""


@pytest.fixture
def classifier(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    cfg, weights, labels, image = (tmp_path / n for n in ("c.cfg", "c.weights", "labels.txt", "img.png"))
    cfg.write_text(CLASSIFIER)
    torch.manual_seed(0)
    model = build_model(designer.parse_cfg(cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    save_weights(model, weights)
    labels.write_text("cat\ndog\nbird\nfish\n")
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(image)
    return cfg, weights, labels, image


def test_predict_prints_darknet_top_k(classifier, capsys) -> None:
    cfg, weights, labels, image = classifier
    assert (
        main(["predict", str(cfg), "--weights", str(weights), str(image), "--labels", str(labels), "--top", "3"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"\s?\d{1,3}\.\d\d%: (cat|dog|bird|fish)", ln) for ln in lines)
    # the same prediction computed here: PIL resize to the net input, RGB, /255, CHW
    from PIL import Image

    from runtime import load_weights

    model = load_weights(build_model(designer.parse_cfg(cfg)), weights)
    arr = np.asarray(Image.open(image).convert("RGB").resize((12, 10), Image.BILINEAR), dtype=np.float32) / 255
    with torch.no_grad():
        probs = model(torch.from_numpy(arr.transpose(2, 0, 1).copy())[None]).flatten()
    best = int(probs.argmax())
    assert lines[0] == f"{100 * float(probs[best]):5.2f}%: {['cat', 'dog', 'bird', 'fish'][best]}"


def test_predict_short_weights_is_one_line(classifier, tmp_path: Path, capsys) -> None:
    cfg, weights, _, image = classifier
    short = tmp_path / "short.weights"
    short.write_bytes(weights.read_bytes()[:-12])
    assert main(["predict", str(cfg), "--weights", str(short), str(image)]) == 2
    err = capsys.readouterr().err
    assert "too short" in err and "layer 2 [convolutional]" in err and err.count("\n") == 1


def test_predict_missing_image(classifier, capsys) -> None:
    cfg, weights, _, _ = classifier
    assert main(["predict", str(cfg), "--weights", str(weights), "nope.png"]) == 2
    assert "nope.png: cannot read the image" in capsys.readouterr().err


def test_tune_cpu_allocator_in_a_fresh_process() -> None:
    code = "from runtime.bench import tune_cpu_allocator; print(tune_cpu_allocator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("True" if sys.platform == "linux" else out.strip())


def test_commands_module_does_not_import_torch() -> None:
    code = "import sys, designer.cli.bench, designer.cli; designer.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_sources_yaml_and_cfg(tmp_path: Path) -> None:
    from designer.api import load

    arch = designer.load_preset("mixnet-s")
    (tmp_path / "d.yaml").write_text(designer.dump_yaml(arch))
    net = load(str(tmp_path / "d.yaml"), size=64).network
    assert net.input_shape == (3, 64, 64)
    assert emit_cfg(net) == emit_cfg(designer.lower(dataclasses.replace(arch, input_size=64)))
    cfg = tmp_path / "n.cfg"
    cfg.write_text(emit_cfg(designer.lower(arch)))
    assert load(str(cfg), size=96).network.input_shape == (3, 96, 96)
