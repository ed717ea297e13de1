"""Image data for quick-training and for Darknet bundles: what is on disk -> uint8 arrays, checked up front.

Sources (`load_dataset(spec, size)`):
- "digits": scikit-learn's bundled handwritten digits (load_digits: 1797 8x8 grey images, 10 classes, no
  download), scaled from 0..16 to 0..255, resized to size x size and repeated to 3 channels;
- a directory: ImageFolder layout, one sub-folder per class (the folder name is the label);
- a darknet `.data` file (train=, valid=, labels=, classes=) or a darknet list file (one image path a line,
  labels from a sibling labels.txt / labels.list / *.names). The label of an image is the label that occurs
  in its path *as written in the list*: darknet's fill_truth takes every label with strstr(path, label) and
  complains unless exactly one matches; we refuse the same paths.

Images are kept as uint8 N x C x H x W in memory (quick-train is a preview, not an ImageNet loader) and fed to
the network as value/255 in RGB order, which is what darknet's load_image_color gives, so weights trained here
mean the same thing in darknet. Anything wrong with the data (missing or empty folder, unreadable image, one
class only, a path whose label is ambiguous, classes= disagreeing with the labels file) raises `DataError`
naming the path, before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from designer.errors import MixdesignError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
# Class names for the digits set: "0".."9" would be useless to darknet, whose label match is a substring
# search over the whole image path (an image index like 00017 contains "0", "1" and "7").
DIGIT_LABELS = tuple(f"digit{i}" for i in range(10))


class DataError(MixdesignError):
    """Data that cannot be trained on; `path` is the file or folder at fault."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(message, file=str(path))


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # uint8, N x C x H x W
    labels: np.ndarray  # int64, N
    classes: tuple[str, ...]
    source: str  # where it came from, for messages and metadata

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index], self.classes, self.source)


@dataclass(frozen=True)
class Split:
    train: ImageSet
    val: ImageSet

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes


# ------------------------------------------------------------------ single images


