"""The Python API under the CLI and the app: what `mixdesign` and the Streamlit app do, as functions a notebook
can call. Keyword arguments, immutable results, errors from the MixdesignError family (designer.errors).

    load(source, ...)            -> Loaded(design, network, notes)          designer/api/sources.py
    measure(network, ...)        -> Measurement(results, recorded_in, ...)  designer/api/measure.py
    train(network, ...)          -> Trained(result, recorded)               designer/api/train.py
    sweep(design, vary=..., ...) -> Swept(plan, rows, failed)               designer/api/sweep.py
    export_cfg / export_onnx / bundle                                       designer/api/export.py
    calibrate / refresh / estimate (the latency model)                      designer/api/latency.py
    predict(network, images, ...) -> Prediction per image (top-k)          designer/api/predict.py
    open_workspace(path_or_url)  -> Workspace; history(ws, ...) -> History  designer/api/workspace.py, history.py
    record_measurements / record_training: the one mapping into the workspace (designer/api/record.py)

Importing this package loads neither torch nor streamlit nor the runtime: they load inside the functions that
need them (measure, train, sweep, export_onnx, bundle, calibrate, refresh).
"""

from designer.api.designs import save_design, save_import
from designer.api.export import OnnxExport, bundle, export_cfg, export_onnx
from designer.api.history import History, history
from designer.api.latency import Calibrated, Estimated, Refreshed, calibrate, estimate, refresh
from designer.api.measure import Measurement, devices, measure
from designer.api.predict import Prediction, predict
from designer.api.record import Recorded, design_label, record_measurements, record_training
from designer.api.sources import Loaded, SourceError, load
from designer.api.sweep import Swept, sweep
from designer.api.train import (
    Trained,
    begin_staging,
    check_train_values,
    existing_files,
    is_main_process,
    leave_process_group,
    load_split,
    train,
)
from designer.api.workspace import WorkspaceTarget, export_workspace, import_workspace, open_workspace

__all__ = [
    "Calibrated", "Estimated", "History", "Loaded", "Measurement", "OnnxExport", "Prediction", "Recorded", "Refreshed",
    "SourceError", "Swept", "Trained", "WorkspaceTarget", "bundle", "calibrate", "design_label", "estimate",
    "export_cfg", "export_onnx", "export_workspace", "history", "import_workspace", "load", "measure",
    "open_workspace", "predict", "record_measurements", "record_training", "refresh", "sweep", "train",
    "begin_staging", "devices", "save_design", "save_import", "check_train_values", "existing_files", "is_main_process", "leave_process_group", "load_split",
]  # fmt: skip
