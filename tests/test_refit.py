"""Giving the held-out rows back (issue 26): after early stopping has chosen the epochs, a refit on train +
dev for that schedule; dev scores stay the first fit's; resume stays exact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import headstart.tasks.base as base_module
from conftest import make_sentiment
from headstart import HeadstartClassifier
from headstart.runs import train_run
from headstart.training import Examples, fit

pytestmark = pytest.mark.xdist_group("refit")
OPTIONS = {"epochs": 3, "lr": 3e-3, "batch_size": 8, "max_length": 16, "patience": 0, "seed": 0}


def _fit(tiny_bert, refit, strategy="top-n", **extra):
    texts, labels = make_sentiment(60, classes=3)
    return HeadstartClassifier(backbone=str(tiny_bert), strategy=strategy, refit=refit, **OPTIONS | extra).fit(
        texts, labels)


@pytest.fixture(scope="module")
def pair(tiny_bert):
    return _fit(tiny_bert, True), _fit(tiny_bert, False)


def test_the_refit_keeps_the_first_fits_dev_scores_and_held_out_predictions(pair) -> None:
    refit, kept = pair
    assert refit.refit_on_dev_ and not kept.refit_on_dev_
    assert refit.fit_result_.history == kept.fit_result_.history  # dev rows never trained the first fit
    texts, labels = make_sentiment(60, classes=3)
    from headstart.data import load_task

    dev = load_task(pd.DataFrame({"text": texts, "label": labels}), dev_fraction=0.1, seed=0).dev
    np.testing.assert_allclose(refit.heldout_dev_proba_, kept.predict_proba(dev.texts), atol=1e-6)


def test_the_final_model_is_the_schedule_run_again_on_train_and_dev(pair, tiny_bert, initial_model) -> None:
    """Rebuilt by hand: the same fresh model trained on train + dev for the kept epochs equals the refit."""
    refit, _ = pair
    texts, labels = make_sentiment(60, classes=3)
    from headstart.data import load_task

    task = load_task(pd.DataFrame({"text": texts, "label": labels}), dev_fraction=0.1, seed=0)
    rows = task.train.texts + task.dev.texts
    y = np.concatenate([refit.encode_labels(task.train), refit.encode_labels(task.dev)])
    model, tokenizer = initial_model(tiny_bert, 3, seed=0)
    from headstart.tasks.classification.objective import Classification
    from headstart.training import tokenize

    names = [g.name for g in model.layer_groups()]
    cfg = refit.train_config_
    fit(model, Examples(tokenize(tokenizer, rows, 16), y), None, trainable=refit.strategy_.trainable_groups(names),
        cfg=cfg, pad_id=tokenizer.pad_token_id, objective=Classification(metric="macro_f1"), progress=False,
        stop_after=refit.fit_result_.best_epoch, average_last=max(1, len(refit.fit_result_.averaged_epochs)))
    probe = ["the movie was great love", "the film was awful hate", "a show was okay fine"]
    want = torch.softmax(model(**_batch(tokenizer, probe)), -1).detach().numpy()
    np.testing.assert_allclose(refit.predict_proba(probe), want, atol=1e-5)


def _batch(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def test_refit_is_automatic_up_to_a_size(tiny_bert, monkeypatch) -> None:
    assert _fit(tiny_bert, None, strategy="head", epochs=1).refit_on_dev_
    monkeypatch.setattr(base_module, "REFIT_MAX_ROWS", 10)
    assert not _fit(tiny_bert, None, strategy="head", epochs=1).refit_on_dev_
    assert _fit(tiny_bert, None, strategy="features").refit_on_dev_  # a second solve, whatever the size


def test_a_run_killed_during_the_refit_resumes_to_the_same_weights(tmp_path, tiny_bert, monkeypatch) -> None:
    texts, labels = make_sentiment(60, classes=3)
    data = tmp_path / "train.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    options = {"backbone": str(tiny_bert), "strategy": "full", "refit": True, **OPTIONS}
    train_run(data, tmp_path / "reference", **options)
    real_fit = base_module.fit

    def dies_in_the_refit(model, train, dev, **kw):
        if dev is None:  # the refit: killed after its first epoch
            kw["on_epoch_end"] = lambda epoch, row: (_ for _ in ()).throw(KeyboardInterrupt)
        return real_fit(model, train, dev, **kw)

    monkeypatch.setattr(base_module, "fit", dies_in_the_refit)
    with pytest.raises(KeyboardInterrupt):
        train_run(data, tmp_path / "run", **options)
    assert (tmp_path / "run" / "checkpoint-refit.safetensors").exists()
    monkeypatch.setattr(base_module, "fit", real_fit)
    train_run(data, tmp_path / "run", resume=True, **options)
    assert not (tmp_path / "run" / "checkpoint-refit.safetensors").exists()
    a = HeadstartClassifier.load(tmp_path / "reference")
    b = HeadstartClassifier.load(tmp_path / "run")
    for (name, p), (_, q) in zip(a.model_.named_parameters(), b.model_.named_parameters(), strict=True):
        assert torch.equal(p, q), name
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["refit_on_dev"] and metrics["trained_on"].startswith("train + dev")


@pytest.mark.parametrize("task", ["ner", "qa"])
def test_tagging_and_qa_refit_too(task, tmp_path, tiny_bert) -> None:
    from test_tasks import _write_conll, make_ner, make_qa

    if task == "ner":
        data = _write_conll(tmp_path / "train.txt", *make_ner(30))
    else:
        data = tmp_path / "train.json"
        data.write_text(json.dumps(make_qa(30)))
    metrics = train_run(data, tmp_path / "run", backbone=str(tiny_bert), strategy="top-n", refit=True,
                        **OPTIONS | {"max_length": 32 if task == "ner" else 48})
    assert metrics["refit_on_dev"] and metrics["task"] == task and "f1" in metrics["dev"]