def _to_array(img, size: int, channels: int) -> np.ndarray:
    from PIL import Image

    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def read_image(path: str | Path, size: int, channels: int = 3) -> np.ndarray:
    """One image file -> uint8 C x size x size; DataError if it cannot be decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return _to_array(img, size, channels)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(path, f"cannot read image ({type(e).__name__}: {e})") from None


def _stack(
    paths: list[Path], labels: list[int], classes: tuple[str, ...], size: int, channels: int, source: str
) -> ImageSet:
    images = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for i, p in enumerate(paths):
        images[i] = read_image(p, size, channels)
    return ImageSet(images, np.asarray(labels, dtype=np.int64), classes, source)


def _check_classes(ds: ImageSet, where: str | Path) -> ImageSet:
    if len(ds) == 0:
        raise DataError(where, "no images")
    present = np.unique(ds.labels)
    if len(ds.classes) < 2 or len(present) < 2:
        raise DataError(where, f"only one class ({ds.classes[int(present[0])]!r}); a classifier needs two or more")
    return ds


# ------------------------------------------------------------------ sources


def load_digits_set(size: int, channels: int = 3) -> ImageSet:
    """scikit-learn's bundled 8x8 digits (values 0..16), scaled to 0..255 and resized to size x size."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    grey = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    images = np.empty((len(grey), channels, size, size), dtype=np.uint8)
    for i, g in enumerate(grey):
        images[i] = _to_array(Image.fromarray(g, mode="L"), size, channels)
    return ImageSet(images, d.target.astype(np.int64), DIGIT_LABELS, "digits")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def load_image_folder(root: str | Path, size: int, channels: int = 3) -> ImageSet:
    """ImageFolder layout: root/<class>/<image>; classes sorted by name (torchvision's order)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "no such folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        loose = [p for p in root.iterdir() if _is_image(p)]
        hint = " (the images lie directly in it: put each class in its own sub-folder)" if loose else ""
        raise DataError(root, f"no class folders; expected one sub-folder per class{hint}")
    paths: list[Path] = []
    labels: list[int] = []
    for k, d in enumerate(class_dirs):
        files = sorted(p for p in d.rglob("*") if _is_image(p))
        if not files:
            raise DataError(d, f"class folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
        paths += files
        labels += [k] * len(files)
    ds = _stack(paths, labels, tuple(d.name for d in class_dirs), size, channels, str(root))
    return _check_classes(ds, root)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise DataError(path, f"cannot read {what} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(path, f"the {what} is not a text file") from None


def read_labels(path: str | Path) -> tuple[str, ...]:
    """A darknet labels/names file: one label a line (darknet's get_labels; blank lines are not labels)."""
    path = Path(path)
    lines = _read_text(path, "labels file").splitlines()
    labels = tuple(s.strip() for s in lines if s.strip())
    if not labels:
        raise DataError(path, "labels file is empty")
    dup = sorted({s for s in labels if labels.count(s) > 1})
    if dup:
        raise DataError(path, f"label(s) listed twice: {', '.join(dup)}")
    return labels


def match_label(path_text: str, labels: tuple[str, ...]) -> list[int]:
    """darknet fill_truth: every label that occurs as a substring of the path as written."""
    return [i for i, lab in enumerate(labels) if lab in path_text]


def _resolve(text: str, base: Path) -> Path:
    """darknet opens list paths relative to its working directory; a moved bundle has them relative to itself."""
    p = Path(text)
    if p.is_absolute() or p.exists():
        return p
    alt = base / p
    return alt if alt.exists() else p


def load_darknet_list(list_path: str | Path, labels: tuple[str, ...], size: int, channels: int = 3) -> ImageSet:
    """A darknet list file (one image path a line) with labels matched as darknet does."""
    list_path = Path(list_path)
    lines = [s.strip() for s in _read_text(list_path, "list file").splitlines()]
    entries = [s for s in lines if s]
    if not entries:
        raise DataError(list_path, "list file has no image paths")
    paths: list[Path] = []
    ids: list[int] = []
    for text in entries:
        hits = match_label(text, labels)
        if len(hits) != 1:
            found = ", ".join(repr(labels[i]) for i in hits) or "none"
            raise DataError(
                text,
                f"darknet takes the label from the path, and exactly one label must occur in it "
                f"(found {found}; labels: {', '.join(labels)}), listed in {list_path}",
            )
        p = _resolve(text, list_path.parent)
        if not p.is_file():
            raise DataError(p, f"image listed in {list_path} does not exist")
        paths.append(p)
        ids.append(hits[0])
    return _stack(paths, ids, labels, size, channels, str(list_path))


def read_data_file(path: str | Path) -> dict[str, str]:
    """A darknet .data file: key=value lines, whitespace removed anywhere, '#'/';' comment lines (read_data_cfg)."""
    path = Path(path)
    text = _read_text(path, "data file")
    out: dict[str, str] = {}
    for line in text.splitlines():
        s = "".join(line.split())
        if not s or s[0] in "#;":
            continue
        if "=" not in s:
            raise DataError(path, f"expected key=value, got {line.strip()!r}")
        k, v = s.split("=", 1)
        out.setdefault(k, v)  # darknet's option_find returns the first
    return out


def load_darknet_data(path: str | Path, size: int, channels: int = 3) -> tuple[ImageSet, ImageSet | None]:
    """A darknet classifier .data file -> (train, valid or None when it has no separate valid list)."""
    path = Path(path)
    opts = read_data_file(path)
    base = path.parent
    for key in ("train", "labels"):
        if key not in opts:
            raise DataError(path, f"no {key}= line (a classifier .data file needs train=, labels=, classes=)")
    labels = read_labels(_resolve(opts["labels"], base))
    if "classes" in opts:
        try:
            n = int(opts["classes"])
        except ValueError:
            raise DataError(path, f"classes={opts['classes']!r} is not a number") from None
        if n != len(labels):
            raise DataError(path, f"classes={n} but the labels file {opts['labels']} has {len(labels)} labels")
    train_list = _resolve(opts["train"], base)
    train = _check_classes(load_darknet_list(train_list, labels, size, channels), train_list)
    valid = opts.get("valid")
    if not valid or _resolve(valid, base) == train_list:
        return train, None
    val_list = _resolve(valid, base)
    return train, load_darknet_list(val_list, labels, size, channels)


def _sibling_labels(list_path: Path) -> Path:
    d = list_path.parent
    for name in ("labels.txt", "labels.list"):
        if (d / name).is_file():
            return d / name
    names = sorted(d.glob("*.names"))
    if len(names) == 1:
        return names[0]
    raise DataError(
        list_path,
        "a darknet list file needs its labels: put labels.txt (or one *.names file) next "
        "to it, or pass a .data file with labels=",
    )


# ------------------------------------------------------------------ split


def stratified_split(ds: ImageSet, val_fraction: float, seed: int) -> Split:
    """Deterministic per-class split: each class gives round(n * fraction) images (at least 1) to validation."""
    if not 0 < val_fraction < 1:
        raise DataError(ds.source, f"val_fraction={val_fraction} must be between 0 and 1")
    rng = np.random.default_rng(seed)
    val_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    for k in range(len(ds.classes)):
        idx = np.flatnonzero(ds.labels == k)
        if len(idx) == 0:
            continue
        idx = idx[rng.permutation(len(idx))]
        n_val = max(1, int(round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    v = np.sort(np.concatenate(val_idx))
    t = np.sort(np.concatenate(train_idx))
    if len(v) == 0:
        raise DataError(ds.source, "too few images for a validation split (every class has a single image)")
    return Split(ds.subset(t), ds.subset(v))


def load_dataset(spec: str, size: int, channels: int = 3, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """'digits', an ImageFolder directory, a darknet .data file or a list file -> checked train/val split."""
    if size < 1:
        raise DataError(spec, f"size={size} must be positive")
    if spec == "digits":
        return stratified_split(load_digits_set(size, channels), val_fraction, seed)
    path = Path(spec)
    if path.is_dir():
        return stratified_split(load_image_folder(path, size, channels), val_fraction, seed)
    if not path.exists():
        raise DataError(
            path,
            "no such file or folder (use 'digits', an ImageFolder directory, a darknet .data "
            "file or a darknet list file)",
        )
    if path.suffix == ".data":
        train, val = load_darknet_data(path, size, channels)
        if val is None:
            return stratified_split(train, val_fraction, seed)
        return Split(train, val)
    ds = load_darknet_list(path, read_labels(_sibling_labels(path)), size, channels)
    return stratified_split(_check_classes(ds, path), val_fraction, seed)
