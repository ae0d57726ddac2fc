"""Token-level distillation for NER: a teacher tagger's distribution over tags for every word, softened on
dev, rides on each window's first sub-token of the word beside the gold tag (unlabelled sentences: the
teacher's only). The loss per labelled word is the classifier's mix, `(1 - w) CE(gold) + w CE(teacher at
T)`, averaged over words; the windows, the loop, early stopping on entity F1 and the run are the tagger's own.

A window's label rows are a (positions, 1 + k) float array: column 0 the gold tag id (-1: an unlabelled
word, -100: no word starts here), columns 1.. the teacher's probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from headstart.distill.objective import soften
from headstart.distill.teacher import Teacher, load_teacher
from headstart.tasks.tagging.objective import MAX_PROBE_TOKENS, TokenTagging
from headstart.training.batching import collate

__all__ = ["TaggingPlan", "TokenDistillation", "tagging_plan"]

_NONE, _UNLABELLED = -100.0, -1.0


@dataclass
class TaggingPlan:
    teacher: Teacher
    train: list[np.ndarray]
    dev: list[np.ndarray]
    extra: list[np.ndarray]
    weight: float
    summary: dict = field(default_factory=dict)

    def rows(self, windows, probs: list[np.ndarray], labelled: bool) -> list[np.ndarray]:
        """One (positions, 1 + k) array per window (module docstring)."""
        k = probs[0].shape[1] if probs else 0
        out = []
        for w in windows:
            arr = np.zeros((len(w.input_ids), 1 + k), dtype=np.float32)
            arr[:, 0] = _NONE
            for p, (word, tag) in enumerate(zip(w.word_ids, w.labels, strict=True)):
                if word is not None and tag != -100:  # the word's first sub-token in this window
                    arr[p, 0] = tag if labelled else _UNLABELLED
                    arr[p, 1:] = probs[w.sentence][word]
            out.append(arr)
        return out


def tagging_plan(labels: list[str], train, dev, extra_sentences: list, teacher_spec, *, temperature, weight,
                 score) -> TaggingPlan:
    """Ask the teacher tagger about every sentence (cache first); set T on the dev words unless given.
    `score(gold_tags, predicted_tags)` is the task's entity metric."""
    teacher = load_teacher(teacher_spec, labels, tagger=True)
    raw = {name: teacher.proba(sentences, labels) for name, sentences in
           (("train", train.sentences), ("dev", dev.sentences), ("extra", extra_sentences))}
    index = {tag: i for i, tag in enumerate(labels)}
    gold_dev = np.array([index[t] for tags in dev.tags for t in tags])
    flat = np.concatenate(raw["dev"]) if raw["dev"] else np.zeros((0, len(labels)))
    chosen, how = teacher.temperature(temperature, flat, gold_dev, train.source)
    teacher_tags = [[labels[i] for i in p.argmax(1)] for p in raw["dev"]]
    summary = {"temperature": chosen, "temperature_chosen_on": how, "teacher_saw_dev": teacher.saw(train.source),
               "weight": weight, "unlabeled_rows": len(extra_sentences), "labelled_rows": len(train),
               "teacher_dev": {"f1": score(dev.tags, teacher_tags)["f1"]}}
    soft = {name: [soften(p, chosen, False) for p in rows] for name, rows in raw.items()}
    return TaggingPlan(teacher, soft["train"], soft["dev"], soft["extra"], weight, summary)


@dataclass
class TokenDistillation(TokenTagging):
    """TokenTagging learning from the label rows above; dev is scored on the gold tags alone."""

    weight: float = 0.5

    def loss(self, logits, labels):
        gold, soft = labels[..., 0], labels[..., 1:]
        scored = gold != _NONE
        logits, gold, soft = logits[scored], gold[scored], soft[scored]  # (words, k) each
        follow = -(soft * F.log_softmax(logits, -1)).sum(-1)
        truth = F.cross_entropy(logits, gold.clamp(min=0).long(), reduction="none", label_smoothing=self.label_smoothing)
        return torch.where(gold >= 0, (1 - self.weight) * truth + self.weight * follow, follow).mean()

    def evaluate(self, model, dev, *, pad_id, depth):
        from headstart.training import Examples

        gold = [np.where(np.asarray(r)[:, 0] >= 0, np.asarray(r)[:, 0], -100).astype(np.int64) for r in dev.labels]
        return super().evaluate(model, Examples(dev.inputs, gold, dev.segments), pad_id=pad_id, depth=depth)

    def probe(self, features, labels):
        """Every scored word's features, its target the tag the mixed target weighs most."""
        X = np.concatenate([f.numpy()[np.asarray(r)[:, 0] != _NONE] for f, r in zip(features, labels, strict=True)])
        rows = np.concatenate([np.asarray(r)[np.asarray(r)[:, 0] != _NONE] for r in labels])
        gold, soft = rows[:, 0], rows[:, 1:]
        hot = np.eye(soft.shape[1], dtype=np.float32)[np.clip(gold, 0, None).astype(int)]
        y = np.where((gold >= 0)[:, None], (1 - self.weight) * hot + self.weight * soft, soft).argmax(1)
        if len(y) > MAX_PROBE_TOKENS:
            keep = np.random.default_rng(self.seed).choice(len(y), MAX_PROBE_TOKENS, replace=False)
            X, y = X[keep], y[keep]
        return X, y

    def collate(self, items, pad_id):
        batch = collate([(x, None, *rest) for x, _, *rest in items], pad_id)
        longest = batch["attention_mask"].size(1)
        k = items[0][1].shape[1]
        labels = torch.full((len(items), longest, k), 0.0)
        labels[..., 0] = _NONE
        for i, (_, rows, *_) in enumerate(items):
            labels[i, : len(rows)] = torch.as_tensor(rows)
        batch["labels"] = labels
        return batch
