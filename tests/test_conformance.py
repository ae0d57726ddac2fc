"""One matrix that every registered strategy passes, on every tiny model family (peft / check_estimator style).

The strategies come from `headstart.strategies.STRATEGIES`, so a newly registered strategy is covered by
every check here without editing this file. Per (strategy, family):

    a) training helps: trained from the random head (warm_start=False), lower training loss than the
       untrained model (or, for strategies that do not train by gradient, training accuracy above the
       majority class); with the default warm start, the result is the best dev epoch, epoch 0 (the
       linear probe) included, so training never ends worse than where it started
    b) save -> load predicts the same probabilities
    c) everything the strategy keeps frozen is bit-for-bit the pretrained weight after training
    d) exactly the parameters of the strategy's trainable groups receive gradients, and
       `trainable_params_` counts exactly them
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from headstart import HeadstartClassifier
from headstart.backbones import load_backbone
from headstart.errors import ConfigError
from headstart.strategies import STRATEGIES, make_strategy
from headstart.training import Examples, collate, predict_logits, tokenize
from headstart.training.groups import NEW_GROUPS, freeze_except, trains
from headstart.training.loop import loss_fn

MATRIX_FAMILIES = ("bert", "roberta", "electra", "mpnet", "distilbert", "gpt2", "llama", "t5")
# strategies that refuse a family, with the reason (the refusal itself is tested below)
NOT_APPLICABLE = {("bitfit", "llama"): "no bias terms", ("bitfit", "t5"): "no bias terms",
                  ("prefix", "distilbert"): "attention takes no past key/values",
                  ("prefix", "t5"): "the T5 encoder takes no past key/values",
                  ("prefix", "mpnet"): "attention takes no past key/values"}
# the adapter strategies run on the families issue 3 names (their peft / hook mechanics differ by family
# layout, which these five cover: BERT-style, DistilBERT, GPT-2's Conv1D, Llama-style); the others on all
ADAPTER_FAMILIES = ("bert", "roberta", "distilbert", "gpt2", "llama")
# with xdist (`-n auto --dist loadgroup`), the tests of one case run on one worker, which fits it once
CASES = [pytest.param(strategy, family, id=f"{strategy}-{family}",
                      marks=pytest.mark.xdist_group(f"{strategy}-{family}"))
         for strategy in STRATEGIES
         for family in (ADAPTER_FAMILIES if STRATEGIES[strategy].adapter else MATRIX_FAMILIES)
         if (strategy, family) not in NOT_APPLICABLE]
MAX_LENGTH = 16
OPTIONS = {"epochs": 4, "lr": 3e-3, "batch_size": 8, "max_length": MAX_LENGTH, "patience": 0, "seed": 0,
           "refit": False}  # the mechanics of one fit; the refit has its own tests (test_refit.py)
# the tiny models are 32 wide: Compacter's default bottleneck (32 / 16 = 2) is not divisible by its phm_dim 4
STRATEGY_OPTIONS = {"compacter": {"reduction_factor": 4}}


def _trainable_params(model, strategy) -> dict[int, torch.nn.Parameter]:
    """id -> parameter, for the parameters the strategy trains (a tied weight counts once)."""
    names = [g.name for g in model.layer_groups()]
    trainable = strategy.trainable_groups(names)
    return {id(p): p for g in model.layer_groups() if g.name in trainable
            for n, p in g.named_parameters() if trains(g.name, n, strategy.keep)}


def _pretrained_name(name: str) -> str:
    """peft wraps an adapted projection: `query.base_layer.weight` is the pretrained `query.weight`."""
    return name.replace(".base_layer", "")


def _training_loss(model, tokenizer, texts: list[str], y: np.ndarray) -> float:
    ids = tokenize(tokenizer, texts, MAX_LENGTH)
    logits = predict_logits(model, Examples(ids, None), pad_id=tokenizer.pad_token_id)
    return float(loss_fn(torch.as_tensor(logits), torch.as_tensor(y), None, multilabel=False))


@pytest.fixture(scope="module")
def pretrained(tiny_folders) -> dict[str, dict[str, torch.Tensor]]:
    """family -> a copy of the backbone's pretrained parameters, taken before any training."""
    return {family: {k: v.detach().clone() for k, v in load_backbone(str(tiny_folders[family])).model
                     .named_parameters()} for family in MATRIX_FAMILIES}


@pytest.fixture(scope="module")
def trained(tiny_folders, toy_data, toy_dev):
    """(strategy, family, **options) -> a classifier fitted on the toy data (each fitted once per module)."""
    fitted: dict[tuple, HeadstartClassifier] = {}
    dev = pd.DataFrame({"text": toy_dev[0], "label": toy_dev[1]})

    def get(strategy: str, family: str, **options) -> HeadstartClassifier:
        key = (strategy, family, *sorted(options.items()))
        if key not in fitted:
            clf = HeadstartClassifier(backbone=str(tiny_folders[family]), strategy=strategy,
                                      **OPTIONS | STRATEGY_OPTIONS.get(strategy, {}) | options)
            fitted[key] = clf.fit(*toy_data, dev=dev)
        return fitted[key]

    return get


