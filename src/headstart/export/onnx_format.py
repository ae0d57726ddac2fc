"""`headstart export RUN --format onnx [--quantize int8]`: the whole model (backbone with its adapters,
pooling and head) as one ONNX graph, run by ONNX Runtime; int8 by ONNX Runtime's dynamic quantization, kept only
when it holds the accuracy.

    OUT/
      model.onnx              inputs input_ids, attention_mask (+ token_type_ids for pairs / QA on models with
                              segments), output logits (batch, labels) or per token (batch, seq, outputs)
      model.int8.onnx         with --quantize int8: weights int8 (per channel), activations quantized per call
      tokenizer files, headstart-onnx.json (task, labels, max length, inputs, multi-label), export-report.json

Written on torch.onnx (the dynamo exporter, the TorchScript one as a fallback) and onnxruntime.quantization:
optimum's ONNX exporter (optimum-onnx 0.1) needs transformers < 4.58 and knows only stock architectures.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from headstart.errors import HeadstartError

__all__ = ["OnnxModel", "export_onnx", "ONNX_FILE", "INT8_FILE", "META_FILE"]

ONNX_FILE, INT8_FILE, META_FILE, REPORT_FILE = "model.onnx", "model.int8.onnx", "headstart-onnx.json", "export-report.json"


class _Graph(torch.nn.Module):
    """The classifier with the inputs ONNX sees as positional arguments."""

    def __init__(self, model, segmented: bool) -> None:
        super().__init__()
        self.model, self.segmented = model, segmented

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids if self.segmented else None)


@dataclass
class OnnxMeta:
    task: str
    labels: list[str]
    multilabel: bool
    max_length: int
    inputs: list[str]
    file: str = ONNX_FILE  # which graph predictions use: model.onnx, or model.int8.onnx when it was kept


class OnnxModel:
    """An exported folder, run by ONNX Runtime: `logits(texts)` and, for classification, `predict_proba`."""

    def __init__(self, folder: str | Path, *, file: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.folder = Path(folder)
        self.meta = OnnxMeta(**json.loads((self.folder / META_FILE).read_text()))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = options.inter_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.folder / (file or self.meta.file)), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)

    def encode(self, texts: list) -> dict[str, np.ndarray]:
        if texts and isinstance(texts[0], tuple | list):
            enc = self.tokenizer([a for a, _ in texts], [b for _, b in texts], padding=True, truncation=True,
                                 max_length=self.meta.max_length, return_tensors="np", return_token_type_ids=True)
        else:
            enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.meta.max_length,
                                 return_tensors="np", return_token_type_ids=True)
        return {name: enc[name].astype(np.int64) for name in self.meta.inputs}

    def logits(self, texts: list, batch_size: int = 32) -> np.ndarray:
        parts = [self.session.run(None, self.encode(texts[i:i + batch_size]))[0] for i in range(0, len(texts), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.meta.labels)), dtype=np.float32)

    def predict_proba(self, texts: list, batch_size: int = 32) -> np.ndarray:
        logits = self.logits(texts, batch_size)
        if self.meta.multilabel:
            return 1 / (1 + np.exp(-logits))
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def export_onnx(run: str | Path, out: str | Path, *, quantize: str | None = None, overwrite: bool = False,
                eval_file: str | Path | None = None, max_drop: float = 0.005) -> dict:
    """Write OUT (see the module docstring) and return its report: parity with headstart, and for
    classification with a held-out file: accuracy and p50 latency of eager, fp32 and int8."""
    from headstart.export.measure import measure_export
    from headstart.export.transformers_format import claim_folder, model_folder
    from headstart.persist import atomic_folder, load_model

    if quantize not in (None, "int8"):
        raise HeadstartError(f"unknown --quantize {quantize!r}.", expected="int8", found=str(quantize),
                             fix="pass --quantize int8, or leave it out for fp32")
    _require_onnx()
    source = model_folder(run)
    model, tokenizer, meta = load_model(source)
    out = claim_folder(Path(out), overwrite, ONNX_FILE)
    segmented = meta.task in ("pairs", "qa") and getattr(model.backbone.config, "type_vocab_size", 0) >= 2
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if segmented else [])
    with atomic_folder(out) as tmp:  # a failed export leaves nothing behind, an earlier one intact
        _export_graph(_Graph(model.eval(), segmented).eval(), tokenizer, inputs, tmp / ONNX_FILE)
        tokenizer.save_pretrained(tmp)
        onnx_meta = OnnxMeta(meta.task, list(meta.labels), meta.multilabel, meta.max_length, inputs)
        (tmp / META_FILE).write_text(json.dumps(asdict(onnx_meta), indent=2))
        preprocessed = _quantize(tmp / ONNX_FILE, tmp / INT8_FILE) if quantize else None
        report = measure_export(tmp, model, tokenizer, meta, run=source.parent if source.name == "model" else source,
                                eval_file=eval_file, quantized=bool(quantize), max_drop=max_drop)
        if quantize:
            report["int8_preprocessed"] = preprocessed
        if report.get("kept") == INT8_FILE:
            onnx_meta.file = INT8_FILE
            (tmp / META_FILE).write_text(json.dumps(asdict(onnx_meta), indent=2))
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def _require_onnx() -> None:
    import importlib.util

    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise HeadstartError("ONNX export needs packages that are not installed.", expected="onnx, onnxruntime "
                             "and onnxscript", found="missing: " + ", ".join(missing),
                             fix='pip install "headstart[export]"')


def _export_graph(graph: torch.nn.Module, tokenizer, inputs: list[str], path: Path) -> None:
    sample = tokenizer(["a short text", "a second, rather longer text to pad against"], [
        "and its pair", "another"] if "token_type_ids" in inputs else None, padding=True, return_tensors="pt",
        return_token_type_ids=True)
    args = tuple(sample[name] for name in inputs)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    try:
        with torch.no_grad():
            torch.onnx.export(graph, args, str(path), input_names=inputs, output_names=["logits"], dynamo=True,
                              dynamic_shapes=tuple({0: batch, 1: seq} for _ in inputs), opset_version=18,
                              external_data=False, verbose=False)
    except Exception:  # a model the dynamo exporter cannot trace: the TorchScript exporter
        with torch.no_grad():
            torch.onnx.export(graph, args, str(path), input_names=inputs, output_names=["logits"], dynamo=False,
                              dynamic_axes={name: {0: "batch", 1: "seq"} for name in [*inputs, "logits"]},
                              opset_version=18)


def _quantize(source: Path, target: Path) -> bool:
    """int8 weights per channel; True when ONNX Runtime's pre-processing (shape inference, folding) ran first."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = source.with_name("model.pre.onnx")
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        done = True
    except Exception:  # pre-processing only helps; a graph it cannot read is quantized as it is
        shutil.copyfile(source, prepared)
        done = False
    quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8, per_channel=True)
    prepared.unlink()
    return done
