"""Is a Darknet training bundle self-consistent? Everything darknet would trip over, checked without darknet.

Rules (NOTES.md section 2 and checklist 12-13, AlexeyAB classifier.c / detector.c):
- the cfg parses and its shapes hold; [net] has max_batches > 0 (classifier train loops forever on 0,
  detector train does nothing), batch divisible by subdivisions, steps= and scales= for policy=steps;
- classifier: the last layer is [softmax] (or [cost] after it) with exactly `classes` inputs; the labels file
  has `classes` lines; every listed image exists and its path (as written) contains exactly one label;
- detector: the last layer is [yolo]; every [yolo] has classes= equal to the .data classes and to the names
  file's line count (so darknet's "classes=0" names check cannot fire), mask indices within num anchors; the
  filters rule (filters == (classes+5)*len(mask)) holds (infer_shapes checks it); width/height multiples
  of 32; every image has its label file with valid lines;
- an included .weights file has exactly the size the cfg (or its backbone prefix) stores.
Paths in the bundle are relative to the bundle folder (darknet is run from there).
"""

from __future__ import annotations

import json
from pathlib import Path

from designer.cfg import parse_cfg
from designer.errors import MixdesignError
from designer.ir import CfgError
from designer.shapes import infer_shapes, yolo_masks
from designer.weights_layout import expected_weights_bytes, file_header_size
from runtime.bundle.data import label_path, read_yolo_labels
from runtime.train.data import DataError, match_label, read_data_file, read_labels

MANIFEST = "bundle.json"


class BundleError(MixdesignError):
    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("inconsistent bundle: " + "; ".join(problems), file=str(path))


def _int(opts: dict[str, str], key: str, problems: list[str]) -> int | None:
    try:
        return int(opts[key])
    except KeyError:
        problems.append(f".data has no {key}=")
    except ValueError:
        problems.append(f".data {key}={opts[key]!r} is not a number")
    return None


def _check_net(net, problems: list[str]) -> None:
    if net["max_batches"] <= 0:
        problems.append("[net] max_batches must be > 0 (darknet classifier train loops forever on 0)")
    if net["batch"] < 1 or net["subdivisions"] < 1 or net["batch"] % net["subdivisions"]:
        problems.append(f"[net] batch={net['batch']} must be a multiple of subdivisions={net['subdivisions']}")
    if net["learning_rate"] <= 0:
        problems.append("[net] learning_rate must be > 0")
    if net["policy"] == "steps":
        steps, scales = net["steps"] or (), net["scales"] or ()
        if not steps or len(steps) != len(scales):
            problems.append("[net] policy=steps needs steps= and scales= of the same length")


def check_bundle(path: str | Path) -> list[str]:
    """Every inconsistency in the bundle at `path` (its folder); [] when darknet can train it as is."""
    root = Path(path)
    problems: list[str] = []
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [f"cannot read {MANIFEST}: {e}"]
    kind = manifest.get("kind")
    try:
        opts = read_data_file(root / manifest["data"])
        network = parse_cfg((root / manifest["cfg"]).read_text())
        shapes = infer_shapes(network)
    except (OSError, KeyError, DataError, CfgError) as e:
        return [f"cannot read the bundle's .data/.cfg: {e}"]
    classes = _int(opts, "classes", problems)
    _check_net(network.net, problems)
    if not (root / opts.get("backup", "")).is_dir():
        problems.append(f"backup={opts.get('backup')} is not a folder in the bundle (darknet cannot save weights)")
    label_key = "labels" if kind == "classifier" else "names"
    labels = _labels(root, opts, label_key, classes, problems)
    lists = _lists(root, opts, problems)
    if kind == "classifier":
        _check_classifier(root, network, shapes, opts, classes=classes, labels=labels, lists=lists, problems=problems)
    elif kind == "detector":
        _check_detector(root, network, classes=classes, lists=lists, problems=problems)
    else:
        problems.append(f"{MANIFEST} kind={kind!r} (expected classifier or detector)")
    _check_weights(root, manifest, network, problems)
    return problems


