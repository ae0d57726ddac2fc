"""Teachers: what labels the student's texts with probabilities.

    a run folder           `headstart train` (any strategy and backbone) or a `headstart compare` ensemble
    zero-shot:embedding    label names scored by sentence similarity (no labels needed)
    zero-shot:lm[:MODEL]   label names scored by a decoder's likelihood
    zero-shot:api[:MODEL]  any OpenAI-compatible chat endpoint (OPENAI_BASE_URL, OPENAI_API_KEY; model:
                           MODEL, else HEADSTART_API_MODEL); answers are cached by the client too
    a fitted estimator     in Python: anything with `predict_proba` and `classes_` / `labels_`

Every teacher's probabilities are cached on disk by text (distill.cache), so each text is labelled once
per teacher; an in-memory estimator has no lasting identity and is asked every time. Columns come back in
the student's label order (a teacher with more labels has the extra columns dropped and rows renormalised;
a teacher lacking a student label is an error that names it).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.distill.cache import TeacherCache, text_key
from headstart.distill.objective import choose_temperature
from headstart.errors import ConfigError

__all__ = ["Teacher", "load_teacher", "ZERO_SHOT_PREFIX"]

ZERO_SHOT_PREFIX = "zero-shot:"


@dataclass
class Teacher:
    """A model that gives class probabilities, with the counts of what it was asked."""

    model: object
    labels: list[str]
    name: str
    kind: str  # run, ensemble, zero-shot, estimator
    identity: str | None = None  # what the disk cache is keyed by (None: not cached)
    cache_dir: Path | None = None
    asked: int = 0  # texts the teacher itself predicted
    cached: int = 0  # texts answered from the cache
    seconds: float = 0.0  # wall time of the teacher's own predictions
    fitted: bool = True  # a zero-shot teacher loads its model on first use
    per_word: bool = False  # a tagger: one row per word of each sentence
    trained_on: tuple[str, ...] = ()  # the training files of a run teacher (its config.json), resolved

    def saw(self, source) -> bool:
        """Whether the teacher trained on the file `source` (so on the student's dev rows cut from it)."""
        try:
            return str(Path(str(source)).resolve()) in self.trained_on
        except OSError:
            return False

    def temperature(self, given: float | None, proba, gold, source, multilabel: bool = False) -> tuple[float, str]:
        """(T, how it was set): given; else on dev (temperature scaling); but a teacher that trained on the
        dev rows is sure of them whatever T is right, so it is left unsoftened (T = 1) and the run says why."""
        if given is not None:
            return float(given), "given"
        if self.saw(source):
            return 1.0, "not calibrated: the teacher trained on the student's dev rows (its training file is the same)"
        return choose_temperature(proba, gold, multilabel), "dev"

    def proba(self, texts: list, student_labels: list[str]):
        """(n, len(student_labels)) probabilities, from the cache where it has them; a tagger teacher (texts:
        sentences as word lists) gives a list of (n_words, len(student_labels)) arrays instead."""
        order = self._columns(student_labels)
        if not texts:
            return [] if self.per_word else np.zeros((0, len(student_labels)), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        cache = self._cache()
        todo = cache.missing(keys) if cache is not None else list(range(len(texts)))
        known = cache.rows if cache is not None else {}
        if todo:
            first = {}
            for i in todo:
                first.setdefault(keys[i], texts[i])
            unique = list(first)
            self._fit_once(list(first.values()))
            t0 = time.perf_counter()
            rows = self.model.predict_proba(list(first.values()))
            self.seconds += time.perf_counter() - t0
            self.asked += len(unique)
            rows = [np.atleast_2d(np.asarray(r, dtype=np.float32)) for r in rows]
            known = {**known, **dict(zip(unique, rows, strict=True))}
            if cache is not None:
                cache.put(unique, rows)
        self.cached += len(texts) - len(todo)
        picked = [_renormalised(known[k][:, order], len(order) < known[k].shape[1]) for k in keys]
        return picked if self.per_word else np.concatenate(picked)

    def _cache(self) -> TeacherCache | None:
        """The disk cache, read once per teacher (train, dev, unlabelled and test rows all go through it)."""
        if self.identity and getattr(self, "_disk", None) is None:
            self._disk = TeacherCache(self.identity, self.cache_dir)
        return getattr(self, "_disk", None)

    def describe(self) -> dict:
        """What the report and metrics.json say about the teacher."""
        out = {"teacher": self.name, "kind": self.kind, "texts_predicted": self.asked, "texts_from_cache": self.cached,
               "seconds_per_text": round(self.seconds / self.asked, 6) if self.asked else None,
               "params": _params(self.model)}
        client = getattr(getattr(getattr(self.model, "scorer_", None), "model_", None), "client", None)
        if client is not None:  # the API teacher: what it cost in requests
            out |= {"api_model": client.model, "base_url": client.base_url, "requests": client.stats.requests,
                    "retries": client.stats.retries, "api_cache_hits": client.stats.cache_hits}
        return out

    def _columns(self, student_labels: list[str]) -> list[int]:
        index = {str(label): i for i, label in enumerate(self.labels)}
        lacking = [s for s in student_labels if str(s) not in index]
        if lacking:
            raise ConfigError(f"the teacher {self.name} does not know some of the data's labels.",
                              expected=f"a teacher trained for (or told) every label of the data: {student_labels}"[:300],
                              found=f"labels it lacks: {lacking}"[:300],
                              fix="train the teacher on the same labels, or give a zero-shot teacher the data's labels")
        return [index[str(s)] for s in student_labels]

    def _fit_once(self, texts: list) -> None:
        if not self.fitted:  # zero-shot: load the model; the embedding scorer centres on these texts
            self.model.fit([str(t) for t in texts])
            self.fitted = True


def load_teacher(spec, labels: list[str], *, tagger: bool = False, cache_dir: str | Path | None = None) -> Teacher:
    """A Teacher from a run folder, a zero-shot spec or a fitted estimator (see the module's docstring);
    `tagger`: the student is a tagger, so the teacher must be one (it gives a distribution per word)."""
    folder = None if cache_dir is None else Path(cache_dir)
    if not isinstance(spec, str | Path):
        if not hasattr(spec, "predict_word_proba" if tagger else "predict_proba"):
            raise ConfigError("the teacher cannot give probabilities.", expected="a run folder, a zero-shot:... "
                              "name, or a fitted model with predict_proba (a tagger, for NER)",
                              found=type(spec).__name__, fix="pass a fitted headstart model, or its run folder")
        known = getattr(spec, "labels_", None)
        known = list(known) if known is not None else [str(c) for c in spec.classes_]
        return Teacher(_Words(spec) if tagger else spec, [str(k) for k in known], type(spec).__name__, "estimator",
                       None, folder, per_word=tagger)
    text = str(spec)
    if text.startswith(ZERO_SHOT_PREFIX):
        if tagger:
            raise ConfigError("a zero-shot teacher cannot tag words.", expected="a NER run folder as --teacher",
                              found=repr(text), fix="train a NER teacher: headstart train DATA --backbone mpnet")
        return _zero_shot(text, labels, folder)
    return _run_teacher(Path(text), folder, tagger)


class _Words:
    """A tagger as a teacher: `predict_proba` of sentences is its per-word tag distribution."""

    def __init__(self, tagger) -> None:
        self.tagger = tagger
        self.model_ = getattr(tagger, "model_", None)

    def predict_proba(self, sentences):
        return self.tagger.predict_word_proba([list(s) for s in sentences])


def _zero_shot(spec: str, labels: list[str], folder) -> Teacher:
    from headstart.zeroshot import SCORERS, ZeroShotClassifier

    method, _, backbone = spec[len(ZERO_SHOT_PREFIX):].partition(":")
    if method not in SCORERS:
        raise ConfigError(f"unknown zero-shot teacher {spec!r}.", expected=", ".join(
            ZERO_SHOT_PREFIX + m for m in sorted(SCORERS)), found=repr(spec), fix="e.g. --teacher zero-shot:embedding")
    model = ZeroShotClassifier([str(x) for x in labels], method=method, backbone=backbone or None)
    settings = {"spec": spec, "labels": [str(x) for x in labels]}
    if method == "api":
        import os

        settings |= {"base_url": os.environ.get("OPENAI_BASE_URL"), "model": backbone or os.environ.get("HEADSTART_API_MODEL")}
    return Teacher(model, [str(x) for x in labels], spec, "zero-shot", _digest(json.dumps(settings, sort_keys=True)),
                   folder, fitted=False)


def _run_teacher(path: Path, folder, tagger: bool = False) -> Teacher:
    from headstart.ensemble import EnsembleClassifier
    from headstart.tasks.registry import load

    if not path.exists():
        raise ConfigError(f"teacher {path} not found.", expected="a run folder of `headstart train` or an ensemble "
                          "of `headstart compare`, or zero-shot:embedding / zero-shot:lm / zero-shot:api",
                          found=f"no such path: {path}", fix="train the teacher first: headstart train DATA --out RUN")
    model = load(path)
    tasks = ("ner",) if tagger else ("classification", "pairs")
    if getattr(model, "task", "classification") not in tasks:
        raise ConfigError(f"{path} cannot teach this student.", expected=f"a {' or '.join(tasks)} run",
                          found=f"a {getattr(model, 'task', type(model).__name__)} model",
                          fix="use a run trained on the same kind of labels")
    kind = "ensemble" if EnsembleClassifier.is_ensemble(path) else "run"
    stamp = [_stamp(folder) for folder in (path, *getattr(model, "folders", ()))]  # an ensemble: its members too
    return Teacher(_Words(model) if tagger else model, [str(x) for x in model.labels_], str(path), kind,
                   _digest(json.dumps(stamp)), folder, per_word=tagger,
                   trained_on=_training_files([path, *(Path(f).parent for f in getattr(model, "folders", ()))]))


def _training_files(runs: list[Path]) -> tuple[str, ...]:
    """The train (and dev: a refit trains on it) files named in the runs' config.json, resolved."""
    out = []
    for run in runs:
        try:
            data = json.loads((run / "config.json").read_text())["data"]
            out += [str(Path(data[k]).resolve()) for k in ("train", "dev") if data.get(k)]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return tuple(out)


def _stamp(folder: Path) -> list:
    """Name, size and modification time of every file of a saved model (evaluations aside): a retrained
    teacher is a new cache entry."""
    files = [f for f in sorted(folder.rglob("*")) if f.is_file() and "eval-" not in str(f.relative_to(folder))]
    return [(str(folder.resolve()), str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]


def _renormalised(rows: np.ndarray, dropped: bool) -> np.ndarray:
    """Rows over the student's labels; when the teacher's extra labels were dropped, rows sum to 1 again."""
    return rows / np.clip(rows.sum(1, keepdims=True), 1e-12, None) if dropped else rows


def _params(model) -> int | None:
    members = getattr(model, "members", None)
    if members:
        sizes = [_params(m) for m in members]
        return None if None in sizes else sum(sizes)
    net = getattr(model, "model_", None)
    if net is None or not hasattr(net, "parameters"):
        return None
    return int(sum(p.numel() for p in net.parameters()))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
