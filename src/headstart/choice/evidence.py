"""Evidence measured on the user's data and machine, for `recommend` and `compare`: what each candidate
really costs here (a timed training step, no fixed cost table), how far a frozen-feature probe gets and how
its dev score grows with more rows (its learning curve), and a TF-IDF baseline (how lexical the task is).

Everything runs on a bounded sample, so gathering it takes seconds to about two minutes on a laptop CPU
whatever the size of the data: the probe embeds at most SAMPLE_ROWS training rows and DEV_ROWS dev rows, and
fewer training rows where embedding them would take over PROBE_SECONDS (long documents); its score is then
carried up its learning curve to SAMPLE_ROWS (`at_reference_rows`), the size the expectations were fitted at.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from headstart.backbones import load_backbone
from headstart.data import TaskData
from headstart.evaluation.metrics import classification_metrics, primary_metric
from headstart.modeling import TransformerClassifier
from headstart.strategies import STRATEGIES, make_strategy
from headstart.training import collate, pooled_features, tokenize
from headstart.training.cache import cache_depth
from headstart.training.groups import freeze_except, set_train_mode

__all__ = ["Cost", "Evidence", "measure_costs", "probe_curve", "gather"]

SAMPLE_ROWS = 2000  # the probe's training rows at most (a stratified-enough random sample)
MIN_SAMPLE_ROWS = 500  # ... and at least (or all of them), whatever the budget
DEV_ROWS = 1000  # the dev rows the probe is scored on, at most (a random sample of a larger dev set)
PROBE_SECONDS = 60.0  # what embedding the probe's rows may take: long documents get fewer rows
CURVE = (0.25, 0.5, 1.0)  # fractions of the probe's sample: the learning curve's points
TIMED_BATCHES = 2  # training steps timed per strategy (after one warm-up step)
TFIDF_CHARS = 1000  # characters of each text the TF-IDF baseline reads


@dataclass
class Cost:
    """What one candidate costs on this machine and data: `overhead` (load, the frozen-prefix cache, the
    warm-start probe) once, then `seconds_per_epoch` for each of its `epochs`."""

    strategy: str
    epochs: int
    seconds_per_epoch: float
    overhead: float

    @property
    def total(self) -> float:
        return self.overhead + self.epochs * self.seconds_per_epoch


@dataclass
class Evidence:
    metric: str
    n_train: int
    n_dev: int
    n_classes: int
    probe: float | None = None  # the frozen-feature probe's dev score (primary metric) at SAMPLE_ROWS rows
    probe_measured: float | None = None  # ... as measured on its sample; `probe` differs when the sample was cut
    curve: list[tuple[int, float]] = field(default_factory=list)  # (training rows, dev score)
    tfidf: float | None = None
    majority: float | None = None
    costs: dict[str, Cost] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def slope(self) -> float | None:
        """Dev-score points gained per doubling of the rows, over the learning curve's last doubling: how much
        more data (or more adaptation) is likely to help."""
        if len(self.curve) < 2:
            return None
        (n0, s0), (n1, s1) = self.curve[-2], self.curve[-1]
        return 100 * (s1 - s0) / max(np.log2(n1 / n0), 1e-9)

    def to_dict(self) -> dict:
        return asdict(self) | {"slope": self.slope}


def measure_costs(task: TaskData, strategies: list[str], *, backbone: str, max_length: int, batch_size: int = 32,
                  epochs: dict[str, int] | None = None, seed: int = 0, loaded=None) -> dict[str, Cost]:
    """Time a few real training steps of each strategy on batches of this data, and one inference pass,
    then extrapolate to an epoch over all the rows. Closed-form `features` costs one inference pass.
    `loaded`: (the Backbone, the seconds its load took), when the caller has it already."""
    rng = np.random.default_rng(seed)
    bb, load = loaded or _load(backbone)
    n_labels = len(task.labels)
    texts = [task.train.texts[i] for i in rng.choice(len(task.train), min(len(task.train), batch_size * 4),
                                                      replace=False)]
    ids = tokenize(bb.tokenizer, texts, max_length)
    batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)][: TIMED_BATCHES + 1]
    n_steps = int(np.ceil(len(task.train) / batch_size))
    n_all = int(np.ceil((len(task.train) + len(task.dev)) / batch_size))
    n_dev = int(np.ceil(len(task.dev) / batch_size))
    costs = {}
    infer = None
    for name in strategies:
        strategy = make_strategy(name)
        model = TransformerClassifier(copy.deepcopy(bb.model), bb.anatomy, n_labels)
        strategy.prepare(model)
        if infer is None:
            infer = _time_inference(model, batches, bb.tokenizer.pad_token_id)
        n_epochs = (epochs or {}).get(name) or strategy.defaults.get("epochs", 1)
        if not strategy.uses_gradients:
            costs[name] = Cost(name, 1, 0.0, load + n_all * infer)
            continue
        step, depth = _time_steps(model, strategy, batches, bb.tokenizer.pad_token_id)
        # the cache (or the warm-start probe) is one inference pass over train + dev; each epoch trains and
        # then scores dev (above the cache when there is one: a share of the blocks)
        share = 1.0 if depth is None else 1 - depth / max(model.n_blocks, 1)
        costs[name] = Cost(name, int(n_epochs), n_steps * step + n_dev * infer * max(share, 0.1),
                           load + n_all * infer)
    return costs


def _time_inference(model, batches, pad_id) -> float:
    model.eval()
    with torch.inference_mode():
        model(**collate([(x, None) for x in batches[0]], pad_id))  # warm-up
        t0 = time.perf_counter()
        for b in batches[1:]:
            model(**collate([(x, None) for x in b], pad_id))
    return (time.perf_counter() - t0) / max(len(batches) - 1, 1)


def _time_steps(model, strategy, batches, pad_id) -> tuple[float, int | None]:
    """Seconds per optimizer step of `strategy` (above its cached prefix, as training runs it)."""
    groups = model.layer_groups()
    trainable = strategy.trainable_groups([g.name for g in groups])
    freeze_except(model, groups, trainable, strategy.keep)
    set_train_mode(model, groups, trainable)
    depth = cache_depth(model, trainable)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    from headstart.training.cache import build_cache

    seconds = []
    for b in batches:
        batch = collate([(x, 0) for x in b], pad_id)
        labels = batch.pop("labels")
        if depth is not None:
            cached = build_cache(model, b, depth, pad_id=pad_id)
            batch = collate([(c, 0) for c in cached], pad_id)
            batch.pop("labels")
        t0 = time.perf_counter()
        logits = model(**batch, prefix_depth=depth or 0)
        torch.nn.functional.cross_entropy(logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - t0)
    return float(np.mean(seconds[1:] or seconds)), depth


def _load(backbone: str):
    t0 = time.perf_counter()
    bb = load_backbone(backbone)
    return bb, time.perf_counter() - t0


def probe_curve(task: TaskData, *, backbone: str, max_length: int, seed: int = 0, loaded=None) -> tuple[float, list, float]:
    """(dev score of the frozen-feature probe on the whole sample, [(rows, dev score)] on growing parts of
    it, seconds). The probe is the `features` strategy's: logistic regression on the pooled embeddings."""
    from headstart.strategies.features import FeaturesOptions, fit_linear_probe

    t0 = time.perf_counter()
    bb = (loaded or _load(backbone))[0]
    model = TransformerClassifier(bb.model, bb.anatomy, len(task.labels))  # inference only: shared safely
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(task.train))
    dev_rows = np.sort(rng.permutation(len(task.dev))[:DEV_ROWS])
    metric = primary_metric(len(task.labels), task.multilabel)
    pad = bb.tokenizer.pad_token_id

    def embed(texts: list) -> np.ndarray:
        return np.asarray(pooled_features(model, tokenize(bb.tokenizer, texts, max_length), pad_id=pad))

    # time the first rows, then take as many as PROBE_SECONDS allows (dev's rows included)
    head = order[:64]
    X = embed([task.train.texts[i] for i in head])
    per_text = (time.perf_counter() - t0) / max(len(head), 1)
    n = int(np.clip(PROBE_SECONDS / per_text - len(dev_rows), MIN_SAMPLE_ROWS, SAMPLE_ROWS))
    keep = order[:n]
    if len(keep) > len(head):
        X = np.concatenate([X, embed([task.train.texts[i] for i in keep[len(head):]])])
    y = task.train.encode(task.labels, task.multilabel)[keep]
    yd = task.dev.encode(task.labels, task.multilabel)[dev_rows]
    Xd = embed([task.dev.texts[i] for i in dev_rows])
    curve = []
    for fraction in CURVE:
        n = max(len(task.labels) * 2, int(len(keep) * fraction))
        W, b = fit_linear_probe(X[:n], y[:n], len(task.labels), FeaturesOptions(), multilabel=task.multilabel,
                                class_weight=None, seed=seed)
        logits = Xd @ W.T + b
        proba = 1 / (1 + np.exp(-logits)) if task.multilabel else _softmax(logits)
        value = classification_metrics(yd, proba, task.labels, multilabel=task.multilabel)[metric]
        curve.append((n, float(value if value is not None else 0.0)))
    return curve[-1][1], curve, time.perf_counter() - t0


