"""Export page: the cfg (exactly what `mixdesign export` writes), its lint, the design YAML, a training cfg and a
zip with a README naming the darknet command that trains it.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from designer import Arch, Network
from designer.edits import IMAGENET_RECIPE, TrainingRecipe
from designer.errors import EditError
from designer.webapp import cache, state
from designer.webapp.export import ExportFiles, bundle, export_files, training_cfg
from designer.webapp.model import safe_filename
from designer.webapp.shell import guarded


def _training_settings() -> TrainingRecipe:
    t = IMAGENET_RECIPE
    state.remember(
        {
            "tr_batch": t.batch,
            "tr_sub": t.subdivisions,
            "tr_lr": t.learning_rate,
            "tr_maxb": t.max_batches,
            "tr_burn": t.burn_in,
        }
    )
    with st.expander("Training settings for the -train.cfg ([net] keys darknet reads when training)"):
        c = st.columns(5)
        batch = c[0].number_input("batch", 1, 4096, None, key="tr_batch")
        sub = c[1].number_input("subdivisions", 1, 1024, None, key="tr_sub")
        lr = c[2].number_input("learning_rate", 0.0, 10.0, None, step=0.01, format="%.4f", key="tr_lr")
        maxb = c[3].number_input("max_batches", 1, 100_000_000, None, step=1000, key="tr_maxb")
        burn = c[4].number_input("burn_in", 0, 1_000_000, None, key="tr_burn")
        st.caption(
            "policy=poly, power=4, momentum=0.9, decay=0.0005: the ImageNet recipe of darknet's "
            "darknet53.cfg. max_batches must not be 0: darknet's `classifier train` would never stop."
        )
    # an emptied field falls back to the recipe's value
    return replace(
        t,
        batch=int(batch or t.batch),
        subdivisions=int(sub or t.subdivisions),
        learning_rate=t.learning_rate if lr is None else float(lr),
        max_batches=int(maxb) if maxb else t.max_batches,
        burn_in=t.burn_in if burn is None else int(burn),
    )


def _onnx_sources(network: Network) -> dict[str, tuple[Network, str | None]]:
    """Label -> (network, .weights path or None): the current design with random weights, and every network a
    finished quick-train run wrote weights for (its cfg, at the training size and class count)."""
    from pathlib import Path

    from designer import parse_cfg
    from designer.webapp import jobs

    out: dict[str, tuple[Network, str | None]] = {"this design, random weights": (network, None)}
    job = jobs.get(state.ws().jobs.get("train"))
    if job is not None and not job.running and job.result:
        for name, r in job.result.items():
            if Path(r.weights_path).is_file() and Path(r.cfg_path).is_file():
                out[f"{name}, weights from quick-train"] = (parse_cfg(Path(r.cfg_path)), str(r.weights_path))
    return out


def _onnx(name: str, network: Network) -> None:
    st.subheader("ONNX")
    st.caption(
        "The network as ONNX (what `mixdesign onnx` writes: optimised build, batch 1, opset 17; node names "
        "L<layer>_<type>), for onnxruntime, OpenVINO or TensorRT. Built on request: it loads torch."
    )
    sources = _onnx_sources(network)
    c1, c2 = st.columns([3, 2])
    pick = c1.selectbox("Weights", list(sources), key="onnx_source")
    if pick is None:  # not while `sources` holds this design (index 0 is selected)
        return
    if c2.button("Build .onnx", key="onnx_build", width="stretch"):
        from designer.webapp.export import onnx_file

        net, weights = sources[pick]
        try:
            st.session_state["onnx_built"] = (pick, onnx_file(net, weights))
        except Exception as e:  # noqa: BLE001 (MixdesignError and the exporter's own: shown, not raised)
            st.session_state.pop("onnx_built", None)
            st.error(f"Cannot export: {e}")
    built = st.session_state.get("onnx_built")
    if built is not None and built[0] == pick:
        stem = name if pick.startswith("this design") else pick.split(",", 1)[0]
        c2.download_button(
            f"Download .onnx ({len(built[1]) / 1e6:.1f} MB)",
            built[1],
            file_name=safe_filename(stem, ".onnx"),
            mime="application/octet-stream",
            key="dl_onnx",
            width="stretch",
            on_click="ignore",
        )


def _training_text(network: Network, recipe: TrainingRecipe) -> str:
    """The -train.cfg with the chosen settings, or with the ImageNet recipe (and an error saying why) where darknet
    would refuse them."""
    try:
        return training_cfg(network, recipe)
    except EditError as e:  # e.g. batch not a multiple of subdivisions
        st.error(f"Training settings: {e}. The -train.cfg below uses the ImageNet recipe instead.")
        return training_cfg(network)


def render() -> None:
    st.title("Export")
    d = state.design()
    low, a = cache.current(d)
    f = export_files(d, low, a, _training_text(low.network, _training_settings()))
    _downloads(f, zip_name=safe_filename(d.name, ".zip"))
    _onnx(d.name, low.network)
    _lint(low.cfg_text)
    _darknet_command(f)
    _file_views(f, layers_only=not isinstance(d, Arch))


def _downloads(f: ExportFiles, *, zip_name: str) -> None:
    """One download button per file (the design YAML only for a design), and the zip of them all."""
    buttons: tuple[tuple[str, str | bytes | None, str, str, str], ...] = (  # label, content, name, MIME, key
        ("Download cfg", f.cfg_text, f.cfg_name, "text/plain", "dl_cfg"),
        ("Download -train.cfg", f.train_text, f.train_name, "text/plain", "dl_train"),
        ("Download design YAML", f.design_yaml, f.yaml_name, "text/yaml", "dl_yaml"),
        ("Download zip (cfg, design, README)", bundle(f.zipped()), zip_name, "application/zip", "dl_zip"),
    )
    for column, (label, data, name, mime, key) in zip(st.columns(4), buttons):
        if data is None:  # no design YAML for a layers-only design: its column stays empty
            continue
        column.download_button(
            label,
            data,
            file_name=name,
            mime=mime,
            type="primary" if key == "dl_cfg" else "secondary",
            key=key,
            width="stretch",
            on_click="ignore",
        )


def _lint(cfg_text: str) -> None:
    """The cfg linter's findings (designer.lint), worst severity first in the heading."""
    st.subheader("Lint")
    diags = cache.lint_cfg(cfg_text)
    if not diags:
        st.success("Clean: AlexeyAB darknet and hank-ai darknet both read this cfg as written.")
    else:
        worst = "error" if any(x.severity == "error" for x in diags) else "warning"
        getattr(st, "error" if worst == "error" else "warning")(f"{len(diags)} finding(s):")
        st.dataframe(
            pd.DataFrame([{"line": x.line, "severity": x.severity, "message": x.message} for x in diags]),
            hide_index=True,
            width="stretch",
        )


