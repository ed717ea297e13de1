"""What the Export page hands out: the cfg (exactly `mixdesign export`'s text), the design YAML, an optional
training cfg with [net] training keys set, and a zip with a README naming the darknet command that trains it.

Why a separate training cfg: the designed cfg's [net] holds only the input size, and with darknet's defaults
(max_batches=0) `classifier train` loops forever (../shared/darknet/NOTES.md section 2). Pure: no streamlit.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from designer import Arch, Network, dump_yaml, emit_cfg
from designer.edits import IMAGENET_RECIPE, TrainingRecipe, training_net
from designer.webapp.analysis import Analysis
from designer.webapp.model import Design, Lowered, safe_filename


def training_cfg(network: Network, recipe: TrainingRecipe = IMAGENET_RECIPE) -> str:
    """The same network with [net] training keys set (layers and the embedded design are unchanged)."""
    return emit_cfg(training_net(network, recipe))


def readme(
    name: str, cfg_file: str, train_cfg_file: str, yaml_file: str | None, classes: int | None, summary: dict[str, float]
) -> str:
    """README.md of the zip. `classes`: the last layer's outputs when it is [softmax]/[cost], else None."""
    design_line = (
        f"- `{yaml_file}`: the design (open it in mixnet-designer, or `mixdesign` on the command line)\n"
        if yaml_file
        else ""
    )
    if classes is None:
        classes_note = (
            "This cfg does not end in [softmax]: it is not a classifier, and `classifier train` needs one "
            "(use the training command of its own kind, e.g. `./darknet detector train`)."
        )
    else:
        classes_note = f"`classes` must equal the last layer's outputs ({classes} here). Then:"
    return f"""# {name}

Made with mixnet-designer.

- `{cfg_file}`: the network, exactly as `mixdesign export` writes it ([net] holds only the input size)
- `{train_cfg_file}`: the same network with [net] training keys (batch, subdivisions, learning_rate, policy,
  max_batches, ...) set; with darknet's default max_batches=0, `classifier train` would never stop
{design_line}
## Cost (counted as darknet counts)

- params (trainable): {summary["params"]:,}
- params stored in .weights (floats, BN running stats included): {summary["params_stored"]:,}
- FMA (multiply-adds): {summary["fma"]:,}  (FLOPs = 2 x FMA = {summary["flops"]:,})
- Darknet BFLOPs (what darknet prints as Total BFLOPS): {summary["bflops"]:.3f}

## Train it with darknet

Use AlexeyAB darknet (https://github.com/AlexeyAB/darknet); hank-ai's fork (Darknet V5) no longer trains
classifiers. Write a data file, e.g. `imagenet.data`:

    classes={classes if classes is not None else "<classes>"}
    train=data/train.list
    valid=data/valid.list
    labels=data/labels.txt
    backup=backup/
    top=5

{classes_note}

    ./darknet classifier train imagenet.data {train_cfg_file}

and, to check accuracy on the validation list:

    ./darknet classifier valid imagenet.data {train_cfg_file} backup/{train_cfg_file.rsplit(".", 1)[0]}_last.weights
"""


def bundle(files: dict[str, str]) -> bytes:
    """A zip of text files (name -> content), deflated, with fixed timestamps so equal inputs give equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


@dataclass(frozen=True)
class ExportFiles:
    """The files the page offers for one design, named after it: the cfg, the -train.cfg, the design YAML (None
    for a layers-only design), and the zip's README; `last` is the cfg's last layer type and `classes` its outputs
    where that is [softmax] or [cost] (else None)."""

    cfg_name: str
    cfg_text: str
    train_name: str
    train_text: str
    yaml_name: str
    design_yaml: str | None
    readme: str
    last: str
    classes: int | None

    def zipped(self) -> dict[str, str]:
        """Name -> text of the zip's files, in their order: cfg, -train.cfg, design YAML (if any), README."""
        files = {self.cfg_name: self.cfg_text, self.train_name: self.train_text}
        if self.design_yaml:
            files[self.yaml_name] = self.design_yaml
        files["README.md"] = self.readme
        return files


def export_files(d: Design, low: Lowered, a: Analysis, train_text: str) -> ExportFiles:
    """What the page shows and offers for design `d` (its lowering `low` and analysis `a`), with the -train.cfg
    text already made from the chosen training settings."""
    cfg_name = safe_filename(d.name, ".cfg")
    train_name = safe_filename(d.name, "-train.cfg")
    yaml_name = safe_filename(d.name, ".yaml")
    design_yaml = dump_yaml(d) if isinstance(d, Arch) else None
    summary = a.summary()
    last = a.network.layers[-1].type
    classes = int(a.shapes[-1].outputs) if last in ("softmax", "cost") else None
    return ExportFiles(
        cfg_name=cfg_name,
        cfg_text=low.cfg_text,
        train_name=train_name,
        train_text=train_text,
        yaml_name=yaml_name,
        design_yaml=design_yaml,
        readme=readme(d.name, cfg_name, train_name, yaml_name if design_yaml else None, classes, summary),
        last=last,
        classes=classes,
    )


def onnx_file(network: Network, weights: str | None = None) -> bytes:
    """The `.onnx` of a network, as `mixdesign onnx` writes it (optimised build, batch 1, opset 17), with darknet
    .weights when given (a quick-train run's) and random weights otherwise. Imports torch and onnx."""
    from designer.api import export_onnx

    return export_onnx(network, weights=weights).data
