"""The inference backends a network is measured under, with their labels in the app: the one list that the CLI's
--backend, the Latency and Explore pages, sweeps and runtime.bench.measure(backend=...) take (runtime.deploy
implements onnxruntime and OpenVINO; torch is runtime.bench's own)."""

BACKEND_LABELS = {"torch": "torch (runtime)", "onnxruntime": "onnxruntime (ONNX)", "openvino": "OpenVINO (ONNX)"}