def _labels(root: Path, opts: dict, label_key: str, classes: int | None, problems: list[str]) -> tuple[str, ...]:
    """The label (or names) file's lines, checked against .data's classes."""
    try:
        labels = read_labels(root / opts[label_key])
    except (KeyError, DataError) as e:
        problems.append(f"{label_key} file: {e}")
        labels = ()
    if classes is not None and labels and len(labels) != classes:
        problems.append(f".data classes={classes} but {opts[label_key]} has {len(labels)} lines")
    return tuple(labels)


def _lists(root: Path, opts: dict, problems: list[str]) -> dict[str, list[str]]:
    """The train and valid lists' entries (each must be there and not empty)."""
    lists = {}
    for key in ("train", "valid"):
        try:
            lists[key] = [s.strip() for s in (root / opts[key]).read_text().splitlines() if s.strip()]
        except (KeyError, OSError) as e:
            problems.append(f"{key} list: {e}")
            lists[key] = []
        if not lists[key]:
            problems.append(f"{key} list is empty")
    return lists


def _check_classifier(
    root: Path,
    network,
    shapes,
    opts: dict,
    *,
    classes: int | None,
    labels: tuple[str, ...],
    lists: dict[str, list[str]],
    problems: list[str],
) -> None:
    """The cfg ends in [softmax] over `classes`; every listed image exists and names exactly one label."""
    last = network.layers[-1]
    k = len(network.layers) - 1 - (last.type == "cost")
    if network.layers[k].type != "softmax":
        problems.append("a classifier cfg must end in [softmax] (optionally followed by [cost])")
    elif classes is not None and shapes[k].outputs != classes:
        problems.append(f"[softmax] has {shapes[k].outputs} inputs but classes={classes}")
    top = _int(opts, "top", problems)
    if top is not None and classes is not None and not 1 <= top <= classes:
        problems.append(f"top={top} must be between 1 and classes={classes}")
    for key, entries in lists.items():
        for p in entries:
            if not (root / p).is_file():
                problems.append(f"{key} list: {p} does not exist")
            elif labels and len(match_label(p, labels)) != 1:
                problems.append(
                    f"{key} list: {p} contains {len(match_label(p, labels))} labels (darknet "
                    "needs exactly one as a substring of the path)"
                )


def _check_detector(
    root: Path, network, *, classes: int | None, lists: dict[str, list[str]], problems: list[str]
) -> None:
    """The cfg ends in [yolo] layers that agree with .data and their anchors; every image has its label file."""
    last = network.layers[-1]
    if last.type != "yolo":
        problems.append(f"the last section is [{last.type}]; a detector cfg must end in [yolo]")
    yolos = [L for L in network.layers if L.type == "yolo"]
    for L in yolos:
        if classes is not None and L["classes"] != classes:
            problems.append(f"[yolo] at line {L.line} has classes={L['classes']}, .data has {classes}")
        anchors = L["anchors"] or ()
        if len(anchors) != 2 * L["num"] or any(m >= L["num"] for m in yolo_masks(L)):
            problems.append(
                f"[yolo] at line {L.line}: num={L['num']}, {len(anchors) // 2} anchors, mask={yolo_masks(L)} disagree"
            )
    c, h, w = network.input_shape
    if h % 32 or w % 32:
        problems.append(f"detector input {w}x{h} is not a multiple of 32")
    for key, entries in lists.items():
        for p in entries:
            lab = root / label_path(p)
            if not (root / p).is_file():
                problems.append(f"{key} list: {p} does not exist")
            elif not lab.is_file():
                problems.append(f"{key} list: label file {label_path(p)} does not exist")
            elif classes is not None:
                try:
                    read_yolo_labels(lab, classes)
                except DataError as e:
                    problems.append(str(e))


def _check_weights(root: Path, manifest: dict, network, problems: list[str]) -> None:
    """The bundled .weights, if any, has exactly the bytes the cfg stores."""
    weights = manifest.get("weights")
    if weights:
        wp = root / weights
        if not wp.is_file():
            problems.append(f"weights file {weights} is missing")
        else:
            header = file_header_size(wp)
            want = expected_weights_bytes(network, manifest.get("weights_layers"), header)
            if wp.stat().st_size != want:
                problems.append(f"{weights} has {wp.stat().st_size} bytes; the cfg stores {want}")


def assert_bundle(path: str | Path) -> None:
    problems = check_bundle(path)
    if problems:
        raise BundleError(path, problems)
