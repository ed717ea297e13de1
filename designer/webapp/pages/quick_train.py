"""Quick-train page: train one or two designs on a small image set in a background job, with live curves, a stop
button, and the .weights and metrics to download.

The job runs runtime.train.train (the network darknet would train: built from the emitted cfg) in a thread kept
in designer/webapp/jobs.py, so page switches and widget clicks do not stop it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from designer import Arch
from designer.webapp import cache, history, jobs, persist, state
from designer.webapp.model import safe_filename
from designer.webapp.shell import guarded

RUNS_ROOT = os.environ.get("MIXDESIGN_RUNS_DIR", "runs/quick")  # one folder per job below it
PAGE = "train"


def _start(picked: list[str], settings: dict) -> None:
    from designer.webapp.workers import train_work

    sources = state.measurable()
    runs = []
    for label in picked[:2]:
        d = sources[label]
        runs.append((label.split(": ", 1)[-1], d if isinstance(d, Arch) else d.network))
    names = [r[0] for r in runs]
    if len(set(names)) < len(names):  # the same design twice (e.g. current == preset): keep both, distinct names
        runs = [(f"{n} ({i + 1})", s) for i, (n, s) in enumerate(runs)]
    work = persist.recording_training(train_work(runs, settings, RUNS_ROOT), settings)  # stored when it ends
    job = jobs.start(
        "train", " vs ".join(r[0] for r in runs), work, meta={"settings": settings, "designs": [r[0] for r in runs]}
    )
    state.ws().jobs[PAGE] = job.id


def _stop(job_id: str) -> None:
    job = jobs.get(job_id)
    if job is not None:
        job.stop.set()
        job.report("stopping after the current batch")


def _controls(running: bool) -> None:
    sources = state.measurable()
    labels = list(sources)
    devs = cache.devices()
    from designer.webapp.workers import default_device

    state.remember(
        {
            "qt_designs": [labels[0]],
            "qt_device": default_device(devs),
            "qt_data": "digits",
            "qt_size": 32,
            "qt_epochs": 10,
            "qt_batch": 64,
            "qt_lr": 0.05,
        }
    )
    st.session_state["qt_designs"] = [x for x in st.session_state["qt_designs"] if x in labels][:2] or [labels[0]]
    if st.session_state["qt_device"] not in devs:
        st.session_state["qt_device"] = "cpu"
    c1, c2 = st.columns([3, 2])
    picked = c1.multiselect(
        "Designs (one or two)",
        labels,
        key="qt_designs",
        max_selections=2,
        help="the current design, your saved copies, or a preset; each is re-lowered at the "
        "training input size and class count",
    )
    device = c2.selectbox("Device", list(devs), index=None, format_func=lambda k: devs[k], key="qt_device")
    c = st.columns(5)
    data = c[0].selectbox(
        "Data",
        ["digits"],
        index=None,
        key="qt_data",
        help="scikit-learn's handwritten digits: 1797 8x8 grey images, 10 classes, no download; "
        "resized to the input size",
    )
    size = c[1].number_input(
        "Input size (px)",
        32,
        224,
        None,
        step=8,
        key="qt_size",
        help="at least the total stride of the design (32 for MixNet/EfficientNet)",
    )
    epochs = c[2].number_input("Epochs", 1, 200, None, key="qt_epochs")
    batch = c[3].number_input("Batch", 8, 1024, None, step=8, key="qt_batch")
    lr = c[4].number_input("Learning rate", 0.0001, 5.0, None, step=0.01, format="%.4f", key="qt_lr")
    settings = dict(
        data=data or "digits",
        size=int(size or 32),
        epochs=int(epochs or 1),
        batch=int(batch or 64),
        lr=float(lr or 0.05),
        device=device or "cpu",
    )
    if list(devs) == ["cpu"]:
        st.caption("No CUDA device on this machine: training runs on the CPU.")
    st.button(
        "Train",
        type="primary",
        disabled=running or not picked,
        on_click=_start,
        args=(picked, settings),
        help="runs in the background: switching pages or changing widgets does not stop it",
    )


def _downloads(job: jobs.Job) -> None:
    results = job.result or {}
    for name, r in results.items():
        st.markdown(
            f"**{name}**: best val top-1 {100 * r.best_top1:.1f}% at epoch {r.best_epoch}"
            + (" (stopped early)" if r.stopped else "")
        )
        cols = st.columns(4)
        for col, (label, path, mime) in zip(
            cols,
            (
                ("weights (.weights)", r.weights_path, "application/octet-stream"),
                ("cfg", r.cfg_path, "text/plain"),
                ("metrics.csv", r.metrics_csv, "text/csv"),
                ("metrics.json", r.metrics_json, "application/json"),
            ),
        ):
            p = Path(path)
            if p.is_file():
                col.download_button(
                    label,
                    p.read_bytes(),
                    file_name=safe_filename(name, "-" + p.name),
                    mime=mime,
                    key=f"dl_{job.id}_{name}_{label}",
                    on_click="ignore",
                    width="stretch",
                )
            else:
                col.caption(f"{label}: not written (no epoch finished)")


def _live(job_id: str) -> None:
    from designer.webapp import charts

    job = jobs.get(job_id)
    if job is None:
        st.info("The last training job is no longer available (the server restarted).")
        return
    events = job.snapshot_events()
    if job.running:
        st.progress(job.progress, text=f"{job.message} ({job.elapsed_s:.0f} s)")
        st.button("Stop", on_click=_stop, args=(job.id,), key=f"stop_{job.id}")
    elif job.status == "failed":
        st.error(f"Training failed: {job.error}")
    else:
        st.success(f"Training {job.status} after {job.elapsed_s:.0f} s: {job.label}.")
    runs: dict[str, list[dict]] = {}
    for e in events:
        runs.setdefault(e["design"], []).append(e)
    if runs:
        st.plotly_chart(charts.training_curves(runs), width="stretch", key=f"curves_{job.id}_{len(events)}")
        table = pd.DataFrame(
            [
                {
                    "design": e["design"],
                    "epoch": e["epoch"],
                    "train loss": e["train_loss"],
                    "val loss": e["val_loss"],
                    "val top-1 (%)": 100 * e["val_top1"],
                    "images/s": e["images_per_s"],
                    "elapsed (s)": e["elapsed_s"],
                }
                for e in events
            ]
        )
        st.dataframe(table, hide_index=True, width="stretch")
    if not job.running and job.status != "failed":
        _downloads(job)


def render() -> None:
    st.title("Quick-train")
    st.caption(
        "A quick check that a design learns, not an ImageNet run: train on a small image set, watch loss and "
        "accuracy, keep the .weights (darknet's format, for the cfg shown) and the metrics."
    )
    job_id = state.ws().jobs.get(PAGE)
    job = jobs.get(job_id)
    running = job is not None and job.running
    _controls(running)
    if job_id is None:
        history.training_runs()  # every recorded run: this app, other sessions, `mixdesign train`
        return
    st.subheader(f"Run: {job.label}" if job else "Run")

    @st.fragment(run_every=1.0 if running else None)
    def live() -> None:
        _live(job_id)
        j = jobs.get(job_id)
        if running and j is not None and not j.running:
            st.rerun(scope="app")  # finished: redraw the controls (Train enabled again) and the downloads

    live()
    history.training_runs()


if __name__ == "__main__":
    guarded(render)
