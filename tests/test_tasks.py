"""NER and extractive QA end to end on tiny models: the conformance matrix extended to both tasks, the
task detection, run folders and CLI.

Per (strategy, family): training lowers the training loss (gradient strategies) or beats the all-"O"
tagger (features); save -> load predicts exactly the same; what the strategy keeps frozen is bit-for-bit
the pretrained weight.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import headstart
from headstart import HeadstartClassifier, HeadstartQA, HeadstartTagger
from headstart.backbones import load_backbone
from headstart.cli import app
from headstart.errors import ConfigError
from headstart.tasks.extractive_qa.estimator import as_qa_split
from headstart.tasks.registry import detect_task
from headstart.training import Examples, predict_logits

_GOOD = ("good", "great", "love", "excellent", "wonderful")
_BAD = ("bad", "awful", "hate", "terrible", "horrible")
_NOUNS = ("movie", "film", "show", "book", "meal", "song")
_FILLER = ("the", "this", "a", "really", "was", "very", "it", "and")


def make_ner(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences where a sentiment word starts an entity (GOOD / BAD) and a noun right after it continues it."""
    rng = random.Random(seed)
    sentences, tags = [], []
    for _ in range(n):
        words, labels = [], []
        for _ in range(rng.randint(2, 4)):
            words += [rng.choice(_FILLER)]
            labels += ["O"]
            kind, pool = rng.choice([("GOOD", _GOOD), ("BAD", _BAD)])
            words += [rng.choice(pool), rng.choice(_NOUNS)]
            labels += [f"B-{kind}", f"I-{kind}"]
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def make_qa(n: int, seed: int = 0) -> list[dict]:
    """Contexts of "<filler> <noun> was <sentiment>" clauses; the question names a sentiment word, the answer
    is the noun of its clause."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        nouns = rng.sample(_NOUNS, 3)
        moods = rng.sample(_GOOD + _BAD, 3)
        context = " . ".join(f"{rng.choice(_FILLER)} {noun} was {mood}" for noun, mood in zip(nouns, moods, strict=True))
        k = rng.randrange(3)
        start = context.index(f" {nouns[k]} was {moods[k]}") + 1
        records.append({"id": f"q{i}", "question": moods[k], "context": context,
                        "answers": [{"text": nouns[k], "answer_start": start}]})
    return records


OPTIONS = {"epochs": 4, "lr": 3e-3, "batch_size": 8, "max_length": 16, "patience": 0, "seed": 0}
NER_CASES = [("features", "bert"), ("head", "bert"), ("top-n", "bert"), ("full", "bert"), ("lora", "bert"),
             ("bitfit", "bert"), ("adapter", "bert"), ("full", "roberta"), ("lora", "distilbert"),
             ("top-n", "gpt2"), ("lora", "llama"), ("compacter", "bert"), ("ia3", "bert"), ("prompt", "bert"),
             ("prefix", "roberta")]
QA_CASES = [("head", "bert"), ("top-n", "bert"), ("full", "bert"), ("lora", "bert"), ("adapter", "bert"),
            ("full", "distilbert"), ("lora", "roberta"), ("bitfit", "bert"), ("prompt", "bert")]
# the tiny models are 32 wide: Compacter's default bottleneck (32 / 16 = 2) is not divisible by its phm_dim 4
STRATEGY_OPTIONS = {"compacter": {"reduction_factor": 4}}


def _frozen_unchanged(est, folder: Path) -> None:
    """Every backbone weight the strategy does not train equals the pretrained one, bit for bit."""
    pretrained = dict(load_backbone(str(folder)).model.named_parameters())
    trained_ids = {id(p) for p in est.model_.parameters() if p is not None}
    names = [g.name for g in est.model_.layer_groups()]
    trainable = est.strategy_.trainable_groups(names)
    from headstart.training.groups import trains

    trained_ids = {id(p) for g in est.model_.layer_groups() if g.name in trainable
                   for n, p in g.named_parameters() if trains(g.name, n, est.strategy_.keep)}
    for name, p in est.model_.backbone.named_parameters():
        clean = name.replace("base_model.model.", "").replace(".base_layer", "")
        if id(p) in trained_ids or clean not in pretrained:
            continue
        assert torch.equal(p.detach().cpu(), pretrained[clean].detach()), name


def _loss_fell(est) -> None:
    losses = [row["train_loss"] for row in est.fit_result_.history if row["train_loss"] is not None]
    assert len(losses) == OPTIONS["epochs"] and losses[-1] < losses[0], losses


@pytest.mark.parametrize(("strategy", "family"), NER_CASES, ids=[f"{s}-{f}" for s, f in NER_CASES])
def test_ner_conformance(strategy, family, tiny_folders, tmp_path) -> None:
    sentences, tags = make_ner(60)
    dev = make_ner(16, seed=1)
    est = HeadstartTagger(backbone=str(tiny_folders[family]), strategy=strategy, stride=4, warm_start=False,
                          **OPTIONS, **STRATEGY_OPTIONS.get(strategy, {})).fit(sentences, tags, dev=dev)
    if strategy == "features":
        pred = est.predict_tags(sentences)
        acc = np.mean([p == t for ps, ts in zip(pred, tags, strict=True) for p, t in zip(ps, ts, strict=True)])
        all_o = np.mean([t == "O" for ts in tags for t in ts])
        assert acc > all_o + 0.1
    else:
        _loss_fell(est)
    _frozen_unchanged(est, tiny_folders[family])
    est.save(tmp_path / "m")
    loaded = headstart.load(tmp_path / "m")
    assert isinstance(loaded, HeadstartTagger) and loaded.stride == 4
    assert loaded.predict_tags(dev[0]) == est.predict_tags(dev[0])
    ids = [est.tokenizer_(s, is_split_into_words=True)["input_ids"] for s in dev[0][:4]]
    a = predict_logits(est.model_, Examples(ids, None), pad_id=est.tokenizer_.pad_token_id)
    b = predict_logits(loaded.model_, Examples(ids, None), pad_id=est.tokenizer_.pad_token_id)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)


@pytest.mark.parametrize(("strategy", "family"), QA_CASES, ids=[f"{s}-{f}" for s, f in QA_CASES])
def test_qa_conformance(strategy, family, tiny_folders, tmp_path) -> None:
    est = HeadstartQA(backbone=str(tiny_folders[family]), strategy=strategy, stride=8,
                      **OPTIONS | {"max_length": 24}).fit(make_qa(40), dev=make_qa(10, seed=1))
    _loss_fell(est)
    _frozen_unchanged(est, tiny_folders[family])
    est.save(tmp_path / "m")
    loaded = headstart.load(tmp_path / "m")
    assert isinstance(loaded, HeadstartQA)
    test = make_qa(8, seed=2)
    assert [a["text"] for a in loaded.predict(test)] == [a["text"] for a in est.predict(test)]
    assert [a["score"] for a in loaded.predict(test)] == pytest.approx([a["score"] for a in est.predict(test)],
                                                                     abs=1e-5)


def test_qa_long_contexts_are_windowed_and_answers_come_from_the_context(tiny_bert) -> None:
    records = make_qa(20)
    for r in records:  # contexts far longer than the 24-token window
        r["context"] = r["context"] + " . " + " ".join(["the film was fine"] * 12)
    est = HeadstartQA(backbone=str(tiny_bert), strategy="head", stride=8, **OPTIONS | {"max_length": 24,
                                                                                       "epochs": 1})
    est.fit(records, dev=make_qa(6, seed=1))
    for r, answer in zip(records, est.predict(records), strict=True):
        assert answer["text"] == r["context"][answer["start"]: answer["start"] + len(answer["text"])]


def test_features_does_not_apply_to_qa(tiny_bert) -> None:
    with pytest.raises(ConfigError, match="features strategy cannot learn this task"):
        HeadstartQA(backbone=str(tiny_bert), strategy="features", **OPTIONS | {"max_length": 32}).fit(
            make_qa(20), dev=make_qa(6, 1))


def test_tagger_predicts_entities_with_character_spans(tiny_bert) -> None:
    sentences, tags = make_ner(240)
    est = HeadstartTagger(backbone=str(tiny_bert), strategy="full", **OPTIONS | {"epochs": 10}).fit(sentences, tags)
    text = "the  great movie was really awful song"
    found = est.predict([text, ""])
    assert found[1] == []
    for entity in found[0]:
        assert text[entity["start"]: entity["end"]] == entity["text"]
    assert est.score(*make_ner(20, seed=3)) > 0.5  # entity F1 on unseen sentences of the toy task


def test_a_model_loads_only_with_its_task_class(tiny_bert, tmp_path) -> None:
    est = HeadstartTagger(backbone=str(tiny_bert), strategy="head", **OPTIONS | {"epochs": 1}).fit(*make_ner(30))
    est.save(tmp_path / "ner")
    with pytest.raises(ConfigError, match="holds a ner model"):
        HeadstartClassifier.load(tmp_path / "ner")


def test_unseen_entity_type_in_dev_is_named(tiny_bert) -> None:
    sentences, tags = make_ner(30)
    dev_s, dev_t = make_ner(5, seed=1)
    dev_t[2] = ["B-PLACE" if t.startswith("B-") else t for t in dev_t[2]]
    with pytest.raises(headstart.DataError, match="PLACE"):
        HeadstartTagger(backbone=str(tiny_bert), **OPTIONS).fit(sentences, tags, dev=(dev_s, dev_t))


@pytest.mark.parametrize(("content", "name", "task"), [
    ("EU\tB-ORG\nrejects\tO\n\nPeter\tB-PER\n", "train.txt", "ner"),
    ('{"tokens": ["EU"], "tags": ["B-ORG"]}\n', "train.jsonl", "ner"),
    ('{"version": "1.1", "data": [{"title": "x", "paragraphs": []}]}', "train.json", "qa"),
    ('{"question": "q", "context": "c"}\n', "qa.jsonl", "qa"),
    ("text,label\nhello,a\n", "train.csv", "classification"),
    ('{"text": "hello", "label": "a"}\n', "train.jsonl", "classification"),
    ("hello world, this is text\tpos\n", "train.tsv", "classification"),
    ("text\tlabel\ngreat film\tpos\n", "train.tsv", "classification"),
    ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", "train.tsv", "ner"),
])
def test_detect_task(content, name, task, tmp_path) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert detect_task(path) == task


def _write_conll(path: Path, sentences, tags) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s, ts, strict=True))
                                for s, ts in zip(sentences, tags, strict=True)) + "\n")
    return path


def _json_row(output: str, start: str) -> dict:
    """The JSON line printed by `predict --json` (progress bars of model loading may share its line)."""
    return json.loads(output[output.rindex(start):].splitlines()[0])


def test_cli_ner_train_evaluate_predict(tiny_bert, tmp_path) -> None:
    train = _write_conll(tmp_path / "train.txt", *make_ner(60))
    test = _write_conll(tmp_path / "test.txt", *make_ner(15, seed=4))
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(train), "--out", str(out), "--backbone", str(tiny_bert),
                                 "--strategy", "head", "--epochs", "2", "--max-length", "16", "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "ner: head" in result.output and "f1" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "ner" and 0 <= metrics["test"]["f1"] <= 1 and metrics["test"]["per_type"]
    assert (out / "report.html").exists() and "Per entity type" in (out / "report.md").read_text()
    result = runner.invoke(app, ["evaluate", str(out), str(test)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", str(out), "the great movie", "--json"])
    assert result.exit_code == 0, result.output
    row = _json_row(result.output, '{"text"')
    assert row["text"] == "the great movie" and isinstance(row["entities"], list)


def test_cli_qa_train_and_predict(tiny_bert, tmp_path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in make_qa(30)) + "\n")
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(train), "--out", str(out), "--backbone", str(tiny_bert),
                                 "--strategy", "head", "--epochs", "1", "--max-length", "32", "--stride", "8"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["task"] == "qa"
    result = runner.invoke(app, ["predict", str(out), "great", "--context", "the movie was great", "--json"])
    assert result.exit_code == 0, result.output
    row = _json_row(result.output, '{"question"')
    assert row["answer"] in "the movie was great"
    result = runner.invoke(app, ["predict", str(out), "great"])
    assert result.exit_code == 1 and "--context" in result.output


def test_qa_feeds_segment_ids_to_models_that_have_them(tiny_folders) -> None:
    """BERT-style models see the question as segment 0 and the context as segment 1 (the SQuAD recipe), in
    the cached and the uncached path alike: top-n trains to the same weights either way."""
    runs = {}
    for cached in (True, False):
        est = HeadstartQA(backbone=str(tiny_folders["bert"]), strategy="top-n", top_n=1, prefix_cache=cached,
                          **OPTIONS | {"max_length": 24, "epochs": 2})
        runs[cached] = est.fit(make_qa(30), dev=make_qa(6, seed=1))
    assert runs[True].fit_result_.cache_depth is not None and runs[False].fit_result_.cache_depth is None
    with_cache = dict(runs[True].model_.named_parameters())
    for name, p in runs[False].model_.named_parameters():
        torch.testing.assert_close(p, with_cache[name], atol=1e-5, rtol=0, msg=name)
    features = runs[True]._features(as_qa_split(make_qa(2)))
    assert runs[True]._examples(features, labelled=False).segments is not None
    assert 1 in runs[True]._examples(features, labelled=False).segments[0]  # the context is segment 1
    distil = HeadstartQA(backbone=str(tiny_folders["distilbert"]), strategy="head",
                         **OPTIONS | {"max_length": 24, "epochs": 1}).fit(make_qa(20), dev=make_qa(6, seed=1))
    assert distil._examples(features, labelled=False).segments is None  # DistilBERT has no segment embeddings
