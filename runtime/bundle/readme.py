"""The README of a Darknet bundle: the exact command, what each file is, and the forks' differences.

Facts from ../shared/darknet/DIALECTS.md (hank-ai's Darknet V5 has no `classifier` verb; both forks train
detectors) and AlexeyAB's classifier.c / detector.c (-dont_show for headless machines, -topk for top-k
accuracy during classifier training, -map for mAP during detector training, -clear to restart the
iteration count of given weights).
"""

from __future__ import annotations

from designer.ir import Network


def _net_summary(net: Network) -> str:
    n = net.net
    keys = [
        "width",
        "height",
        "channels",
        "batch",
        "subdivisions",
        "learning_rate",
        "policy",
        "power",
        "steps",
        "scales",
        "burn_in",
        "max_batches",
        "momentum",
        "decay",
        "flip",
        "min_crop",
        "max_crop",
    ]
    parts = []
    for k in keys:
        v = n.get(k)
        if v is None or (k == "power" and n["policy"] != "poly") or (k == "burn_in" and not v):
            continue
        parts.append(f"{k}={','.join(str(x) for x in v) if isinstance(v, tuple) else v}")
    return ", ".join(parts)


def readme_text(m: dict, net: Network) -> str:
    """README.md for the bundle described by manifest `m`."""
    return "\n".join(_train_section(m) + _weights_note(m) + _files_section(m, net) + _label_names_section(m))


def _train_section(m: dict) -> list[str]:
    """The title, what the bundle was made from, and the command to run from the bundle's folder, with the
    forks that can run it."""
    name, kind = m["name"], m["kind"]
    lines = [
        f"# Darknet {kind} bundle: {name}",
        "",
        f"Made by `mixdesign bundle` from data `{m['source_data']}`: {m['train_images']} training and "
        f"{m['valid_images']} validation images, {m['classes']} classes, input {m['size']}x{m['size']}; "
        f"{m['params']:,} parameters, {m['fma']:,} multiply-adds per image.",
        "",
        "## Train",
        "",
        "Every path in this folder is relative to it: run darknet **from this folder** "
        "(it can be moved or copied to the training machine as a whole).",
        "",
        "```sh",
        f"cd {m.get('dir', '<this folder>')}",
        m["command"],
        "```",
        "",
    ]
    if kind == "classifier":
        return lines + [
            "This needs **AlexeyAB darknet** (github.com/AlexeyAB/darknet). hank-ai's fork (Darknet V5) no "
            "longer trains or runs classifiers: `darknet classifier ...` there only prints its usage.",
            "",
            "`-topk` prints the top-k validation accuracy (top= in the .data file) every few epochs; "
            "`-dont_show` is for machines without a display. Weights are written to `backup/` "
            f"(`{name}_last.weights` every 100 iterations, `{name}_final.weights` at the end).",
            "",
        ]
    return lines + [
        "This trains in AlexeyAB darknet and in hank-ai's Darknet V5 alike (the cfg uses only keys both "
        "read); `-map` computes mAP on the valid list as it goes. Weights go to `backup/`.",
        "",
    ]


def _weights_note(m: dict) -> list[str]:
    """What the included weights hold (nothing when the bundle has none)."""
    if not m.get("weights"):
        return []
    if m["kind"] == "detector":
        lines = [
            f"`{m['weights']}` holds the quick-trained backbone: the first {m['weights_layers']} layers "
            "(what `darknet partial` would cut); the head starts from random weights.",
            "",
        ]
    else:
        lines = [f"`{m['weights']}` holds quick-trained weights for this exact cfg.", ""]
    return lines + ["`-clear` (and a zeroed image counter in the file) start the iteration count at 0.", ""]


def _files_section(m: dict, net: Network) -> list[str]:
    """One line per file or folder of the bundle."""
    classifier = m["kind"] == "classifier"
    lines = [
        "## Files",
        "",
        f"- `{m['cfg']}`: the network with a training [net] section: {_net_summary(net)}",
        f"- `{m['data']}`: classes, train/valid lists, {'labels' if classifier else 'names'}, "
        "backup folder" + (", top-k" if classifier else ""),
        f"- `{m['labels']}`: one class name a line, in class-index order",
        "- `train.txt`, `valid.txt`: image paths, one a line",
    ]
    if classifier:
        lines += [
            "- `data/train/<index>_<label>.png`, `data/valid/...`: the images. darknet takes each image's "
            "label from its path: the one label that occurs in it as a substring."
        ]
    else:
        lines += [
            "- `data/train/<index>.png` with `<index>.txt` next to it (`class cx cy w h`, relative to the "
            "image; YOLO format), and the same under `data/valid/`."
        ]
    return lines + [
        "- `backup/`: darknet writes its weights here",
        "- `bundle.json`: what was written (checked by `runtime.bundle.check.check_bundle`)",
        "",
    ]


def _label_names_section(m: dict) -> list[str]:
    """The renamed class names and the data's own ones (nothing when no name had to change)."""
    if not m.get("renamed_labels"):
        return []
    return [
        "## Label names",
        "",
        "The data's own class names would make darknet's substring match ambiguous (a name inside another, "
        "or inside the image file names), so the bundle uses these names:",
        "",
        *(f"- `{new}` = {old}" for new, old in m["renamed_labels"].items()),
        "",
    ]
