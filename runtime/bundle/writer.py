"""The Darknet training bundle: everything `darknet classifier train` (or `detector train`) needs, in one folder.

    DIR/NAME.cfg        the design with a training [net] (batch, subdivisions, learning_rate, policy and its keys,
                        max_batches > 0, momentum, decay, input size), written by designer.emit_cfg
    DIR/NAME.data       classes, train, valid, labels/names, backup, top
    DIR/labels.txt      classifier labels (NAME.names for a detector)
    DIR/train.txt, valid.txt, data/train/..., data/valid/...   the images (bundle_data.py says how)
    DIR/backup/         where darknet writes its weights
    DIR/NAME.weights    optional pretrained weights (a detector gets the backbone prefix, NAME.conv.N)
    DIR/README.md       the exact command, and what each file is
    DIR/bundle.json     what was written (used by bundle_check.check_bundle)

Every path inside is relative to DIR and darknet is run from DIR, so the folder can be moved or copied to
the training machine. The bundle is built in a temp folder next to DIR, checked with check_bundle, then
renamed into place: a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from designer.cfg import emit_cfg, parse_cfg, with_net
from designer.cost import count
from designer.edits import TrainingRecipe, training_net
from designer.embedded import embedded_design
from designer.errors import EditError, OutputError
from designer.files import atomic_write_bytes, atomic_write_text
from designer.ir import Network
from designer.lower import lower
from designer.weights_layout import expected_weights_bytes, file_header_size
from designer.yolo_head import (
    DEFAULT_MASKS,
    attach_yolo_head,
    backbone_end,
    parse_anchors,
    parse_masks,
    scaled_tiny_anchors,
)
from runtime.bundle.anchors import kmeans_anchors
from runtime.bundle.check import MANIFEST, assert_bundle
from runtime.bundle.data import bundle_labels, copy_detector_data, write_classifier_images, write_digit_scenes
from runtime.bundle.readme import readme_text
from runtime.train.data import DataError, load_dataset


@dataclass(frozen=True)
class BundleOptions:
    data: str = "digits"
    size: int | None = None  # default 32 (classifier), 128 (detector)
    seed: int = 0
    val_fraction: float = 0.2
    name: str | None = None
    weights: str | None = None
    batch: int = 64
    subdivisions: int = 1
    learning_rate: float | None = None  # default 0.1 classifier (darknet19's), 0.001 detector (yolov3-tiny's)
    policy: str | None = None  # default poly (classifier), steps (detector)
    power: float = 4.0
    steps: str | None = None
    scales: str | None = None
    max_batches: int | None = None
    burn_in: int | None = None
    momentum: float = 0.9
    decay: float = 0.0005
    flip: int = 0
    detector: bool = False
    classes: int | None = None
    anchors: str | None = None
    masks: str | None = None
    detector_images: int = 600


@dataclass(frozen=True)
class BundleReport:
    dir: Path
    kind: str
    cfg: Path
    data: Path
    command: str
    train_images: int
    valid_images: int
    classes: int
    weights: Path | None

    def summary(self) -> str:
        w = f", weights {self.weights.name}" if self.weights else ""
        return (
            f"wrote {self.kind} bundle {self.dir}/: {self.cfg.name}, {self.data.name}, {self.train_images} "
            f"train / {self.valid_images} valid images, {self.classes} classes{w}\n"
            f"train it with darknet (AlexeyAB) from that folder:\n  cd {self.dir} && {self.command}"
        )


def _name(network: Network, opts: BundleOptions, out: Path) -> str:
    arch = embedded_design(network).arch
    name = opts.name or (arch.name if arch is not None else out.name)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "model"
    return name


def _resized(network: Network, size: int) -> Network:
    """The network at size x size, classes untouched (re-lowered when it carries its design)."""
    arch = embedded_design(network).arch
    if arch is not None:
        return lower(replace(arch, input_size=size))
    return with_net(network, width=size, height=size)


def _numbers(flag: str, text: str | None, kind: type) -> tuple | None:
    if not text:
        return None
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EditError(f"--{flag} {text!r}: give comma-separated numbers") from None


def _recipe(opts: BundleOptions) -> TrainingRecipe:
    """The bundle's flags as a training recipe (designer.edits.training_net): darknet19's for classifiers,
    yolov3-tiny's for detectors; a classifier is not scale-jittered (small, centred images)."""
    return TrainingRecipe(
        batch=opts.batch,
        subdivisions=opts.subdivisions,
        learning_rate=opts.learning_rate,
        policy=opts.policy,
        power=opts.power,
        steps=_numbers("steps", opts.steps, int),
        scales=_numbers("scales", opts.scales, float),
        max_batches=opts.max_batches,
        burn_in=opts.burn_in,
        momentum=opts.momentum,
        decay=opts.decay,
        flip=opts.flip,
        crop_to_input=not opts.detector,
    )


