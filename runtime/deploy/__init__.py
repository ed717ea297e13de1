"""Deployment runtimes: ONNX export and the onnxruntime / OpenVINO backends."""