def _darknet_command(f: ExportFiles) -> None:
    """The darknet command that trains the -train.cfg, and what the .data file needs (its classes=)."""
    st.subheader("Train it with darknet")
    st.code(f"./darknet classifier train imagenet.data {f.train_name}", language="bash")
    st.caption(
        "AlexeyAB darknet; hank-ai's fork (Darknet V5) no longer trains classifiers. The README in the zip "
        "shows the .data file; "
        + (
            f"its classes= must be {f.classes}."
            if f.classes
            else f"this cfg ends in [{f.last}], not [softmax]: it is not a classifier."
        )
    )


def _file_views(f: ExportFiles, *, layers_only: bool) -> None:
    """The cfg on the left; the design YAML (if any) and the README on the right."""
    left, right = st.columns(2)
    with left:
        st.subheader(f"{f.cfg_name}")
        if layers_only:
            st.caption("A layers-only design: this is its cfg as the tool reads it, written back in canonical form.")
        st.code(f.cfg_text, language="ini", height=600)
    with right:
        if f.design_yaml:
            st.subheader(f"{f.yaml_name}")
            st.code(f.design_yaml, language="yaml", wrap_lines=True)
        st.subheader("README.md")
        st.code(f.readme, language="markdown", height=400, wrap_lines=True)


if __name__ == "__main__":
    guarded(render)
