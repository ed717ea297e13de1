"""Deployment: the darknet network as ONNX, measured where it is deployed.

    onnx_export.py  DarknetModel (plain or optimised build, optional darknet .weights) -> checked ONNX, node names
                    `L<layer>_<type>` (`L5-11_mixconv` for a fused span), every [yolo] output; `mixdesign onnx`
    backends.py     the Backend base class and its onnxruntime and OpenVINO backends: prepare(network, batch,
                    dtype, threads, device) -> a runner that runtime.bench.measure(backend=...) times, and whose
                    profiles (onnxruntime's profiler, OpenVINO's PERF_COUNT) map back to darknet layers by node name

The torch backend stays in runtime/bench.py; `measure(..., backend="onnxruntime" | "openvino")` dispatches here
and returns the same BenchResult. torch, onnx, onnxruntime and openvino are imported by these modules, never by
`import designer`.
"""

from designer.backends import BACKEND_LABELS  # the one list of backends (importing this package stays light)

__all__ = ["BACKEND_LABELS", "DEVICE_KINDS", "check_backend_device"]

#: The device kinds each backend runs on here (designer.machine.Device.kind): OpenVINO through its CPU plugin only.
DEVICE_KINDS = {"torch": ("cpu", "cuda"), "onnxruntime": ("cpu", "cuda"), "openvino": ("cpu",)}


def check_backend_device(backend: str, device) -> None:
    """A BenchError (one line, with the fix) when `backend` does not run on `device` (a designer.machine.Device
    or its spelling) here; checked before anything is built or the device's memory is asked."""
    from designer.machine import Device

    dev = Device.parse(device)
    if backend in DEVICE_KINDS and dev.kind not in DEVICE_KINDS[backend]:
        from runtime.bench import BenchError

        raise BenchError(
            f"device {dev}: the {backend} backend runs on the CPU here (this tool drives OpenVINO's "
            f"CPU plugin only); measure {backend} with --device cpu, or use --backend torch or "
            "onnxruntime on CUDA"
        )