def at_reference_rows(score: float, curve: list[tuple[int, float]], n_train: int) -> float:
    """The probe's score at SAMPLE_ROWS rows (or all of them, if fewer): where PROBE_SECONDS cut the sample
    (long documents), the measured score carried up along the learning curve's last doubling, never down.
    The expectations (expectations.json) are fitted on probes of that size, so this keeps a cut sample from
    reading as a weaker probe with more headroom."""
    n = curve[-1][0] if curve else 0
    target = min(SAMPLE_ROWS, n_train)
    if len(curve) < 2 or n >= target:
        return score
    (n0, s0), (n1, s1) = curve[-2], curve[-1]
    per_doubling = max(s1 - s0, 0.0) / max(np.log2(n1 / n0), 1e-9)
    return float(min(1.0, score + per_doubling * np.log2(target / n)))


def _cut(text: str) -> str:
    """A text (a sentence pair is one string, "a [SEP] b") cut to TFIDF_CHARS characters."""
    return str(text)[:TFIDF_CHARS]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def gather(task: TaskData, strategies: list[str], *, backbone: str, max_length: int, seed: int = 0) -> Evidence:
    """Every piece of evidence for `recommend`: the probe and its curve, the baselines, the costs."""
    from headstart.evaluation.baselines import majority_baseline, tfidf_baseline

    t0 = time.perf_counter()
    metric = primary_metric(len(task.labels), task.multilabel)
    ev = Evidence(metric, len(task.train), len(task.dev), len(task.labels))
    loaded = _load(backbone)  # once, for the probe and the timed steps
    ev.probe_measured, ev.curve, _ = probe_curve(task, backbone=backbone, max_length=max_length, seed=seed,
                                                 loaded=loaded)
    ev.probe = at_reference_rows(ev.probe_measured, ev.curve, len(task.train))
    y, yd = task.train.encode(task.labels, task.multilabel), task.dev.encode(task.labels, task.multilabel)
    # on the probe's sample, each text cut to TFIDF_CHARS (about what the model reads at 128 tokens, and what
    # keeps long documents from costing minutes: 20newsgroups took 335 s on whole texts)
    keep = np.random.default_rng(seed).permutation(len(task.train))[:SAMPLE_ROWS]
    cut = [_cut(task.train.texts[i]) for i in keep]
    ev.tfidf = tfidf_baseline(cut, y[keep], [_cut(t) for t in task.dev.texts], yd, task.labels,
                              task.multilabel).get(metric)
    ev.majority = majority_baseline(y, yd, len(task.labels), task.multilabel, labels=task.labels).get(metric)
    ev.costs = measure_costs(task, [s for s in strategies if s in STRATEGIES], backbone=backbone,
                             max_length=max_length, seed=seed, loaded=loaded)
    ev.seconds = time.perf_counter() - t0
    return ev
