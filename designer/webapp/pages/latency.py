"""Latency page: measure a design with the runtime benchmark in a background job, see median/IQR and where the
time goes per layer against where the FMA are, and keep a history of measured variants (latency vs FMA).

The measurement is runtime.bench.measure on the network built from the design's cfg; torch is imported only
when this page asks for devices or a job starts.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from designer.backends import BACKEND_LABELS
from designer.webapp import cache, fmt, history, jobs, persist, state
from designer.webapp.model import lowered
from designer.webapp.shell import guarded

PAGE = "bench"
BACKENDS = BACKEND_LABELS


def _start(label: str, settings: dict) -> None:
    from designer.webapp.workers import bench_work

    d = state.measurable()[label]
    name = label.split(": ", 1)[-1]
    work = bench_work(lowered(d).network, name, settings)
    work = persist.recording_bench(work, name, lowered(d).network, settings)  # stored when it finishes
    job = jobs.start("bench", name, work, meta={"settings": settings})
    state.ws().jobs[PAGE] = job.id


def record_finished() -> None:
    """Move a finished measurement into the session's history (once)."""
    w = state.ws()
    job = jobs.get(w.jobs.get(PAGE))
    if job is not None and job.status == "done" and not job.meta.get("recorded"):
        job.meta["recorded"] = True
        w.bench_history.append(job.result)


def _controls(running: bool) -> None:
    devs = cache.devices()
    labels = list(state.measurable())
    _remember_settings(labels, devs)
    label, device, backend = _design_device_backend(labels, devs)
    settings = {"device": device, **_timing_settings(device, backend), "backend": backend}
    st.button(
        "Measure",
        type="primary",
        disabled=running or label is None,
        on_click=_start,
        args=(label, settings),
        help="runs in the background: switching pages or changing widgets does not stop it",
    )
    from designer.webapp.calibration import model_section

    model_section(settings, label)


MEMORY_FORMATS = {"auto": "auto (NHWC on CPU)", "nhwc": "NHWC (channels_last)", "nchw": "NCHW"}


def _remember_settings(labels: list[str], devs: dict[str, str]) -> None:
    """Keep the page's settings across page switches; a design or device that is gone falls back to the first."""
    from designer.webapp.workers import default_device

    state.remember(
        {
            "lat_design": labels[0],
            "lat_device": default_device(devs),
            "lat_batch": 1,
            "lat_dtype": "fp32",
            "lat_threads": 0,
            "lat_min_run": 1.0,
            "lat_opt": True,
            "lat_cl": "auto",
            "lat_per_layer": True,
            "lat_mode": "infer",
            "lat_backend": "torch",
        }
    )
    if st.session_state["lat_design"] not in labels:  # the current design was renamed, a saved one dropped
        st.session_state["lat_design"] = labels[0]
    if st.session_state["lat_device"] not in devs:
        st.session_state["lat_device"] = "cpu"


def _design_device_backend(labels: list[str], devs: dict[str, str]) -> tuple[str | None, str | None, str]:
    """The first row: which design, on which device, under which backend (torch when none is picked)."""
    c1, c2, c3 = st.columns([3, 2, 2])
    label = c1.selectbox("Design to measure", labels, index=None, key="lat_design")
    device = c2.selectbox("Device", list(devs), index=None, format_func=lambda k: devs[k], key="lat_device")
    backend = (
        c3.selectbox(
            "Backend",
            list(BACKENDS),
            index=None,
            format_func=lambda k: BACKENDS.get(k, k),
            key="lat_backend",
            help="torch runs the runtime's modules; onnxruntime and OpenVINO run the exported ONNX "
            "model (fp32 unless bf16 is picked; OpenVINO on the CPU only)",
        )
        or "torch"
    )
    if list(devs) == ["cpu"]:
        st.info("No CUDA device on this machine: the measurement runs on the CPU, and the results say so.")
    return label, device, backend


def _dtypes_for(device: str | None, backend: str) -> list[str]:
    """The dtypes the page offers: fp16 on CUDA only; onnxruntime times fp32, OpenVINO fp32 or bf16."""
    dtypes = ["fp32", "fp16", "bf16"] if str(device).startswith("cuda") else ["fp32", "bf16"]
    return {"onnxruntime": ["fp32"], "openvino": ["fp32", "bf16"]}.get(backend, dtypes)


