"""The one conformance matrix: every task × every registered strategy × every model family either trains,
predicts and round-trips through save / load, or refuses clearly (a ConfigError saying what was expected,
what was found and what to do), and the cells that refuse are exactly the declared ones below.

Tasks, strategies and families come from the registries (`TASKS`, `STRATEGIES`), so a new task or strategy
is a new row of cells here without editing this file; it then fails until its cells pass or its refusals are
declared. Each cell is one short fit on a tiny model (well under a second); the deeper checks of one
strategy (the loss falls, exactly the trainable parameters get gradients) are in test_conformance.py for
classification, test_tasks.py for NER and QA, and test_generation.py for instruction tuning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import LM_FAMILIES, make_sentiment
from headstart.backbones import load_backbone
from headstart.errors import ConfigError
from headstart.strategies import STRATEGIES
from headstart.tasks.registry import TASKS, estimator_class
from headstart.training.groups import trains
from test_tasks import make_ner, make_qa

FAMILIES = ("bert", "roberta", "electra", "mpnet", "distilbert", "gpt2", "llama", "t5")
OPTIONS = {"epochs": 1, "lr": 3e-3, "batch_size": 8, "max_length": 16, "patience": 0, "seed": 0}
# the tiny models are 32 wide: Compacter's default bottleneck (32 / 16 = 2) is not divisible by its phm_dim 4
STRATEGY_OPTIONS = {"compacter": {"reduction_factor": 4}, "prompt": {"virtual_tokens": 4},
                    "prefix": {"virtual_tokens": 4}}
TEXTS, LABELS = make_sentiment(24, classes=2)
PAIRS = [(t, " ".join(reversed(t.split()))) for t in TEXTS]
NER = make_ner(12)
QA = make_qa(10)
INSTRUCTIONS = [{"instruction": f"say {w}", "input": "", "output": f"{w} {w} good"}
                for w in ("great", "bad", "film", "fun") * 2]


def refusal(task: str, strategy: str, family: str) -> str | None:
    """Why the cell is declared not to train (None: it must train). What headstart itself says is checked
    against this: a cell that starts refusing, or stops, fails the matrix."""
    if strategy == "bitfit" and family in ("llama", "t5"):
        return "no bias terms"
    if strategy == "prefix" and family in ("mpnet", "distilbert", "t5") and task != "generation":
        return "attention takes no past key/values"
    if task == "qa" and strategy == "features":
        return "a linear model on frozen features predicts no spans"
    if task == "generation" and strategy not in TASKS["generation"].strategies:
        return "the strategy trains no language-model head"
    if task == "generation" and family not in LM_FAMILIES:
        return "an encoder cannot generate text"
    return None


CELLS = [pytest.param(task, strategy, family, id=f"{task}-{strategy}-{family}")
         for task in TASKS for strategy in STRATEGIES for family in FAMILIES]


def _fit(task: str, strategy: str, folder: Path):
    takes = TASKS[task].strategies is None or strategy in TASKS[task].strategies
    options = OPTIONS | (STRATEGY_OPTIONS.get(strategy, {}) if takes else {})  # a refused strategy's are not taken
    cls = estimator_class(task)
    if task in ("classification", "pairs"):
        est = cls(backbone=str(folder), strategy=strategy, refit=False, **options)
        return est.fit(PAIRS if task == "pairs" else TEXTS, LABELS)
    if task == "ner":
        return cls(backbone=str(folder), strategy=strategy, stride=4, **options).fit(*NER)
    if task == "qa":
        return cls(backbone=str(folder), strategy=strategy, stride=8, **options | {"max_length": 24}).fit(QA)
    return cls(backbone=str(folder), strategy=strategy, **options | {"max_length": 32, "lr": 1e-2}).fit(INSTRUCTIONS)


def _outputs(task: str, est):
    """What the fitted model says on a few inputs, in a form two models can be compared by."""
    if task in ("classification", "pairs"):
        proba = est.predict_proba((PAIRS if task == "pairs" else TEXTS)[:4])
        assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
        return np.round(proba, 5).tolist()
    if task == "ner":
        proba = est.predict_word_proba(NER[0][:3])
        assert [len(p) for p in proba] == [len(s) for s in NER[0][:3]]
        return [np.round(p, 5).tolist() for p in proba]
    if task == "qa":
        answers = est.predict(QA[:3])
        assert len(answers) == 3
        return answers
    return est.generate_batch(["say fun", "say film"], max_new_tokens=4)


def _frozen_unchanged(est, folder: Path) -> None:
    """Every backbone weight the strategy does not train is the pretrained one, bit for bit."""
    pretrained = dict(load_backbone(str(folder)).model.named_parameters())
    groups = est.model_.layer_groups()
    trainable = est.strategy_.trainable_groups([g.name for g in groups])
    trained = {id(p) for g in groups if g.name in trainable for n, p in g.named_parameters()
               if trains(g.name, n, est.strategy_.keep)}
    checked = 0
    for name, p in est.model_.backbone.named_parameters():
        clean = name.replace("base_model.model.", "").replace(".base_layer", "")
        if id(p) in trained or clean not in pretrained:
            continue
        assert torch.equal(p.detach().cpu(), pretrained[clean].detach()), name
        checked += 1
    assert checked or est.strategy_.name == "full"


@pytest.mark.parametrize(("task", "strategy", "family"), CELLS)
def test_cell_trains_or_refuses_clearly(task, strategy, family, tiny_folders, lm_folders, tmp_path) -> None:
    folder = lm_folders[family] if task == "generation" and family in LM_FAMILIES else tiny_folders[family]
    declared = refusal(task, strategy, family)
    if declared is not None:
        with pytest.raises(ConfigError) as caught:
            _fit(task, strategy, folder)
        err = caught.value
        assert err.expected and err.found and err.fix, f"a refusal must say what to do: {err}"
        assert not list(tmp_path.iterdir())
        return
    est = _fit(task, strategy, folder)
    said = _outputs(task, est)
    if task != "generation":
        _frozen_unchanged(est, folder)
    est.save(tmp_path / "m")
    assert _outputs(task, type(est).load(tmp_path / "m")) == said


def test_the_matrix_covers_every_task_and_strategy() -> None:
    assert {"classification", "pairs", "ner", "qa", "generation"} <= set(TASKS)
    assert len(CELLS) == len(TASKS) * len(STRATEGIES) * len(FAMILIES)
    trains_somewhere = {s for s in STRATEGIES for f in FAMILIES if refusal("classification", s, f) is None}
    assert trains_somewhere == set(STRATEGIES)
