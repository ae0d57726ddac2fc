"""Runs in other formats: a plain transformers folder (`transformers_format`), ONNX (`onnx_format`), the model
card (`card`) and pushing to the hub (`push`)."""