@pytest.mark.parametrize("strategy, family", CASES)
def test_training_improves_on_the_untrained_model(strategy, family, trained, tiny_folders, toy_data,
                                                  initial_model) -> None:
    texts, labels = toy_data
    clf = trained(strategy, family, warm_start=False)
    if not clf.strategy_.uses_gradients:
        majority = max(labels.count(c) for c in set(labels)) / len(labels)
        assert clf.score(texts, labels) > majority
        return
    y = np.array([list(clf.classes_).index(label) for label in labels])
    model, tokenizer = initial_model(tiny_folders[family], len(clf.classes_), seed=OPTIONS["seed"])
    before = _training_loss(model, tokenizer, texts, y)
    after = _training_loss(clf.model_, clf.tokenizer_, texts, y)
    assert after < before, f"training loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("strategy, family", CASES)
def test_the_best_dev_epoch_is_kept(strategy, family, trained) -> None:
    clf = trained(strategy, family)
    if not clf.strategy_.uses_gradients:
        return
    result = clf.fit_result_
    values = [row[f"dev_{result.metric}"] for row in result.history]
    assert [row["epoch"] for row in result.history] == list(range(OPTIONS["epochs"] + 1))
    assert result.history[0]["train_loss"] is None  # epoch 0: the starting point, before any step
    assert result.best_metric == max(values) >= values[0]
    assert result.best_epoch == result.history[values.index(max(values))]["epoch"]


@pytest.mark.parametrize("strategy, family", CASES)
def test_save_load_predicts_the_same(strategy, family, trained, toy_data, tmp_path: Path) -> None:
    clf = trained(strategy, family)
    texts = toy_data[0][:20]
    loaded = HeadstartClassifier.load(clf.save(tmp_path / "model"))
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6, rtol=0)
    assert list(loaded.classes_) == list(clf.classes_)
    assert loaded.strategy_.describe() == clf.strategy_.describe()


@pytest.mark.parametrize("strategy, family", CASES)
def test_frozen_parameters_are_bit_for_bit_pretrained(strategy, family, trained, pretrained) -> None:
    clf = trained(strategy, family)
    names = [g.name for g in clf.model_.layer_groups()]
    trainable = _trainable_params(clf.model_, clf.strategy_)
    before = pretrained[family]
    frozen = moved = 0
    for name, p in clf.model_.backbone.named_parameters():
        pretrained_name = _pretrained_name(name)
        if pretrained_name not in before:  # an added adapter weight, not a pretrained one
            assert id(p) in trainable
            continue
        if id(p) in trainable:
            moved += not torch.equal(p, before[pretrained_name])
        else:
            frozen += 1
            assert torch.equal(p, before[pretrained_name]), f"{name} is frozen by {strategy!r} but changed"
    assert frozen > 0
    # the trainable pretrained weights did train, unless the best epoch was the start (the head is new);
    # adapter strategies (bitfit aside) train none of them
    trains_pretrained = clf.strategy_.adapter in (None, "bitfit") and any(
        g not in NEW_GROUPS for g in clf.strategy_.trainable_groups(names))
    if clf.fit_result_.best_epoch > 0:
        assert (moved > 0) == trains_pretrained


@pytest.mark.parametrize("strategy, family", CASES)
def test_only_trainable_groups_get_gradients(strategy, family, trained, tiny_folders, toy_data,
                                             initial_model) -> None:
    model, tokenizer = initial_model(tiny_folders[family], 2)
    chosen = make_strategy(strategy, **STRATEGY_OPTIONS.get(strategy, {}))
    chosen.prepare(model)
    groups = model.layer_groups()
    freeze_except(model, groups, chosen.trainable_groups([g.name for g in groups]), chosen.keep)
    texts, labels = toy_data
    ids = tokenize(tokenizer, texts[:8], MAX_LENGTH)
    batch = collate([(x, int(label == "pos")) for x, label in zip(ids, labels[:8], strict=True)],
                    tokenizer.pad_token_id, multilabel=False)
    y = batch.pop("labels")
    loss_fn(model(**batch), y, None, multilabel=False).backward()

    expected = _trainable_params(model, chosen)
    got = {name for name, p in model.named_parameters() if p.grad is not None}
    want = {name for name, p in model.named_parameters() if id(p) in expected}
    assert got == want
    assert trained(strategy, family).trainable_params_ == sum(p.numel() for p in expected.values())


@pytest.mark.parametrize("strategy, family", [pytest.param(s, f, id=f"{s}-{f}") for s, f in NOT_APPLICABLE])
def test_inapplicable_strategies_refuse_clearly(strategy, family, tiny_folders, toy_data) -> None:
    clf = HeadstartClassifier(backbone=str(tiny_folders[family]), strategy=strategy, **OPTIONS)
    with pytest.raises(ConfigError) as err:
        clf.fit(*toy_data)
    assert family in str(err.value) and "fix:" in str(err.value).lower()
