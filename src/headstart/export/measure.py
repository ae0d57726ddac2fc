"""What an export is checked against before it is kept: the same outputs as headstart (parity), and for
classification, accuracy and latency of eager headstart, ONNX fp32 and ONNX int8 on the run's own held-out file.
int8 is kept only when it loses at most `max_drop` accuracy against fp32 (default 0.5 point)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from headstart.errors import HeadstartError

__all__ = ["measure_export", "held_out_file", "p50_ms"]

PROBE_TEXTS = ["WINNER!! Claim your free prize now, call this number today", "see you at lunch tomorrow",
               "the film was long but the ending made it worth it", "x"]
LATENCY_TEXT = "Is the meeting still on for three o'clock this afternoon?"  # 14 tokens for MiniLM
LATENCY_CALLS = 60


def held_out_file(run: Path) -> Path | None:
    """The run's test file, else its dev file, as recorded in its config.json."""
    from headstart.runs.writer import load_run_config

    try:
        data = load_run_config(run).get("data") or {}
    except Exception:  # a model folder saved outside a run: no files recorded
        return None
    for key in ("test", "dev"):
        if data.get(key) and Path(data[key]).exists():
            return Path(data[key])
    return None


def p50_ms(call, repeats: int = LATENCY_CALLS) -> float:
    call()  # the first call allocates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def measure_export(out: Path, model, tokenizer, meta, *, run: Path, eval_file, quantized: bool,
                   max_drop: float) -> dict:
    from headstart.export.onnx_format import INT8_FILE, ONNX_FILE, OnnxModel

    fp32 = OnnxModel(out, file=ONNX_FILE)
    report: dict = {"task": meta.task, "files": {ONNX_FILE: _mb(out / ONNX_FILE)}, "kept": ONNX_FILE}
    if quantized:
        report["files"][INT8_FILE] = _mb(out / INT8_FILE)
    report["parity_max_abs_logit"] = _parity(fp32, model, tokenizer, meta)
    if report["parity_max_abs_logit"] > 1e-3:
        raise RuntimeError(f"the ONNX graph disagrees with the model by {report['parity_max_abs_logit']}")
    if meta.task not in ("classification", "pairs"):
        report["accuracy"] = "measured for classification only; parity above is on the logits"
        if quantized:
            report["kept"] = INT8_FILE
        return report
    path = Path(eval_file) if eval_file else held_out_file(run)
    if path is None:
        raise HeadstartError("there is no held-out file to check the export on.",
                             expected="a run trained with --test or --dev, or --eval FILE",
                             found="no test or dev file recorded in the run's config.json",
                             fix="pass --eval FILE (labelled, the columns the run was trained on)")
    _accuracy_and_latency(report, path, run, fp32, out, quantized, max_drop)
    return report


def _accuracy_and_latency(report, path, run, fp32, out, quantized, max_drop) -> None:
    import headstart
    from headstart.evaluation.metrics import classification_metrics
    from headstart.export.onnx_format import INT8_FILE, OnnxModel

    est = headstart.load(run)
    split = est._as_split(str(path), None)
    texts = [(t.a, t.b) if hasattr(t, "a") else t for t in split.texts]
    y = est.encode_labels(split)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # latency as one request on one thread sees it
    try:
        sides = {"headstart (eager)": (est.predict_proba(split.texts),
                                       p50_ms(lambda: est.predict_proba([LATENCY_TEXT])))}
        one = OnnxModel(out, file=fp32.meta.file, threads=1)
        sides["onnx fp32"] = (fp32.predict_proba(texts), p50_ms(lambda: one.predict_proba([LATENCY_TEXT])))
        if quantized:
            int8 = OnnxModel(out, file=INT8_FILE, threads=1)
            sides["onnx int8"] = (int8.predict_proba(texts), p50_ms(lambda: int8.predict_proba([LATENCY_TEXT])))
    finally:
        torch.set_num_threads(threads)
    rows = {}
    for name, (proba, ms) in sides.items():
        m = classification_metrics(y, proba, list(est.classes_), multilabel=est.multilabel_)
        rows[name] = {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4), "p50_ms": ms}
    report["evaluated_on"] = {"file": str(path), "rows": len(texts)}
    report["sides"] = rows
    if quantized:
        drop = round(rows["onnx fp32"]["accuracy"] - rows["onnx int8"]["accuracy"], 4)
        report["int8_accuracy_drop"] = round(drop, 4)
        report["max_drop"] = max_drop
        report["kept"] = INT8_FILE if drop <= max_drop else fp32.meta.file
        if drop > max_drop:
            report["warning"] = (f"int8 loses {drop * 100:.1f} points of accuracy (more than {max_drop * 100:.1f}): "
                                 f"predictions use the fp32 graph; {INT8_FILE} is kept beside it")


def _parity(onnx_model, model, tokenizer, meta) -> float:
    texts = [(a, b) for a, b in zip(PROBE_TEXTS, reversed(PROBE_TEXTS), strict=True)] \
        if meta.task in ("pairs", "qa") else PROBE_TEXTS
    feed = onnx_model.encode(texts)
    got = onnx_model.session.run(None, feed)[0]
    with torch.no_grad():
        want = model(**{k: torch.as_tensor(v) for k, v in feed.items()}).numpy()
    if meta.per_token:  # padding positions differ freely: compare the real tokens
        mask = feed["attention_mask"].astype(bool)
        got, want = got[mask], want[mask]
    return float(np.abs(got - want).max())


def _mb(path: Path) -> float:
    return round(path.stat().st_size / 2**20, 2)
