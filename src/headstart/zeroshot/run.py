"""`headstart zero-shot`: classify a data file without training; score it when it has labels."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from headstart.data.readers import read_split
from headstart.errors import DataError
from headstart.zeroshot.classifier import ZeroShotClassifier

__all__ = ["zero_shot_run", "read_labels_file"]


def read_labels_file(path: str | Path) -> dict[str, str]:
    """A JSON object label -> description (or a JSON list of labels), in the order the file gives them."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError("cannot read the labels file.", expected='JSON such as {"positive": "a favourable '
                        'review", "negative": "..."}', found=f"{type(exc).__name__}: {exc}", file=path,
                        fix="check the path and the JSON syntax") from None
    if isinstance(data, list):
        data = {str(label): "" for label in data}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DataError("the labels file is not a JSON object of label -> description.",
                        expected='{"label": "description", ...} or ["label", ...]',
                        found=type(data).__name__, file=path, fix="write one description string per label")
    return {str(k): v for k, v in data.items()}


def zero_shot_run(data: str | Path, *, labels: list[str] | None = None, labels_file: str | Path | None = None,
                  method: str = "embedding", backbone: str | None = None, shots: int = 0,
                  examples: str | Path | None = None, out: str | Path | None = None, calibrate: bool | None = None,
                  text_column: str = "text", label_column: str = "label", seed: int = 0) -> dict:
    """Classify every text of `data` zero-shot (or with `shots` in-context examples per class).

    Args:
        data: CSV / TSV / JSONL with a text column; a label column, when present, is used for scoring.
        labels: the class names; None: from `labels_file`, else the data's own label column.
        labels_file: JSON label -> description (or a list of labels).
        method: a zero-shot method ("embedding", "lm", ...).
        backbone: the model; None: the method's default.
        shots: in-context examples per class (lm), drawn from `examples`.
        examples: a labelled file (same columns) to draw the in-context examples from.
        out: CSV to write text, prediction and probability to (default: written only without labels).
        calibrate: None: the method's default.
        text_column: the text column.
        label_column: the label column.
        seed: which in-context examples are drawn.

    Returns:
        {"labels", "labels_from", "n", "seconds", "describe", "metrics" (when labelled) or None, "out"}.
    """
    split = read_split(data, text_column=text_column, label_column=label_column, require_labels=False)
    descriptions = read_labels_file(labels_file) if labels_file else {}
    names, labels_from = _labels(labels, descriptions, split, label_column)
    pool = _examples(examples, shots, text_column, label_column)
    clf = ZeroShotClassifier(names, method=method, backbone=backbone, descriptions=descriptions, k=shots,
                             examples=pool, seed=seed, calibrate=calibrate)
    t0 = time.perf_counter()
    clf.fit(split.texts)  # unlabelled texts only: the embedding method calibrates on them
    proba = clf.predict_proba(split.texts)
    seconds = time.perf_counter() - t0
    result = {"labels": names, "labels_from": labels_from, "n": len(split), "seconds": seconds,
              "describe": clf.describe(), "metrics": None, "out": None}
    if split.labels:
        result["metrics"] = _metrics(split, proba, names, label_column)
    if out is not None or not split.labels:
        result["out"] = str(_write(out or Path(data).with_suffix(".predictions.csv"), split.texts, proba, names))
    return result


def _labels(labels, descriptions, split, label_column) -> tuple[list[str], str]:
    if labels:
        return [str(x) for x in labels], "--labels"
    if descriptions:
        return list(descriptions), "the labels file"
    if split.labels:
        if isinstance(split.labels[0], tuple):
            raise DataError("zero-shot classification is single-label.", expected="one label per row",
                            found="multi-label rows", file=split.source, column=label_column,
                            fix="give --labels and drop the label column")
        return sorted(set(split.labels)), f"the data's {label_column!r} column"
    raise DataError("no labels to classify into.", expected='--labels "a,b,c", --labels-file labels.json, or a '
                    f"{label_column!r} column in the data", found="none of them", file=split.source,
                    fix='add --labels "positive,negative"')


def _examples(path, shots: int, text_column: str, label_column: str) -> list[tuple[str, str]]:
    if not shots:
        return []
    if path is None:
        raise DataError("in-context few-shot needs labelled examples.", expected="--examples FILE with "
                        f"{text_column!r} and {label_column!r} columns", found=f"--shots {shots} alone",
                        fix="add --examples train.csv, or drop --shots for zero-shot")
    split = read_split(path, text_column=text_column, label_column=label_column)
    return list(zip(split.texts, map(str, split.labels), strict=True))


def _metrics(split, proba, names: list[str], label_column: str) -> dict:
    from headstart.evaluation import classification_metrics

    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({str(y) for y in split.labels} - set(index))
    if unknown:
        raise DataError("the data has labels that are not among the labels to classify into.",
                        expected=", ".join(names[:10]), found=", ".join(map(repr, unknown[:10])),
                        file=split.source, column=label_column,
                        fix="add them to --labels / the labels file, or leave --labels out to use the data's")
    return classification_metrics([index[str(y)] for y in split.labels], proba, names)


def _write(path, texts, proba, names) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "prediction", "probability"])
        for text, p in zip(texts, proba, strict=True):
            writer.writerow([text, names[int(p.argmax())], f"{float(p.max()):.4f}"])
    return path