def _copy_weights(src: str, dst: Path, network: Network, layers: int | None) -> None:
    """Copy a .weights file (or its first `layers` layers' prefix), checking its size and zeroing `seen`."""
    sp = Path(src)
    if not sp.is_file():
        raise DataError(sp, "weights file does not exist")
    header = file_header_size(sp)
    if header < 0:
        raise DataError(sp, "not a darknet .weights file (shorter than its header)")
    data = bytearray(sp.read_bytes())
    need = expected_weights_bytes(network, layers, header)
    if layers is None and len(data) != need:
        raise DataError(
            sp,
            f"{len(data)} bytes, but the bundle's cfg stores {need}: the weights were trained for "
            "another design or class count",
        )
    if layers is not None:
        cfg = sp.parent / "model.cfg"  # a quick-train run keeps its cfg next to the weights: check the backbone
        if cfg.is_file():
            trained = parse_cfg(cfg.read_text())
            if trained.layers[:layers] != network.layers[:layers] or len(data) != expected_weights_bytes(
                trained, None, header
            ):
                raise DataError(sp, f"its cfg {cfg} does not have this backbone (first {layers} layers)")
        if len(data) < need:
            raise DataError(sp, f"{len(data)} bytes, fewer than the {need} the backbone stores")
        data = data[:need]
    data[12:header] = bytes(header - 12)  # seen = 0: darknet counts iterations from it (max_batches)
    atomic_write_bytes(dst, bytes(data))


@dataclass(frozen=True)
class _Contents:
    """What a classifier or detector bundle holds before it is written: the training network at its input size,
    the class names and the file that lists them, the image lists, the .data text, the labels renamed for
    darknet's substring rule (new -> the data's), and how many leading layers given weights cover (None: all)."""

    net: Network
    size: int
    labels: tuple[str, ...]
    label_file: str
    train: list[str]
    valid: list[str]
    data_text: str
    renamed: dict[str, str]
    layers: int | None


def _classifier_contents(network: Network, tmp: Path, opts: BundleOptions) -> _Contents:
    """The images as PNGs whose paths carry their labels, and the design as a classifier for the data's classes."""
    from designer.edits import prepare_network

    size = opts.size or 32
    split = load_dataset(opts.data, size, network.input_shape[0], opts.val_fraction, opts.seed)
    labels = bundle_labels(split)
    net = prepare_network(network, size, len(labels))
    train, valid = write_classifier_images(split, tmp, labels)
    label_file = "labels.txt"
    return _Contents(
        net=training_net(net, _recipe(opts), train_images=len(train)),
        size=size,
        labels=labels,
        label_file=label_file,
        train=train,
        valid=valid,
        data_text=(
            f"classes={len(labels)}\ntrain=train.txt\nvalid=valid.txt\nlabels={label_file}\n"
            f"names={label_file}\nbackup=backup\ntop={min(5, len(labels))}\n"
        ),
        renamed=dict(zip(labels, split.classes)) if labels != split.classes else {},
        layers=None,
    )