def _timing_settings(device: str | None, backend: str) -> dict:
    """The second row and the mode: batch, dtype (one the backend takes), threads, timed seconds, build options,
    per-layer timing, inference or a training step; emptied fields fall back to their defaults."""
    c = st.columns(6)
    batch = c[0].number_input("Batch", 1, 256, None, key="lat_batch")
    dtypes = _dtypes_for(device, backend)
    if st.session_state["lat_dtype"] not in dtypes:
        st.session_state["lat_dtype"] = "fp32"
    dtype = c[1].selectbox("dtype", dtypes, index=None, key="lat_dtype")
    threads = c[2].number_input("CPU threads (0 = torch default)", 0, 256, None, key="lat_threads")
    min_run = c[3].number_input("Timed seconds (min)", 0.2, 30.0, None, step=0.5, key="lat_min_run")
    optimized = c[4].checkbox("Optimized model", key="lat_opt", help="BN folded, fused MixConv (runtime)")
    layout = c[4].selectbox(
        "Memory format",
        list(MEMORY_FORMATS),
        format_func=lambda v: MEMORY_FORMATS[v],
        key="lat_cl",
        disabled=backend != "torch",
        help="torch's layout of activations and weights; auto is NHWC on CPU (faster there), NCHW on CUDA",
    )
    per_layer = c[5].checkbox(
        "Per-layer times", key="lat_per_layer", help="also time every layer, for the time-vs-FMA view (takes longer)"
    )
    mode = st.radio(
        "What to time",
        ["infer", "train"],
        key="lat_mode",
        horizontal=True,
        format_func={
            "infer": "inference (forward pass)",
            "train": "training step (forward, loss, backward, SGD step)",
        }.get,
        help="a training step runs the plain build with BN in training mode (Optimized does not "
        "apply); per-layer times are then forward + backward",
    )
    return dict(
        batch=int(batch or 1),
        dtype=dtype,
        channels_last={"nhwc": True, "nchw": False}.get(str(layout)) if backend == "torch" else False,
        threads=int(threads or 0) or None,
        optimized=bool(optimized),
        per_layer=bool(per_layer),
        min_run_time=float(min_run or 1.0),
        mode=mode or "infer",
    )


def _result(r: dict) -> None:
    dev = "CPU" if r["device"] == "cpu" else r["device"].upper()
    what = "per training step" if r.get("mode") == "train" else "per batch"
    st.success(
        f"{r['label']}: median {fmt.ms_text(r['median_ms'])} {what} of {r['batch']} "
        f"(IQR {fmt.ms_text(r['iqr_ms'])}), measured on {dev}: {r['device_name']}"
        + (f", {r['threads']} threads" if r["device"] == "cpu" else "")
        + f", {r['dtype']}"
        + f", {BACKENDS.get(r.get('backend', 'torch'), r.get('backend'))}"
        + (", optimized" if r["optimized"] else ", plain")
        + (", channels_last" if r["channels_last"] else "")
    )
    if r.get("unstable"):  # designer/noise.py's verdict on the spread and the load around the timing
        from designer.noise import warning

        st.warning(warning(r["unstable"]).capitalize() + ". Compare variants only once it is stable.")
    cols = st.columns(5)
    cols[0].metric("Median latency (ms per batch)", f"{r['median_ms']:.3f}")
    cols[1].metric("IQR (ms)", f"{r['iqr_ms']:.3f}")
    cols[2].metric("Timed runs", f"{r.get('runs', 0)}", help="the runs the median and IQR rest on")
    cols[3].metric(fmt.LABEL_FMA + " per image", fmt.millions(r["fma_counted"], 1))
    cols[4].metric("Throughput (G FMA per s)", f"{r['fma_per_s'] / 1e9:.2f}")
    st.caption(
        f"Load: other processes kept {r.get('load_before', 0.0):.1f} cores busy just before the timing and "
        f"{r.get('load_during', 0.0):.1f} during it (of the cores this process may use)."
    )
    _beside_estimate(r)
    per = r.get("per_layer")
    if per:
        from designer.webapp import charts

        st.subheader("Where the time goes vs where the FMA are")
        st.caption(
            "One point per executed step (a layer, or a whole MixConv span where the optimized model fuses "
            "it): above the dotted line a step takes a bigger share of the time than of the FMA (depthwise "
            "and grouped convs, routes and SE layers typically do)."
        )
        st.plotly_chart(charts.layer_time_vs_fma(per), width="stretch")
        df = pd.DataFrame(per).rename(
            columns={"index": "first layer", "ms": "time (ms)", "fma": "FMA (multiply-adds, whole batch)"}
        )
        df["time share %"] = 100 * df.pop("time_share")
        df["FMA share %"] = 100 * df.pop("fma_share")
        st.dataframe(
            df.sort_values("time (ms)", ascending=False),
            hide_index=True,
            width="stretch",
            height=320,
            column_config={
                "time (ms)": st.column_config.NumberColumn(format="%.4f"),
                "time share %": st.column_config.NumberColumn(format="%.2f"),
                "FMA share %": st.column_config.NumberColumn(format="%.2f"),
            },
        )


