"""The Darknet training bundle: files, classes agreeing everywhere, darknet's label rule, the YOLO head, atomicity."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import designer
from designer.cli import main as mixdesign
from designer.edits import prepare_network
from designer.errors import MixdesignError
from designer.yolo_head import attach_yolo_head, backbone_end, scaled_tiny_anchors
from runtime.bundle import BundleOptions, write_bundle
from runtime.bundle.anchors import kmeans_anchors
from runtime.bundle.check import check_bundle
from runtime.bundle.data import label_path
from runtime.train.data import DataError, match_label, read_data_file

TINY = """\
name: tiny
input_size: 32
classes: 10
dropout: 0.1
stem: {channels: 8, kernel: 3, stride: 2, activation: relu}
head: {channels: 32, activation: relu}
blocks:
- ir_r1_k3.5_s2_e2_c16_se0.25_nsw
- ir_r1_k3_s2_e3_c24_nre
- ir_r1_k3.5_s2_e3_c32_nre
- ir_r1_k3_s2_e3_c40_nre
"""


@pytest.fixture(scope="module")
def tiny() -> designer.Arch:
    return designer.load_yaml(TINY)


@pytest.fixture(scope="module")
def classifier_bundle(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "cls"
    write_bundle(designer.lower(tiny), out, BundleOptions(size=32))
    return out


def _lines(p: Path) -> list[str]:
    return [s for s in p.read_text().splitlines() if s.strip()]


def test_classifier_bundle_files_and_consistency(classifier_bundle: Path, tiny):
    b = classifier_bundle
    for name in ("tiny.cfg", "tiny.data", "labels.txt", "train.txt", "valid.txt", "README.md", "bundle.json"):
        assert (b / name).is_file(), name
    assert (b / "backup").is_dir()
    assert check_bundle(b) == []
    opts = read_data_file(b / "tiny.data")
    labels = _lines(b / opts["labels"])
    assert int(opts["classes"]) == len(labels) == 10 and 1 <= int(opts["top"]) <= 10
    for key in ("train", "valid"):
        paths = _lines(b / opts[key])
        assert paths and all((b / p).is_file() for p in paths)
        assert all(len(match_label(p, tuple(labels))) == 1 for p in paths)  # darknet's fill_truth
    assert len(_lines(b / "train.txt")) + len(_lines(b / "valid.txt")) == 1797
    with Image.open(b / _lines(b / "train.txt")[0]) as im:
        assert im.size == (32, 32)


def test_classifier_cfg_reparses_and_counts_as_the_design(classifier_bundle: Path, tiny):
    net = designer.parse_cfg((classifier_bundle / "tiny.cfg").read_text())
    want = designer.count(prepare_network(tiny, 32, 10))
    got = designer.count(net)
    assert (got.params, got.params_stored, got.fma) == (want.params, want.params_stored, want.fma)
    n = net.net
    assert n["max_batches"] > 0 and n["batch"] == 64 and n["policy"] == "poly" and n["learning_rate"] > 0
    assert (n["width"], n["height"], n["min_crop"], n["max_crop"], n["flip"]) == (32, 32, 32, 32, 0)
    assert designer.infer_shapes(net)[-1].outputs == 10 and net.layers[-1].type == "softmax"


def test_readme_has_the_command_and_the_fork_caveat(classifier_bundle: Path):
    text = (classifier_bundle / "README.md").read_text()
    assert "darknet classifier train tiny.data tiny.cfg" in text
    assert "hank-ai" in text and "no longer trains" in text


def test_policy_steps_and_flags(tiny, tmp_path):
    out = tmp_path / "steps"
    write_bundle(
        designer.lower(tiny),
        out,
        BundleOptions(size=32, policy="steps", max_batches=500, batch=32, subdivisions=2, learning_rate=0.05),
    )
    n = designer.parse_cfg((out / "tiny.cfg").read_text()).net
    assert n["policy"] == "steps" and n["steps"] == (400, 450) and n["scales"] == (0.1, 0.1)
    assert (n["max_batches"], n["batch"], n["subdivisions"], n["learning_rate"]) == (500, 32, 2, 0.05)
    with pytest.raises(MixdesignError, match="multiple of subdivisions"):
        write_bundle(designer.lower(tiny), tmp_path / "bad", BundleOptions(size=32, batch=10, subdivisions=4))
    assert not (tmp_path / "bad").exists()


def test_ambiguous_labels_are_renamed(tiny, tmp_path):
    # folder names "1" and "11": "1" is inside "11" and inside every image index
    for k, name in enumerate(("1", "11")):
        for i in range(4):
            p = tmp_path / "imgs" / name / f"{i}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8, 3), 50 * k + i, np.uint8)).save(p)
    out = tmp_path / "b"
    write_bundle(designer.lower(tiny), out, BundleOptions(data=str(tmp_path / "imgs"), size=32))
    assert _lines(out / "labels.txt") == ["class0", "class1"]
    assert json.loads((out / "bundle.json").read_text())["renamed_labels"] == {"class0": "1", "class1": "11"}
    assert check_bundle(out) == []


def test_weights_are_checked_and_copied_with_seen_zeroed(tiny, tmp_path):
    net = prepare_network(tiny, 32, 10)
    stored = designer.count(net).params_stored
    w = tmp_path / "w.weights"
    w.write_bytes(struct.pack("<3iQ", 0, 2, 5, 12345) + np.arange(stored, dtype="<f4").tobytes())
    out = tmp_path / "b"
    write_bundle(designer.lower(tiny), out, BundleOptions(size=32, weights=str(w)))
    data = (out / "tiny.weights").read_bytes()
    assert data[20:] == w.read_bytes()[20:] and struct.unpack("<Q", data[12:20]) == (0,)
    assert check_bundle(out) == []
    w.write_bytes(w.read_bytes()[:-4])
    with pytest.raises(DataError, match="bytes, but the bundle's cfg stores"):
        write_bundle(designer.lower(tiny), tmp_path / "b2", BundleOptions(size=32, weights=str(w)))


def test_failure_leaves_nothing_behind(tiny, tmp_path):
    with pytest.raises(DataError):
        write_bundle(designer.lower(tiny), tmp_path / "x", BundleOptions(data=str(tmp_path / "none")))
    assert list(tmp_path.iterdir()) == []  # no bundle, no temp folder


def test_existing_folder_is_not_overwritten(classifier_bundle: Path, tiny):
    with pytest.raises(MixdesignError, match="already exists"):
        write_bundle(designer.lower(tiny), classifier_bundle)


def test_check_bundle_reports_inconsistencies(classifier_bundle: Path, tmp_path):
    import shutil

    b = tmp_path / "copy"
    shutil.copytree(classifier_bundle, b)  # paths inside are relative: the copy is a whole bundle
    assert check_bundle(b) == []
    data = (b / "tiny.data").read_text()
    (b / "tiny.data").write_text(data.replace("classes=10", "classes=9"))
    cfg = (b / "tiny.cfg").read_text()
    (b / "tiny.cfg").write_text(cfg.replace("max_batches=", "max_batches=0\n#", 1))
    (b / "train.txt").write_text((b / "train.txt").read_text() + "data/train/99999_digit3.png\n")
    problems = "\n".join(check_bundle(b))
    assert "classes=9" in problems and "max_batches" in problems and "99999_digit3.png does not exist" in problems


# ------------------------------------------------------------------ detector


def test_backbone_end_drops_the_classifier_head(tiny):
    net = designer.lower(designer.load_yaml(TINY.replace("input_size: 32", "input_size: 64")))
    end = backbone_end(net)
    tail = [L.type for L in net.layers[end + 1 :]]
    assert tail == ["convolutional", "avgpool", "dropout", "convolutional", "softmax"]


@pytest.mark.parametrize("classes, masks", [(3, ((3, 4, 5), (0, 1, 2))), (1, ((0, 1, 2),)), (7, ((2, 3), (0, 1)))])
def test_yolo_head_filters_rule(tiny, classes, masks):
    net = designer.lower(designer.load_yaml(TINY.replace("input_size: 32", "input_size: 64")))
    anchors = scaled_tiny_anchors(64)[: max(i for m in masks for i in m) + 1]
    det = attach_yolo_head(net, classes, anchors, masks)
    shapes = designer.infer_shapes(det)  # raises on a filters/classes mismatch or a route size mismatch
    yolos = [i for i, L in enumerate(det.layers) if L.type == "yolo"]
    assert len(yolos) == len(masks) and det.layers[-1].type == "yolo"
    for i, m in zip(yolos, masks):
        L = det.layers[i]
        assert L["classes"] == classes and L["mask"] == m and L["num"] == len(anchors)
        assert det.layers[i - 1]["filters"] == (classes + 5) * len(m) == shapes[i - 1].c
    if len(masks) == 2:
        assert shapes[yolos[1]].h == 2 * shapes[yolos[0]].h
    reparsed = designer.parse_cfg(designer.emit_cfg(det))
    assert reparsed.layers == det.layers
    with pytest.raises(MixdesignError, match="multiple of 32"):
        attach_yolo_head(designer.cfg.with_net(net, width=48, height=48), classes, anchors, masks)


def test_detector_bundle(tiny, tmp_path):
    out = tmp_path / "det"
    report = write_bundle(designer.lower(tiny), out, BundleOptions(detector=True, size=64, detector_images=40))
    assert report.kind == "detector" and check_bundle(out) == []
    opts = read_data_file(out / "tiny.data")
    names = _lines(out / opts["names"])
    net = designer.parse_cfg((out / "tiny.cfg").read_text())
    assert net.layers[-1].type == "yolo" and net.input_shape == (3, 64, 64)
    assert int(opts["classes"]) == len(names) == 10
    assert all(L["classes"] == 10 for L in net.layers if L.type == "yolo")
    assert net.net["max_batches"] > 0 and net.net["policy"] == "steps" and len(net.net["steps"]) == 2
    for p in _lines(out / "train.txt") + _lines(out / "valid.txt"):
        assert (out / p).is_file() and (out / label_path(p)).is_file()
    assert "darknet detector train tiny.data tiny.cfg" in (out / "README.md").read_text()


def test_detector_bundle_cli_and_errors(tiny, tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert (
        mixdesign(
            [
                "bundle",
                str(tmp_path / "tiny.yaml"),
                "-o",
                str(tmp_path / "d"),
                "--detector",
                "--size",
                "64",
                "--images",
                "30",
                "--masks",
                "0,1,2",
                "--anchors",
                "8,8,16,16,24,24",
            ]
        )
        == 0
    )
    net = designer.parse_cfg((tmp_path / "d" / "tiny.cfg").read_text())
    assert [L["mask"] for L in net.layers if L.type == "yolo"] == [(0, 1, 2)]
    capsys.readouterr()
    bad = [
        (["--detector", "--size", "48"], "multiple of 32"),
        (["--detector", "--classes", "3"], "--classes 3"),
        (["--detector", "--data", str(tmp_path)], "needs boxes"),
    ]
    for extra, text in bad:
        assert (
            mixdesign(["bundle", str(tmp_path / "tiny.yaml"), "-o", str(tmp_path / "e"), "--images", "10", *extra]) == 2
        )
        err = capsys.readouterr().err
        assert text in err and err.count("\n") == 1
    assert not (tmp_path / "e").exists()


def test_kmeans_anchors_sorted_by_area():
    rng = np.random.default_rng(0)
    wh = np.concatenate([rng.normal(s, 1, (50, 2)) for s in (5, 10, 20, 30, 40, 60)])
    anchors = kmeans_anchors(np.abs(wh) + 1, 6)
    areas = [w * h for w, h in anchors]
    assert areas == sorted(areas) and len(anchors) == 6


def test_detector_bundle_takes_the_quick_trained_backbone(tiny, tmp_path):
    trained = prepare_network(tiny, 32, 10)  # what `mixdesign train` leaves in its out dir
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.cfg").write_text(designer.emit_cfg(trained))
    stored = designer.count(trained).params_stored
    (run / "best.weights").write_bytes(struct.pack("<3iQ", 0, 2, 5, 999) + np.ones(stored, "<f4").tobytes())
    out = tmp_path / "det"
    report = write_bundle(
        designer.lower(tiny),
        out,
        BundleOptions(detector=True, size=64, detector_images=20, weights=str(run / "best.weights")),
    )
    end = backbone_end(designer.lower(designer.load_yaml(TINY.replace("input_size: 32", "input_size: 64"))))
    assert report.weights == out / f"tiny.conv.{end + 1}"
    prefix = sum(c.params_stored for c in designer.count(trained).layers[: end + 1])
    assert report.weights.stat().st_size == 20 + 4 * prefix and check_bundle(out) == []
    # weights whose cfg has another backbone are refused
    (run / "model.cfg").write_text(
        designer.emit_cfg(prepare_network(designer.load_yaml(TINY.replace("c40", "c48")), 32, 10))
    )
    with pytest.raises(DataError, match="does not have this backbone"):
        write_bundle(
            designer.lower(tiny),
            tmp_path / "det2",
            BundleOptions(detector=True, size=64, detector_images=20, weights=str(run / "best.weights")),
        )