def _detector_contents(network: Network, tmp: Path, name: str, opts: BundleOptions) -> _Contents:
    """Images with YOLO box files, and the design's backbone (its layers up to the head) with a YOLO head."""
    size = opts.size or 128
    if size % 32:
        raise EditError(f"detector input size {size}: use a multiple of 32")
    train, valid, labels, wh = _detector_images(tmp, size, network.input_shape[0], opts)
    anchors = (
        parse_anchors(opts.anchors)
        if opts.anchors
        else kmeans_anchors(wh, 6, opts.seed)
        if len(wh) >= 6
        else scaled_tiny_anchors(size)
    )
    masks = (
        parse_masks(opts.masks)
        if opts.masks
        else (
            DEFAULT_MASKS
            if len(anchors) == 6
            else (tuple(range(len(anchors) // 2, len(anchors))), tuple(range(len(anchors) // 2)))
        )
    )
    sized = _resized(network, size)
    layers = backbone_end(sized) + 1
    label_file = f"{name}.names"
    return _Contents(
        net=training_net(attach_yolo_head(sized, len(labels), anchors, masks), _recipe(opts), detector=True),
        size=size,
        labels=labels,
        label_file=label_file,
        train=train,
        valid=valid,
        data_text=f"classes={len(labels)}\ntrain=train.txt\nvalid=valid.txt\nnames={label_file}\nbackup=backup\n",
        renamed={},
        layers=layers,
    )


def _detector_images(
    tmp: Path, size: int, channels: int, opts: BundleOptions
) -> tuple[list[str], list[str], tuple[str, ...], np.ndarray]:
    """Synthetic digit scenes or a darknet detector dataset, written under tmp/data: (train paths, valid paths,
    class names, training box sizes in pixels). --classes, when given, must match the names."""
    if opts.data == "digits":
        train, valid, labels, wh = write_digit_scenes(
            tmp, opts.detector_images, size, channels, opts.val_fraction, opts.seed
        )
    elif opts.data.endswith(".data") and Path(opts.data).is_file():
        train, valid, labels, wh = copy_detector_data(Path(opts.data), tmp, size, opts.val_fraction, opts.seed)
    else:
        raise DataError(
            opts.data,
            "a detector bundle needs boxes: use --data digits (synthetic digit scenes) "
            "or a darknet detector .data file (train=, valid=, names=)",
        )
    if opts.classes is not None and opts.classes != len(labels):
        raise DataError(
            opts.data, f"--classes {opts.classes} but the data has {len(labels)} names ({', '.join(labels)})"
        )
    return train, valid, labels, wh


def _command(files: dict[str, str], weights_rel: str | None, *, detector: bool) -> str:
    """The darknet command that trains the bundle from its folder (-clear restarts the iteration count of given
    weights; -dont_show for headless machines; -map or -topk report accuracy as it trains)."""
    verb = "detector train" if detector else "classifier train"
    flags = "-dont_show -map" if detector else "-dont_show -topk"
    return (
        f"/path/to/darknet/darknet {verb} {files['data']} {files['cfg']}"
        + (f" {weights_rel} -clear" if weights_rel else "")
        + f" {flags}"
    )


def _build(network: Network, tmp: Path, out: Path, opts: BundleOptions) -> BundleReport:
    name = _name(network, opts, out)
    files: dict[str, str] = {"cfg": f"{name}.cfg", "data": f"{name}.data"}
    b = _detector_contents(network, tmp, name, opts) if opts.detector else _classifier_contents(network, tmp, opts)
    weights_rel = None
    if opts.weights:
        weights_rel = f"{name}.weights" if b.layers is None else f"{name}.conv.{b.layers}"
        _copy_weights(opts.weights, tmp / weights_rel, b.net, b.layers)
    (tmp / "backup").mkdir()
    atomic_write_text(tmp / files["cfg"], emit_cfg(b.net))
    atomic_write_text(tmp / files["data"], b.data_text)
    atomic_write_text(tmp / b.label_file, "".join(s + "\n" for s in b.labels))
    atomic_write_text(tmp / "train.txt", "".join(p + "\n" for p in b.train))
    atomic_write_text(tmp / "valid.txt", "".join(p + "\n" for p in b.valid))
    kind = "detector" if opts.detector else "classifier"
    command = _command(files, weights_rel, detector=opts.detector)
    c = count(b.net)
    manifest = {
        "kind": kind,
        "name": name,
        "cfg": files["cfg"],
        "data": files["data"],
        "labels": b.label_file,
        "train": "train.txt",
        "valid": "valid.txt",
        "weights": weights_rel,
        "weights_layers": b.layers,
        "classes": len(b.labels),
        "train_images": len(b.train),
        "valid_images": len(b.valid),
        "size": b.size,
        "params": c.params,
        "fma": c.fma,
        "command": command,
        "renamed_labels": b.renamed,
        "source_data": opts.data,
        "dir": str(out),
    }
    atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    atomic_write_text(tmp / "README.md", readme_text(manifest, b.net))
    return BundleReport(
        out,
        kind,
        out / files["cfg"],
        out / files["data"],
        command,
        len(b.train),
        len(b.valid),
        len(b.labels),
        out / weights_rel if weights_rel else None,
    )


def write_bundle(network: Network, out_dir: str | Path, opts: BundleOptions = BundleOptions()) -> BundleReport:
    """Write the bundle for `network` (a lowered design or a parsed cfg) into `out_dir` (must not exist)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out} already exists; give a new folder (nothing is overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        report = _build(network, tmp, out, opts)
        assert_bundle(tmp)
        if out.exists():
            out.rmdir()  # an empty folder the user made
        tmp.rename(out)
        return report
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
