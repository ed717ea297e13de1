"""The images of a Darknet bundle, laid out the way darknet reads them.

Classifier: DIR/data/train/<index>_<label>.png and DIR/data/valid/..., listed (relative to DIR) in train.txt /
valid.txt. darknet takes an image's label from its path (fill_truth: every label that is a substring of the
path; exactly one must be), so labels are kept only if every written path then names exactly one label;
otherwise (digit-only labels like "7" match image indices, "cat" is inside "cats"...) the bundle uses
class00, class01, ... (all the same length, so none is inside another) and the README maps them back.

Detector: YOLO layout, DIR/data/train/<index>.png with DIR/data/train/<index>.txt next to it ("class cx cy w h",
relative to the image). The data is either synthetic scenes of scikit-learn's digits (1-3 digits pasted on a
black canvas, boxes tight around the ink; deterministic from the seed) or a darknet detector .data file whose
images and label files are copied in.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.train.data import (
    DataError,
    ImageSet,
    Split,
    _resolve,
    match_label,
    read_data_file,
    read_labels,
    stratified_split,
)

_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(arr)).save(path)


def classifier_paths(ds: ImageSet, folder: str, labels: tuple[str, ...]) -> list[str]:
    return [f"data/{folder}/{i:05d}_{labels[int(y)]}.png" for i, y in enumerate(ds.labels)]


def paths_ok(paths: list[str], labels: tuple[str, ...]) -> bool:
    return all(len(match_label(p, labels)) == 1 for p in paths)


def bundle_labels(split: Split) -> tuple[str, ...]:
    """The data's class names if darknet's substring rule resolves every bundle path, else class00, class01..."""
    labels = split.classes
    if all(_SAFE.fullmatch(s) for s in labels):
        paths = classifier_paths(split.train, "train", labels) + classifier_paths(split.val, "valid", labels)
        if paths_ok(paths, labels):
            return labels
    width = len(str(len(labels) - 1))
    return tuple(f"class{k:0{width}d}" for k in range(len(labels)))


def write_classifier_images(split: Split, root: Path, labels: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """PNG files under root/data/{train,valid}; returns the two lists of root-relative paths."""
    out = []
    for ds, folder in ((split.train, "train"), (split.val, "valid")):
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        paths = classifier_paths(ds, folder, labels)
        for img, rel in zip(ds.images, paths):
            _save_png(img, root / rel)
        out.append(paths)
    return out[0], out[1]


# ------------------------------------------------------------------ detection data


@dataclass(frozen=True)
class Box:
    cls: int
    cx: float  # all relative to the image, 0..1
    cy: float
    w: float
    h: float

    def line(self) -> str:
        return f"{self.cls} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


def _scene(rng: np.random.Generator, pool: ImageSet, size: int, channels: int) -> tuple[np.ndarray, list[Box]]:
    from PIL import Image

    canvas = np.zeros((size, size), dtype=np.uint8)
    taken: list[tuple[int, int, int, int]] = []
    boxes: list[Box] = []
    for _ in range(int(rng.integers(1, 4))):
        side = int(rng.integers(max(8, size // 6), max(9, size // 3) + 1))
        for _try in range(20):
            x, y = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
            if all(x + side <= a or a + c <= x or y + side <= b or b + d <= y for a, b, c, d in taken):
                break
        else:
            continue  # no free spot: fewer digits in this scene
        k = int(rng.integers(0, len(pool)))
        grey = pool.images[k][0] if pool.images.shape[1] == 1 else pool.images[k].mean(0).astype(np.uint8)
        digit = np.asarray(Image.fromarray(grey).resize((side, side), Image.Resampling.BILINEAR))
        ys, xs = np.nonzero(digit > 32)
        if len(xs) == 0:
            continue
        canvas[y : y + side, x : x + side] = np.maximum(canvas[y : y + side, x : x + side], digit)
        taken.append((x, y, side, side))
        x0, x1, y0, y1 = x + xs.min(), x + xs.max() + 1, y + ys.min(), y + ys.max() + 1
        boxes.append(
            Box(int(pool.labels[k]), (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size)
        )
    img = canvas[None] if channels == 1 else np.repeat(canvas[None], channels, axis=0)
    return img, boxes


def write_digit_scenes(
    root: Path, n_images: int, size: int, channels: int, val_fraction: float, seed: int
) -> tuple[list[str], list[str], tuple[str, ...], np.ndarray]:
    """Synthetic detection scenes; returns (train paths, valid paths, names, train box sizes in pixels)."""
    from runtime.train.data import load_digits_set

    if n_images < 2:
        raise DataError("digits", f"--images {n_images}: a detector bundle needs at least 2 (train and valid)")
    split = stratified_split(load_digits_set(8, 1), val_fraction, seed)  # digits of valid scenes never train
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(n_images * val_fraction)))
    out: list[list[str]] = []
    wh: list[tuple[float, float]] = []
    for folder, pool, n in (("train", split.train, n_images - n_val), ("valid", split.val, n_val)):
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(n):
            img, boxes = _scene(rng, pool, size, channels)
            rel = f"data/{folder}/{i:05d}.png"
            _save_png(img, root / rel)
            (root / rel).with_suffix(".txt").write_text("".join(b.line() + "\n" for b in boxes))
            if folder == "train":
                wh += [(b.w * size, b.h * size) for b in boxes]
            paths.append(rel)
        out.append(paths)
    return out[0], out[1], split.classes, np.asarray(wh)


def label_path(image: str) -> str:
    """darknet's replace_image_to_label: COCO/VOC image folders -> labels folders, image extension -> .txt."""
    p = image
    for a, b in (
        ("/images/train2017/", "/labels/train2017/"),
        ("/images/val2017/", "/labels/val2017/"),
        ("/JPEGImages/", "/labels/"),
    ):
        p = p.replace(a, b)
    for ext in (".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG", ".bmp", ".BMP", ".ppm", ".PPM", ".tiff", ".TIFF"):
        if p.endswith(ext):
            return p[: -len(ext)] + ".txt"
    return p


