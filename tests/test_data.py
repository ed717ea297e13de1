"""runtime.train.data: the digits set, ImageFolder and darknet list layouts, the seeded split, and every bad-data error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runtime.train.data import (
    DIGIT_LABELS,
    DataError,
    load_dataset,
    load_digits_set,
    load_image_folder,
    match_label,
    read_data_file,
    stratified_split,
)


def _png(path: Path, value: int, size: int = 12, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size, size, 3) if mode == "RGB" else (size, size), value, dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An ImageFolder with classes cat (3 images), dog (3) and a stray .txt file that is not an image."""
    root = tmp_path / "imgs"
    for k, name in enumerate(("cat", "dog")):
        for i in range(3):
            _png(root / name / f"{i}.png", 40 + 100 * k + i)
    (root / "cat" / "notes.txt").write_text("not an image")
    return root


def test_digits_shape_range_and_labels():
    ds = load_digits_set(16)
    assert ds.images.shape == (1797, 3, 16, 16) and ds.images.dtype == np.uint8
    assert ds.images.max() == 255 and ds.images.min() == 0
    assert ds.classes == DIGIT_LABELS and sorted(set(ds.labels.tolist())) == list(range(10))
    assert np.array_equal(ds.images[:, 0], ds.images[:, 2])  # grey repeated to 3 channels
    assert load_digits_set(8, channels=1).images.shape == (1797, 1, 8, 8)


def test_split_is_seeded_stratified_and_disjoint():
    ds = load_digits_set(8)
    a, b, c = (stratified_split(ds, 0.2, s) for s in (0, 0, 1))
    assert np.array_equal(a.val.labels, b.val.labels) and np.array_equal(a.val.images, b.val.images)
    assert not np.array_equal(a.val.images, c.val.images)
    assert len(a.train) + len(a.val) == len(ds)
    per_class = np.bincount(a.val.labels) / np.bincount(ds.labels)
    assert np.all(np.abs(per_class - 0.2) < 0.02)
    with pytest.raises(ValueError):
        stratified_split(ds, 1.5, 0)


def test_digit_labels_are_unambiguous_for_darknet():
    # darknet matches labels as substrings of the image path: no label may be inside another
    for lab in DIGIT_LABELS:
        assert match_label(f"data/train/01234_{lab}.png", DIGIT_LABELS) == [DIGIT_LABELS.index(lab)]


def test_image_folder(folder: Path):
    ds = load_image_folder(folder, 8)
    assert ds.classes == ("cat", "dog") and ds.images.shape == (6, 3, 8, 8)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    split = load_dataset(str(folder), 8, val_fraction=0.34, seed=0)
    assert len(split.val) == 2 and sorted(split.val.labels.tolist()) == [0, 1]


def test_darknet_data_file_and_list_layout(tmp_path: Path):
    labels = ("airplane", "ship")
    paths = [_png(tmp_path / "imgs" / f"{i:03d}_{labels[i % 2]}.png", 10 * i) for i in range(8)]
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    (tmp_path / "train.list").write_text("".join(f"{p}\n" for p in paths[:6]))
    (tmp_path / "valid.list").write_text("".join(f"imgs/{p.name}\n" for p in paths[6:]))  # relative to the file
    (tmp_path / "x.data").write_text(
        "classes = 2\ntrain=train.list\nvalid = valid.list\nlabels=labels.txt\n# comment\nbackup=backup/\n"
    )
    split = load_dataset(str(tmp_path / "x.data"), 8)
    assert split.classes == labels and len(split.train) == 6 and len(split.val) == 2
    assert split.train.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert read_data_file(tmp_path / "x.data")["classes"] == "2"
    # a bare list file takes its labels from labels.txt next to it, and is split with the seed
    split = load_dataset(str(tmp_path / "train.list"), 8, val_fraction=0.34)
    assert len(split.train) + len(split.val) == 6 and split.classes == labels


# ------------------------------------------------------------------ bad data: DataError naming the path


def test_missing_path():
    with pytest.raises(DataError, match="no such file or folder") as e:
        load_dataset("/no/such/place", 8)
    assert e.value.path == "/no/such/place"


def test_empty_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(str(tmp_path / "empty"), 8)


def test_images_not_in_class_folders(tmp_path: Path):
    _png(tmp_path / "flat" / "a.png", 1)
    with pytest.raises(DataError, match="its own sub-folder"):
        load_dataset(str(tmp_path / "flat"), 8)


def test_empty_class_folder(folder: Path):
    (folder / "emu").mkdir()
    with pytest.raises(DataError, match="class folder has no images") as e:
        load_dataset(str(folder), 8)
    assert e.value.path.endswith("emu")


def test_unreadable_image(folder: Path):
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match="cannot read image") as e:
        load_dataset(str(folder), 8)
    assert e.value.path.endswith("broken.png")


def test_one_class_only(tmp_path: Path):
    for i in range(3):
        _png(tmp_path / "one" / "cat" / f"{i}.png", i)
    with pytest.raises(DataError, match="only one class"):
        load_dataset(str(tmp_path / "one"), 8)


@pytest.mark.parametrize("name, found", [("007_bird.png", "none"), ("008_airplane_ship.png", "'airplane', 'ship'")])
def test_list_path_must_name_exactly_one_label(tmp_path: Path, name: str, found: str):
    p = _png(tmp_path / name, 1)
    (tmp_path / "labels.txt").write_text("airplane\nship\n")
    (tmp_path / "train.list").write_text(f"{p}\n")
    with pytest.raises(DataError, match=f"found {found}") as e:
        load_dataset(str(tmp_path / "train.list"), 8)
    assert e.value.path == str(p)


def test_classes_disagree_with_labels_file(tmp_path: Path):
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    (tmp_path / "x.data").write_text("classes=2\ntrain=t.list\nlabels=labels.txt\n")
    with pytest.raises(DataError, match="classes=2 but the labels file"):
        load_dataset(str(tmp_path / "x.data"), 8)


def test_listed_image_missing_and_list_without_labels(tmp_path: Path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    (tmp_path / "t.list").write_text(str(tmp_path / "gone_cat.png") + "\n")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "t.list"), 8)
    lonely = tmp_path / "sub" / "t.list"
    lonely.parent.mkdir()
    lonely.write_text("x_cat.png\n")
    with pytest.raises(DataError, match="needs its labels"):
        load_dataset(str(lonely), 8)


def test_binary_list_file(tmp_path: Path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    (tmp_path / "t.list").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DataError, match="not a text file"):
        load_dataset(str(tmp_path / "t.list"), 8)
