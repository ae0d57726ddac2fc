"""Distillation and self-training (headstart.distill) on tiny config-built models.

What is checked: the loss mixes teacher and gold exactly as documented; the teacher's signal reaches the
student (a teacher that flips every label, followed with weight 1, flips the student); teacher outputs are
cached on disk and reused; teacher columns are matched to the student's labels by name; an API teacher runs
over real HTTP against a loopback OpenAI-compatible server (requests counted, a rerun sends none);
self-training rounds stop when dev stops improving; the CLI refuses what it cannot do, clearly.
"""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fastapi import FastAPI
from typer.testing import CliRunner

from conftest import _POSITIVE, make_sentiment
from headstart import HeadstartClassifier
from headstart.cli import app
from headstart.distill.cache import TeacherCache
from headstart.distill.objective import Distillation, choose_temperature, soft_rows, soften
from headstart.distill.self_training import class_thresholds
from headstart.distill.tagging import TokenDistillation
from headstart.distill.teacher import load_teacher
from headstart.errors import ConfigError
from headstart.serving.background import BackgroundServer
from headstart.tasks.tagging.estimator import HeadstartTagger
from test_tasks import _write_conll, make_ner

OPTS = dict(epochs=2, batch_size=16, max_length=32)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Each test gets its own teacher cache ($HEADSTART_HOME) and no API settings from the environment."""
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HEADSTART_API_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def teacher(tiny_bert, toy_data):
    return HeadstartClassifier(str(tiny_bert), "full", **OPTS).fit(*toy_data)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory, teacher):
    folder = tmp_path_factory.mktemp("teacher") / "run"
    teacher.save(folder)
    return folder


class Flipped:
    """A teacher that is sure of the wrong label: pos <-> neg."""

    labels_ = ["neg", "pos"]

    def __init__(self, base) -> None:
        self.base = base
        self.calls = 0

    def predict_proba(self, texts):
        self.calls += 1
        p = self.base.predict_proba(texts)  # columns in base.labels_ order
        order = [list(self.base.labels_).index(label) for label in self.labels_]
        return p[:, order][:, ::-1]


# -- the objective ------------------------------------------------------------------------------------------

def test_loss_mixes_teacher_and_gold_as_documented():
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    q = torch.softmax(torch.randn(4, 3), -1)
    gold = torch.tensor([2.0, 0.0, -1.0, -1.0])  # two labelled rows, two unlabelled
    rows = torch.cat([gold[:, None], q], 1)
    w = 0.3
    got = Distillation(weight=w, n_labels=3).loss(logits, rows)
    follow = -(q * F.log_softmax(logits, -1)).sum(-1)
    truth = F.cross_entropy(logits, torch.tensor([2, 0, 0, 0]), reduction="none")
    want = torch.stack([(1 - w) * truth[0] + w * follow[0], (1 - w) * truth[1] + w * follow[1], follow[2], follow[3]])
    assert torch.allclose(got, want.mean())
    # weight 0: labelled rows follow gold alone; weight 1: the teacher alone
    assert torch.allclose(Distillation(weight=0.0, n_labels=3).loss(logits[:2], rows[:2]), truth[:2].mean())
    assert torch.allclose(Distillation(weight=1.0, n_labels=3).loss(logits, rows), follow.mean())


def test_multilabel_loss_is_per_label_bce_against_both():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    gold = np.array([[1, 0], [0, 0]], np.float32)
    q = np.array([[0.8, 0.1], [0.6, 0.4]], np.float32)
    rows = torch.as_tensor(np.concatenate([soft_rows(gold[:1], q[:1], True), soft_rows(None, q[1:], True)]))
    got = Distillation(weight=0.5, n_labels=2, multilabel=True).loss(logits, rows)
    bce = lambda x, t: F.binary_cross_entropy_with_logits(x, torch.as_tensor(t)).item()  # noqa: E731
    want = (0.5 * bce(logits[0], gold[0]) + 0.5 * bce(logits[0], q[0]) + bce(logits[1], q[1])) / 2
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_soften_and_the_temperature_chosen_on_dev():
    p = np.array([[0.9, 0.1], [0.6, 0.4]])
    assert np.allclose(soften(p, 1.0, False), p, atol=1e-6)
    assert soften(p, 2.0, False)[0, 0] == pytest.approx(3 / 4)  # 0.9^.5 / (0.9^.5 + 0.1^.5)
    # a teacher that is 99% sure and right only 70% of the time is best softened a lot; a calibrated one is not
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 400)
    right = rng.random(400) < 0.7
    picked = np.where(right, gold, 1 - gold)
    overconfident = np.where(picked[:, None] == np.arange(2), 0.99, 0.01)
    calibrated = np.where(picked[:, None] == np.arange(2), 0.7, 0.3)
    assert choose_temperature(overconfident, gold, False) >= 3.0
    assert choose_temperature(calibrated, gold, False) == 1.0


# -- teachers and their cache ------------------------------------------------------------------------------

def test_teacher_columns_follow_the_students_labels_by_name(teacher):
    flipped = load_teacher(Flipped(teacher), ["pos", "neg"])
    texts = ["the film was great great", "the film was awful awful"]
    p = flipped.proba(texts, ["pos", "neg"])
    direct = teacher.predict_proba(texts)  # teacher.labels_ order
    pos = list(teacher.labels_).index("pos")
    assert np.allclose(p[:, 0], direct[:, 1 - pos], atol=1e-6)  # the flipped teacher's "pos" is the truth's "neg"
    with pytest.raises(ConfigError, match="does not know") as info:
        flipped.proba(texts, ["pos", "neg", "neutral"])
    assert "neutral" in str(info.value)


def test_run_teacher_outputs_are_cached_and_reused(teacher_run, tmp_path):
    texts, _ = make_sentiment(30, seed=11)
    first = load_teacher(str(teacher_run), ["neg", "pos"])
    a = first.proba(texts, ["neg", "pos"])
    assert (first.asked, first.cached) == (30, 0)
    again = load_teacher(str(teacher_run), ["neg", "pos"])
    again.model = None  # nothing may be predicted now: every row must come from the cache
    b = again.proba(texts + texts[:5], ["neg", "pos"])
    assert (again.asked, again.cached) == (0, 35)
    assert np.array_equal(a, b[:30])
    cache = TeacherCache(again.identity)
    with np.load(cache.path, allow_pickle=False) as saved:  # plain arrays, nothing that unpickles
        assert saved["probs"].shape == (30, 2)
    cache.path.write_bytes(b"not an npz")  # a damaged cache is ignored and rewritten, never fatal
    assert len(TeacherCache(again.identity)) == 0


def test_a_retrained_teacher_is_a_new_cache_entry(teacher_run, tiny_bert, toy_data, tmp_path):
    before = load_teacher(str(teacher_run), ["neg", "pos"]).identity
    other = tmp_path / "run"
    HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(*toy_data).save(other)
    assert load_teacher(str(other), ["neg", "pos"]).identity != before


# -- the student --------------------------------------------------------------------------------------------

def test_the_teachers_signal_reaches_the_student(tiny_bert, toy_data, toy_dev, teacher):
    """Gold labels all flipped, a teacher that is right: followed with weight 1 the student is right on a
    correct dev set; with weight 0 it learns the flipped gold (the warm-start probe included: it fits the
    same mixed target)."""
    flip = {"pos": "neg", "neg": "pos"}
    wrong = [flip[v] for v in toy_data[1]]
    settings = dict(temperature=1.0, **OPTS)
    follow = HeadstartClassifier(str(tiny_bert), "full", distill_weight=1.0, **settings).fit(
        toy_data[0], wrong, dev=_frame(*toy_dev), teacher=teacher)
    gold = HeadstartClassifier(str(tiny_bert), "full", distill_weight=0.0, **settings).fit(
        toy_data[0], wrong, dev=_frame(*toy_dev), teacher=teacher)
    assert follow.score(*toy_dev) >= 0.85
    assert gold.score(*toy_dev) <= follow.score(*toy_dev) - 0.25


def _frame(texts, labels):
    import pandas as pd

    return pd.DataFrame({"text": texts, "label": labels})


def test_unlabelled_rows_train_the_student(tiny_bert, toy_data, teacher):
    few_x, few_y = toy_data[0][:12], toy_data[1][:12]
    more, _ = make_sentiment(160, seed=21)
    student = HeadstartClassifier(str(tiny_bert), "top-n", **OPTS).fit(few_x, few_y, teacher=teacher, unlabeled=more)
    plan = student.distillation_
    assert plan.summary["unlabeled_rows"] == 160 and len(plan.extra_texts) == 160
    assert plan.summary["teacher_train_agreement"]["rows"] == len(few_x) - len(plan.dev)
    assert student.predict(["the movie was great love"])[0] in ("pos", "neg")


def test_unlabelled_texts_alone_are_refused(tiny_bert, toy_data):
    with pytest.raises(ConfigError, match="need a teacher or self-training"):
        HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(*toy_data, unlabeled=["a text"])


def test_multilabel_student(tiny_bert):
    texts, y = make_sentiment(60, seed=4)
    labels = [(v, "short") if len(t) < 30 else (v,) for t, v in zip(texts, y, strict=True)]
    teacher = HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(texts, labels)
    student = HeadstartClassifier(str(tiny_bert), "top-n", **OPTS).fit(texts, labels, teacher=teacher,
                                                                    unlabeled=make_sentiment(40, seed=8)[0])
    assert student.multilabel_ and student.predict_proba(texts[:3]).shape == (3, len(student.labels_))


# -- self-training -------------------------------------------------------------------------------------------

def test_class_thresholds_reach_the_asked_precision():
    conf = np.linspace(0.5, 1.0, 40)
    proba = np.stack([conf, 1 - conf], 1)  # every row predicted class 0
    gold = np.where(conf > 0.75, 0, 1)  # right only above 0.75
    t = class_thresholds(proba, gold, precision=0.9)
    kept = conf >= t[0]
    assert (gold[kept] == 0).mean() >= 0.9 and t[0] <= 0.77
    assert np.isinf(t[1])  # class 1 is never predicted: no pseudo-labels for it


def test_self_training_rounds_stop_when_dev_stops_improving(tiny_bert, toy_data):
    more, _ = make_sentiment(120, seed=31)
    est = HeadstartClassifier(str(tiny_bert), "top-n", self_train=True, self_train_rounds=3, **OPTS)
    est.fit(*toy_data, unlabeled=more)
    rounds = est.self_training_
    assert rounds[0]["round"] == 0 and rounds[0]["kept"]
    assert 2 <= len(rounds) <= 4
    kept = [r for r in rounds if r["kept"]]
    assert all(a["dev"] < b["dev"] for a, b in zip(kept, kept[1:], strict=False))  # each kept round is better
    if len(rounds) < 4:
        assert not rounds[-1]["kept"]  # stopped early: the last round did not improve dev and was dropped
    assert est.fit_result_.best_metric == kept[-1]["dev"]  # the estimator holds the best round's model
    if len(kept) >= 3:  # rounds' models are not chained in memory: the teacher's own teacher is released
        assert est.distillation_.teacher.model.distillation_.teacher.model is None


def test_self_training_needs_unlabelled_texts(tiny_bert, toy_data):
    with pytest.raises(ConfigError, match="needs unlabelled texts"):
        HeadstartClassifier(str(tiny_bert), "head", self_train=True, **OPTS).fit(*toy_data)


# -- an LLM teacher through the API path, over real HTTP --------------------------------------------------

def _labelling_api() -> tuple[FastAPI, list]:
    """An OpenAI-compatible chat server that answers "positive" for a text with a positive word: a stand-in
    for a hosted model that labels well. It records every request it gets."""
    api, seen = FastAPI(), []

    @api.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        text = re.search(r"Text: (.*)\n\nWhich", body["messages"][-1]["content"], re.S).group(1)
        seen.append(text)
        answer = "Positive." if any(w in text.split() for w in _POSITIVE) else "negative"
        return {"choices": [{"message": {"role": "assistant", "content": answer}}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 2}}

    return api, seen


def test_api_teacher_labels_through_the_server_and_is_cached(tiny_bert, tmp_path, monkeypatch):
    texts, y = make_sentiment(40, seed=12)
    labels = ["positive" if v == "pos" else "negative" for v in y]
    more, _ = make_sentiment(30, seed=13)
    api, seen = _labelling_api()
    with BackgroundServer(api) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("HEADSTART_API_MODEL", "stand-in")
        student = HeadstartClassifier(str(tiny_bert), "top-n", **OPTS).fit(texts, labels, teacher="zero-shot:api",
                                                                         unlabeled=more)
        plan = student.distillation_
        about = plan.teacher.describe()
        assert about["requests"] == len(set(seen)) == 70  # 36 train + 4 dev + 30 unlabelled, one request each
        assert plan.summary["teacher_train_agreement"]["agreement"] == 1.0
        n = len(seen)
        again = HeadstartClassifier(str(tiny_bert), "top-n", **OPTS).fit(texts, labels, teacher="zero-shot:api",
                                                                       unlabeled=more)
        assert len(seen) == n  # the rerun sent nothing: every teacher row came from the cache
        assert again.distillation_.teacher.cached == 70


# -- the command line ----------------------------------------------------------------------------------------

def _csv(path, texts, labels=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"] if labels else ["text"])
        w.writerows(zip(texts, labels, strict=True) if labels else ([t] for t in texts))
    return path


def test_cli_distill_writes_teacher_beside_student(tiny_bert, teacher_run, tmp_path):
    train = _csv(tmp_path / "train.csv", *make_sentiment(60, seed=1))
    test = _csv(tmp_path / "test.csv", *make_sentiment(30, seed=2))
    more = _csv(tmp_path / "more.csv", make_sentiment(50, seed=3)[0])
    out = tmp_path / "student"
    args = ["distill", str(train), "--teacher", str(teacher_run), "--unlabeled", str(more), "--test", str(test),
            "--backbone", str(tiny_bert), "--strategy", "head", "--epochs", "1", "--max-length", "32", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    d = json.loads((out / "metrics.json").read_text())["distillation"]
    assert d["teacher"]["kind"] == "run" and d["unlabeled_rows"] == 50 and d["split_rows"] == 30
    assert 0.0 <= d["agreement"] <= 1.0 and d["student_scores"]["accuracy"] == pytest.approx(
        json.loads((out / "metrics.json").read_text())["test"]["accuracy"])
    report = (out / "report.md").read_text()
    assert "## Teacher vs student" in report and "Student and teacher agree on" in report
    assert HeadstartClassifier.load(out).predict(["the movie was great love"]).shape == (1,)


def test_cli_distill_without_a_teacher_says_what_to_pass(tmp_path):
    train = _csv(tmp_path / "train.csv", *make_sentiment(20))
    result = CliRunner().invoke(app, ["distill", str(train), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "needs a teacher" in result.output and "--self-train" in result.output
    assert not (tmp_path / "x").exists()


def test_a_task_without_distillation_refuses_the_teacher(tmp_path, teacher_run):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"question": "who?", "context": "Ada wrote.", "answers": {"text": ["Ada"],
                                                                                          "answer_start": [0]}}) + "\n")
    result = CliRunner().invoke(app, ["train", str(train), "--task", "qa", "--teacher", str(teacher_run),
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "does not learn from a teacher" in result.output


# -- NER: token-level soft labels ------------------------------------------------------------------------------

def test_token_loss_mixes_per_word_and_skips_other_positions():
    torch.manual_seed(1)
    logits = torch.randn(1, 4, 3)
    q = torch.softmax(torch.randn(4, 3), -1)
    rows = torch.cat([torch.tensor([[-100.0], [2.0], [-1.0], [-100.0]]), q], 1)[None]
    got = TokenDistillation(score=None, weight=0.25).loss(logits, rows)
    lp = F.log_softmax(logits[0], -1)
    want = (0.75 * -lp[1, 2] + 0.25 * -(q[1] * lp[1]).sum() + -(q[2] * lp[2]).sum()) / 2
    assert torch.allclose(got, want)


class OracleTagger:
    """A teacher tagger that knows the true tags of the sentences it is asked about (90% on the true tag)."""

    labels_ = ["O", "B-BAD", "I-BAD", "B-GOOD", "I-GOOD"]

    def __init__(self, sentences, tags) -> None:
        self.truth = {tuple(s): t for s, t in zip(sentences, tags, strict=True)}

    def predict_word_proba(self, sentences):
        out = []
        for s in sentences:
            p = np.full((len(s), 5), 0.025, np.float32)
            p[np.arange(len(s)), [self.labels_.index(t) for t in self.truth[tuple(s)]]] = 0.9
            out.append(p)
        return out


NER_OPTS = {"epochs": 6, "lr": 3e-3, "batch_size": 8, "max_length": 16, "patience": 0, "temperature": 1.0}


def test_a_tagger_learns_from_a_teacher_tagger(tiny_bert):
    """Gold entity types swapped (GOOD <-> BAD), a teacher that is right: followed with weight 1 the student
    finds the right types on a correct dev set; with weight 0 it learns the swapped ones."""
    sentences, tags = make_ner(120)
    dev = make_ner(30, seed=5)
    swap = {"B-GOOD": "B-BAD", "I-GOOD": "I-BAD", "B-BAD": "B-GOOD", "I-BAD": "I-GOOD", "O": "O"}
    wrong = [[swap[t] for t in ts] for ts in tags]
    oracle = OracleTagger(sentences + dev[0], tags + dev[1])
    follow = HeadstartTagger(str(tiny_bert), "full", distill_weight=1.0, **NER_OPTS).fit(sentences, wrong, dev=dev,
                                                                                       teacher=oracle)
    gold = HeadstartTagger(str(tiny_bert), "full", distill_weight=0.0, **NER_OPTS).fit(sentences, wrong, dev=dev,
                                                                                     teacher=oracle)
    assert follow.score(*dev) >= 0.4
    assert gold.score(*dev) <= follow.score(*dev) - 0.3


def test_teacher_tagger_gives_a_distribution_per_word(tiny_bert):
    tagger = HeadstartTagger(str(tiny_bert), "head", epochs=1, max_length=16).fit(*make_ner(20))
    sentences = make_ner(3, seed=2)[0]
    probs = tagger.predict_word_proba(sentences)
    assert [p.shape for p in probs] == [(len(s), len(tagger.labels_)) for s in sentences]
    assert all(np.allclose(p.sum(1), 1.0, atol=1e-5) for p in probs)
    tags = tagger.predict_tags(sentences)
    assert [[tagger.labels_[i] for i in p.argmax(1)] for p in probs] == tags


def test_cli_distill_ner_with_unlabelled_sentences(tiny_bert, tmp_path):
    train = _write_conll(tmp_path / "train.txt", *make_ner(50))
    test = _write_conll(tmp_path / "test.txt", *make_ner(15, seed=4))
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(json.dumps({"tokens": s}) for s in make_ner(30, seed=9)[0]) + "\n")
    runner, teacher = CliRunner(), tmp_path / "teacher"
    base = ["--backbone", str(tiny_bert), "--epochs", "2", "--max-length", "24", "--test", str(test)]
    assert runner.invoke(app, ["train", str(train), "--strategy", "full", "--out", str(teacher), *base]).exit_code == 0
    out = tmp_path / "student"
    result = runner.invoke(app, ["distill", str(train), "--teacher", str(teacher), "--unlabeled", str(more),
                                 "--strategy", "head", "--out", str(out), *base])
    assert result.exit_code == 0, result.output
    d = json.loads((out / "metrics.json").read_text())["distillation"]
    assert d["unlabeled_rows"] == 30 and d["teacher"]["texts_predicted"] == 50 + 30 + 15
    assert set(d["teacher_scores"]) == {"precision", "recall", "f1"} and 0 <= d["agreement"] <= 1
    assert "## Teacher vs student" in (out / "report.md").read_text()
    wrong = runner.invoke(app, ["distill", str(train), "--teacher", "zero-shot:embedding", "--out", str(tmp_path / "z"),
                                *base])
    assert wrong.exit_code == 1 and "cannot tag words" in wrong.output


def test_a_compare_ensemble_teaches_and_its_members_key_the_cache(tiny_bert, toy_data, teacher, tmp_path):
    from headstart.ensemble import save_ensemble

    root = tmp_path / "cmp"
    members = []
    for name, model in (("full", teacher), ("head", HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(*toy_data))):
        members.append(model.save(root / "candidates" / name / "model"))
    save_ensemble(root / "ensemble", members, ["full", "head"], list(teacher.labels_), False)
    first = load_teacher(str(root / "ensemble"), ["neg", "pos"])
    p = first.proba(["the film was great love"], ["neg", "pos"])
    mean = np.mean([HeadstartClassifier.load(m).predict_proba(["the film was great love"]) for m in members], axis=0)
    order = [list(teacher.labels_).index(x) for x in ("neg", "pos")]
    assert first.kind == "ensemble" and np.allclose(p, mean[:, order], atol=1e-6)
    HeadstartClassifier(str(tiny_bert), "head", **OPTS | {"seed": 3}).fit(*toy_data).save(members[1])  # retrained
    assert load_teacher(str(root / "ensemble"), ["neg", "pos"]).identity != first.identity


# -- no labels at all: the teacher labels every row --------------------------------------------------------

def test_texts_without_labels_learn_from_the_teacher_alone(tiny_bert, teacher, toy_data, toy_dev):
    student = HeadstartClassifier(str(tiny_bert), "head", labels=["neg", "pos"], **OPTS).fit(toy_data[0], teacher=teacher)
    assert student.distillation_.summary["gold"].startswith("none")
    assert sorted(student.labels_) == ["neg", "pos"]
    agree = (student.predict(toy_dev[0]) == teacher.predict(toy_dev[0])).mean()
    assert agree >= 0.8  # it learnt the teacher's labels, with no gold in sight


def test_cli_distill_texts_only_with_a_zero_shot_teacher(tiny_bert, tmp_path):
    texts = _csv(tmp_path / "texts.csv", make_sentiment(40, seed=6)[0])
    test = _csv(tmp_path / "test.csv", *make_sentiment(20, seed=2))
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["distill", str(texts), "--teacher", f"zero-shot:embedding:{tiny_bert}",
                                      "--labels", "neg,pos", "--test", str(test), "--backbone", str(tiny_bert),
                                      "--strategy", "head", "--epochs", "1", "--max-length", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    d = json.loads((out / "metrics.json").read_text())["distillation"]
    assert d["gold"].startswith("none") and d["teacher"]["kind"] == "zero-shot" and d["split_rows"] == 20
    assert "No gold labels in the training data" in (out / "report.md").read_text()
    missing = CliRunner().invoke(app, ["distill", str(texts), "--teacher", f"zero-shot:embedding:{tiny_bert}",
                                       "--out", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "label" in missing.output  # no --labels: the missing label column is named


@pytest.mark.parametrize("strategy", ["features", "head", "top-n", "full", "lora", "bitfit", "ia3", "prompt", "prefix",
                                      "adapter", "compacter"])
def test_every_strategy_can_be_a_student(tiny_bert, toy_data, teacher, strategy):
    more = make_sentiment(30, seed=41)[0]
    sizes = {"reduction_factor": 4} if strategy == "compacter" else {}  # the tiny model's 32 wide blocks
    student = HeadstartClassifier(str(tiny_bert), strategy, **OPTS | {"epochs": 1} | sizes).fit(
        *toy_data, teacher=teacher, unlabeled=more)
    assert student.distillation_.summary["unlabeled_rows"] == 30
    assert student.predict_proba(toy_data[0][:4]).shape == (4, 2)


def test_a_teacher_that_trained_on_the_dev_rows_is_not_calibrated_on_them(tiny_bert, tmp_path):
    train = _csv(tmp_path / "train.csv", *make_sentiment(60, seed=1))
    runner, teacher = CliRunner(), tmp_path / "teacher"
    base = ["--backbone", str(tiny_bert), "--epochs", "1", "--max-length", "32"]
    assert runner.invoke(app, ["train", str(train), "--strategy", "head", "--out", str(teacher), *base]).exit_code == 0
    assert load_teacher(str(teacher), ["neg", "pos"]).saw(train)
    out = tmp_path / "student"
    result = runner.invoke(app, ["distill", str(train), "--teacher", str(teacher), "--strategy", "head",
                                 "--out", str(out), *base])
    assert result.exit_code == 0, result.output
    d = json.loads((out / "metrics.json").read_text())["distillation"]
    assert d["teacher_saw_dev"] and d["temperature"] == 1.0 and d["temperature_chosen_on"].startswith("not calibrated")
    assert "dev scores in metrics.json are optimistic" in (out / "report.md").read_text()
    other = _csv(tmp_path / "other.csv", *make_sentiment(60, seed=2))  # a file the teacher never saw
    assert not load_teacher(str(teacher), ["neg", "pos"]).saw(other)


def test_self_training_rounds_keep_dev_held_out(tiny_bert, toy_data):
    est = HeadstartClassifier(str(tiny_bert), "top-n", self_train=True, self_train_rounds=1, **OPTS)
    est.fit(*toy_data, unlabeled=make_sentiment(60, seed=32)[0])
    assert est.refit_on_dev_ is False and est.refit is None  # the user's setting untouched; no round refit


def test_a_teacher_no_better_than_the_majority_class_is_flagged(tiny_bert, toy_data, teacher):
    class Constant:  # always "pos", sure of it
        labels_ = ["neg", "pos"]

        def predict_proba(self, texts):
            return np.tile([0.05, 0.95], (len(texts), 1))

    weak = HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(*toy_data, teacher=Constant())
    assert "no better than always answering the most frequent class" in weak.distillation_.summary["warning"]
    good = HeadstartClassifier(str(tiny_bert), "head", **OPTS).fit(*toy_data, teacher=teacher)
    assert good.distillation_.summary["warning"] is None


def test_pairs_distil_and_texts_only_pairs_are_labelled_by_the_teacher(tiny_bert, tmp_path):
    import pandas as pd

    from headstart.tasks.pairs.estimator import HeadstartPairClassifier

    a, y = make_sentiment(60, seed=14)
    b, _ = make_sentiment(60, seed=15)
    teacher = HeadstartPairClassifier(str(tiny_bert), "head", **OPTS).fit(list(zip(a, b, strict=True)), y)
    run = teacher.save(tmp_path / "teacher")
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"text_a": a[:40], "text_b": b[:40]}).to_csv(pairs, index=False)  # no label column
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["distill", str(pairs), "--task", "pairs", "--teacher", str(run), "--labels",
                                      ",".join(teacher.labels_), "--backbone", str(tiny_bert), "--strategy", "head",
                                      "--epochs", "1", "--max-length", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    d = json.loads((out / "metrics.json").read_text())["distillation"]
    assert d["gold"].startswith("none") and d["teacher"]["kind"] == "run"
    student = HeadstartPairClassifier.load(out)
    assert student.predict([(a[0], b[0])]).shape == (1,)