def read_yolo_labels(path: Path, classes: int) -> list[Box]:
    boxes = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            cls, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:5])
        except (ValueError, IndexError):
            raise DataError(path, f"line {n}: expected 'class cx cy w h'") from None
        if not 0 <= cls < classes:
            raise DataError(path, f"line {n}: class {cls} is outside 0..{classes - 1}")
        if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
            raise DataError(path, f"line {n}: box values must be relative to the image (0..1)")
        boxes.append(Box(cls, cx, cy, w, h))
    return boxes


def copy_detector_data(
    data_file: Path, root: Path, size: int, val_fraction: float, seed: int
) -> tuple[list[str], list[str], tuple[str, ...], np.ndarray]:
    """Copy a darknet detector dataset (.data with train=, valid=, names=) into root/data."""
    from PIL import Image

    opts = read_data_file(data_file)
    base = data_file.parent
    if "train" not in opts or "names" not in opts:
        raise DataError(data_file, "a detector .data file needs train= and names=")
    names = read_labels(_resolve(opts["names"], base))
    if "classes" in opts and opts["classes"] != str(len(names)):
        raise DataError(data_file, f"classes={opts['classes']} but {opts['names']} has {len(names)} names")

    def entries(key: str) -> list[str]:
        lst = _resolve(opts[key], base)
        try:
            return [s.strip() for s in lst.read_text().splitlines() if s.strip()]
        except OSError as e:
            raise DataError(lst, f"cannot read list file ({e.strerror})") from None

    train = entries("train")
    valid = entries("valid") if opts.get("valid") and opts["valid"] != opts["train"] else []
    if not valid:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(train))
        n_val = max(1, int(round(len(train) * val_fraction)))
        valid = [train[i] for i in sorted(order[:n_val])]
        train = [train[i] for i in sorted(order[n_val:])]
    out: list[list[str]] = []
    wh: list[tuple[float, float]] = []
    for folder, items in (("train", train), ("valid", valid)):
        if not items:
            raise DataError(data_file, f"no {folder} images")
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        paths = []
        for i, text in enumerate(items):
            if label_path(text) == text:
                raise DataError(text, "darknet finds labels only for .jpg/.jpeg/.png/.bmp/.ppm/.tiff images")
            src = _resolve(text, base)
            lab = _resolve(label_path(text), base)
            if not src.is_file():
                raise DataError(src, "image listed in the detector data does not exist")
            if not lab.is_file():
                raise DataError(lab, f"label file of {text} does not exist (darknet looks for it there)")
            boxes = read_yolo_labels(lab, len(names))
            try:
                with Image.open(src) as im:
                    im.verify()
            except Exception as e:  # PIL raises many types for a broken file
                raise DataError(src, f"cannot read image ({type(e).__name__})") from None
            rel = f"data/{folder}/{i:05d}{src.suffix.lower()}"
            shutil.copyfile(src, root / rel)
            (root / label_path(rel)).write_text("".join(b.line() + "\n" for b in boxes))
            if folder == "train":
                wh += [(b.w * size, b.h * size) for b in boxes]
            paths.append(rel)
        out.append(paths)
    return out[0], out[1], names, np.asarray(wh)