def _beside_estimate(r: dict) -> None:
    """The latency model's estimate for the same design and setting, beside the measurement (designer/latency)."""
    from designer.webapp import estimate as latency

    design = next((d for label, d in state.measurable().items() if label.split(": ", 1)[-1] == r["label"]), None)
    if design is None:
        return
    e, about = latency.for_measurement(r, design)
    if e is None:
        st.caption(f"Estimate: {about}.")
    else:
        st.caption(
            f"Estimated {e.ms:.3f} ms ({e.low_ms:.3f}-{e.high_ms:.3f}) by the latency model ({about}): "
            f"measured / estimated = {r['median_ms'] / e.ms:.2f}."
        )


def _bench_progress(j: jobs.Job) -> tuple[float, str]:
    """A measurement's bar: its own progress, or the time spent of what such a measurement takes."""
    from designer.webapp.workers import expected_bench_s

    expected = expected_bench_s(j.meta.get("settings", {}))
    fraction = min(0.95, max(j.progress, j.elapsed_s / expected))
    return fraction, f"{j.label}: {j.message} ({j.elapsed_s:.1f} s of about {expected:.0f} s)"


def _history() -> None:
    hist = state.ws().bench_history
    if not hist:
        return
    from designer.webapp import charts

    st.subheader("Measured variants")
    st.plotly_chart(charts.latency_vs_fma(hist), width="stretch")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "design": h["label"],
                    "at": h["measured_at"],
                    "backend": h.get("backend", "torch"),
                    "device": f"{h['device']} ({h['device_name']})",
                    "mode": h.get("mode", "infer"),
                    "batch": h["batch"],
                    "dtype": h["dtype"],
                    "optimized": h["optimized"],
                    "median (ms)": h["median_ms"],
                    "IQR (ms)": h["iqr_ms"],
                    "runs": h.get("runs"),
                    "load before / during": f"{h.get('load_before', 0.0):.1f} / {h.get('load_during', 0.0):.1f}",
                    "unstable": h.get("unstable") or "",
                    "FMA per image (M multiply-adds)": h["fma_counted"] / 1e6,
                    "params (M)": h["params"] / 1e6,
                }
                for h in hist
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.button("Clear history", on_click=lambda: state.ws().bench_history.clear(), key="lat_clear")


def render() -> None:
    st.title("Latency")
    st.caption(
        "Measured with the runtime benchmark on the network built from the exported cfg: median and IQR of "
        "repeated forward passes after warm-up. FMA (multiply-adds) are the counted figure for one image."
    )
    record_finished()
    w = state.ws()
    job_id = w.jobs.get(PAGE)
    job = jobs.get(job_id)
    running = job is not None and job.running
    _controls(running)

    from designer.webapp.calibration import calibration_progress

    calibration_progress()
    from designer.webapp.job_view import follow

    follow(job_id, progress=_bench_progress, failed="The measurement failed")
    last = w.bench_history[-1] if w.bench_history else None
    if last is not None:
        _result(last)
    _history()
    history.measurements()  # every recorded measurement: this app, other sessions, `mixdesign bench`


if __name__ == "__main__":
    guarded(render)
