"""What the task server serves: runs loaded by name, each answering its task's requests in micro-batches.

    served = load_models(["runs/spam", "intent=runs/intent-lora", "runs/ner", "runs/spam-onnx"])

A run is named by its folder (or NAME=PATH). Classification and pair runs answer `classify` and `embed`, NER
runs `ner`, QA runs `qa`; an ONNX export folder (`headstart export --format onnx`) answers `classify` through
ONNX Runtime. Adapter runs trained on one backbone share it: they are loaded into one
`MultiAdapterClassifier`, and a batch that mixes them is run adapter by adapter (switching an adapter is
cheap; the backbone's weights are in memory once).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from headstart.errors import ConfigError, HeadstartError
from headstart.serving.batcher import MicroBatcher

__all__ = ["Served", "load_models", "TASK_ROUTES"]

TASK_ROUTES = {"classification": ("classify", "embed"), "pairs": ("classify", "embed"), "ner": ("ner",),
               "qa": ("qa",), "onnx": ("classify",)}


@dataclass
class Served:
    name: str
    task: str
    labels: list[str]
    multilabel: bool
    strategy: str
    backbone: str
    source: str
    engine: _Engine = field(repr=False)
    only: tuple[str, ...] | None = None  # fewer routes than the task's (adapters on a shared backbone: no embed)

    @property
    def routes(self) -> tuple[str, ...]:
        return self.only or TASK_ROUTES["onnx" if self.strategy == "onnx" else self.task]

    def describe(self) -> dict:
        return {"id": self.name, "object": "model", "owned_by": "headstart", "task": self.task,
                "routes": list(self.routes), "labels": self.labels, "multilabel": self.multilabel,
                "strategy": self.strategy, "backbone": self.backbone}


class _Engine:
    """One model in memory and the batcher in front of it. Items are (served name, route, input)."""

    def __init__(self, batch: dict) -> None:
        self.lock = threading.Lock()
        self.batcher = MicroBatcher(self._run, **batch)

    def _run(self, items: list) -> list:
        results: list = [None] * len(items)
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (name, route, _) in enumerate(items):
            groups[(name, route)].append(i)
        with self.lock:
            for (name, route), where in groups.items():
                for i, out in zip(where, self.answer(name, route, [items[i][2] for i in where]), strict=True):
                    results[i] = out
        return results

    def answer(self, name: str, route: str, inputs: list) -> list:
        raise NotImplementedError


class _EstimatorEngine(_Engine):
    def __init__(self, estimator, batch: dict) -> None:
        self.estimator = estimator
        super().__init__(batch)

    def answer(self, name, route, inputs):
        est = self.estimator
        if route == "classify":
            return list(est.predict_proba(inputs))
        if route == "ner":
            return est.predict(inputs)
        if route == "qa":
            return est.predict(inputs)
        return list(_embed(est, inputs))


class _MultiEngine(_Engine):
    def __init__(self, multi, batch: dict) -> None:
        self.multi = multi
        super().__init__(batch)

    def answer(self, name, route, inputs):
        return list(self.multi.predict_proba(inputs, adapter=name))


class _OnnxEngine(_Engine):
    def __init__(self, model, batch: dict) -> None:
        self.model = model
        super().__init__(batch)

    def answer(self, name, route, inputs):
        return list(self.model.predict_proba(inputs))


def _embed(est, inputs: list) -> np.ndarray:
    """The run's own pooled representation (its fine-tuned backbone and pooling, its tokenization: a pair run
    encodes pairs), L2-normalised."""
    import torch

    from headstart.training.batching import BucketBatchSampler, collate

    model = est.model_.eval()
    examples = est._examples(est._texts(list(inputs)), None)
    out = np.zeros((len(examples), model.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for idx in BucketBatchSampler(examples.lengths(), 64, shuffle=False):
            batch = collate([examples.item(i) for i in idx], est.tokenizer_.pad_token_id)
            pooled = model.encode(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def _split_name(spec: str) -> tuple[str | None, Path]:
    name, sep, path = spec.partition("=")
    if sep and name and "/" not in name and not Path(spec).exists():
        return name, Path(path)
    return None, Path(spec)


def _meta(path: Path) -> dict:
    from headstart.persist import model_dir

    folder = model_dir(path)
    return json.loads((folder / "headstart.json").read_text()) if folder else {}


def load_models(specs: list[str], *, max_batch: int = 32, max_wait_ms: float = 5.0,
                max_waiting: int = 64, on_batch=None, threads: int | None = None) -> dict[str, Served]:
    """Load every run (see the module docstring); names must be unique. `threads`: what each model computes
    with (torch's intra-op threads, ONNX Runtime's); None: their defaults (the machine's cores)."""
    import headstart
    from headstart.export.onnx_format import META_FILE, OnnxModel

    batch = {"max_batch": max_batch, "max_wait_ms": max_wait_ms, "max_waiting": max_waiting, "on_batch": on_batch}
    if threads:
        import torch

        torch.set_num_threads(threads)
    named: dict[str, Path] = {}
    for spec in specs:
        name, path = _split_name(spec)
        name = name or path.resolve().name
        if name in named:
            raise ConfigError(f"two models are named {name!r}.", expected="one name per model",
                              found=f"{named[name]} and {path}", fix=f"name one of them: NAME={path}")
        named[name] = path
    served: dict[str, Served] = {}
    shared: dict[str, list[tuple[str, Path, dict]]] = defaultdict(list)
    for name, path in named.items():
        if (path / META_FILE).exists():
            model = OnnxModel(path, threads=threads)
            served[name] = Served(name, model.meta.task, model.meta.labels, model.meta.multilabel, "onnx",
                                  "", str(path), _OnnxEngine(model, batch))
            continue
        meta = _meta(path)
        if meta.get("adapter") and meta.get("task", "classification") == "classification":
            shared[meta.get("backbone_source") or meta.get("backbone_name")].append((name, path, meta))
            continue
        served[name] = _from_estimator(name, path, headstart.load(path), meta, batch)
    for backbone, runs in shared.items():
        if len(runs) == 1:  # alone on its backbone: served as the run it is
            name, path, meta = runs[0]
            served[name] = _from_estimator(name, path, headstart.load(path), meta, batch)
            continue
        from headstart.multi import MultiAdapterClassifier

        multi = MultiAdapterClassifier(backbone if Path(backbone).exists() else runs[0][2]["backbone_name"])
        engine = _MultiEngine(multi, batch)
        for name, path, meta in runs:
            multi.load(path, name)
            served[name] = Served(name, "classification", meta["labels"], meta["multilabel"],
                                  meta["strategy"].get("strategy", "?"), meta["backbone_name"], str(path), engine,
                                  only=("classify",))
    return served


def _from_estimator(name: str, path: Path, est, meta: dict, batch: dict) -> Served:
    task = getattr(est, "task", meta.get("task", "classification"))
    if task not in TASK_ROUTES:
        raise HeadstartError(f"{path} is a {task!r} run, which this server does not serve.",
                             expected="a classification, pairs, NER or QA run, or an ONNX export",
                             found=f"task {task!r}", fix="serve a generation run on its own: headstart serve RUN")
    labels = getattr(est, "classes_", None)
    labels = [str(c) for c in (labels if labels is not None else getattr(est, "labels_", None) or [])]
    if task == "qa":
        labels = []
    return Served(name, task, labels, bool(getattr(est, "multilabel_", False)),
                  (meta.get("strategy") or {}).get("strategy", "?"), meta.get("backbone_name", "?"), str(path),
                  _EstimatorEngine(est, batch))
