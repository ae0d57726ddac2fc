"""Zero-shot and in-context few-shot classification: the embedding and LM scorers, the classifier, the CLI.

Mechanics run on tiny random models built here (a BERT encoder; Llama with a chat template and GPT-2
without, as causal LMs with 512 positions so that prompts fit); quality checks on the packaged models are
marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import build_tokenizer, tiny_config
from headstart.cli import app
from headstart.errors import BackboneError, ConfigError, DataError
from headstart.zeroshot import SCORERS, ScorerSpec, ZeroShotClassifier, label_words, register_scorer
from headstart.zeroshot.answer_tree import AnswerTree
from headstart.zeroshot.embedding import EmbeddingScorer, calibrated_logits
from headstart.zeroshot.lm_scoring import answer_logprobs
from headstart.zeroshot.prompts import select_examples

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} </turn>\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant> {% endif %}")
LABELS = ["pos", "neg", "neutral"]
TEXTS = ["the movie was great love", "this film was awful and boring", "a plain average show",
         "really good", "the ending was so-so and the cast was ordinary, a mediocre standard plot"]


def _causal(folder: Path, family: str, chat: bool) -> Path:
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    config = tiny_config(family, len(tok), tok.pad_token_id, n_layers=2)
    config.tie_word_embeddings = False  # an untied head: a wrong row in the head would show
    if family == "gpt2":
        config.n_positions = 512
    else:
        config.max_position_embeddings = 512
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    return _causal(tmp_path_factory.mktemp("zs") / "llama", "llama", chat=True)


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory) -> Path:
    return _causal(tmp_path_factory.mktemp("zs") / "gpt2", "gpt2", chat=False)


# -- shared pieces ------------------------------------------------------------------------------------------
def test_label_words() -> None:
    assert label_words("card_arrival") == "card arrival"
    assert label_words("getSpareCard") == "get spare card"
    assert label_words("pin-blocked") == "pin blocked"
    assert label_words("ATM_support") == "ATM support"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"labels": ["only"]}, "at least two labels"),
    ({"labels": ["a", "b", "a"]}, "listed twice"),
    ({"labels": ["a", "b"], "descriptions": {"c": "x"}}, "description names a label"),
    ({"labels": ["a", "b"], "k": -1}, "k must be >= 0"),
    ({"labels": ["a", "b"], "examples": [("t", "z")]}, "not among the labels"),
    ({"labels": ["a", "b"], "examples": ["just text"]}, "not a \\(text, label\\) pair"),
])
def test_spec_errors(kwargs, match) -> None:
    with pytest.raises((ConfigError, DataError), match=match):
        ScorerSpec(**kwargs)


def test_unknown_method_and_string_input(tiny_bert) -> None:
    with pytest.raises(ConfigError, match="unknown zero-shot method 'gpt'"):
        ZeroShotClassifier(["a", "b"], method="gpt").fit()
    clf = ZeroShotClassifier(["a", "b"], backbone=str(tiny_bert)).fit()
    with pytest.raises(DataError, match="one string"):
        clf.predict("a text")


def test_a_method_plugs_in_through_the_registry() -> None:
    class Constant:
        name = "constant"

        def __init__(self, spec):
            self.spec = spec

        def fit(self, texts=None):
            return self

        def predict_proba(self, texts):
            return np.tile([0.25, 0.75], (len(texts), 1))

        def describe(self):
            return {"method": self.name}

    register_scorer("constant", Constant)
    try:
        clf = ZeroShotClassifier(["a", "b"], method="constant")
        assert list(clf.predict(["x", "y"])) == ["b", "b"]
        assert clf.score(["x", "y"], ["b", "a"]) == 0.5
    finally:
        del SCORERS["constant"]


# -- embedding ----------------------------------------------------------------------------------------------
def test_embedding_probabilities(tiny_bert) -> None:
    clf = ZeroShotClassifier(LABELS, backbone=str(tiny_bert), descriptions={"neutral": "plain and ordinary"},
                             template="it was {}").fit(TEXTS)
    proba = clf.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(clf.predict(TEXTS)) <= set(LABELS)
    scorer = clf.scorer_
    assert scorer.label_sentences() == ["it was pos", "it was neg", "it was plain and ordinary"]
    # calibrated on the texts given to fit: each label's centred cosine averages 0 over them
    centred = scorer.cosines(TEXTS) - scorer.bias_
    np.testing.assert_allclose(centred.mean(axis=0), 0.0, atol=1e-5)
    assert clf.describe()["calibrated_on"] == f"{len(TEXTS)} unlabelled texts"
    no_texts = ZeroShotClassifier(LABELS, backbone=str(tiny_bert)).fit()
    assert no_texts.scorer_.bias_ is None and no_texts.describe()["calibrated_on"] == "none"
    raw = ZeroShotClassifier(LABELS, backbone=str(tiny_bert), calibrate=False).fit(TEXTS)
    assert raw.scorer_.bias_ is None and raw.describe()["calibrated_on"] == "off"
    np.testing.assert_allclose(raw.predict_proba(TEXTS), no_texts.predict_proba(TEXTS), atol=1e-6)


def test_calibration_corrects_a_label_biased_towards_every_text() -> None:
    """Label 0's sentence is a "hub": 0.15 closer to every text. Its raw cosines win everywhere; centred on
    the inputs, the per-text evidence (+0.1 for the true label) decides."""
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], 20)
    cos = 0.3 + 0.01 * rng.standard_normal((40, 2))
    cos[np.arange(40), truth] += 0.1
    cos[:, 0] += 0.15
    raw = calibrated_logits(cos, None).argmax(axis=1)
    fixed = calibrated_logits(cos, cos.mean(axis=0)).argmax(axis=1)
    assert (raw == truth).mean() == 0.5  # everything goes to the hub
    assert (fixed == truth).mean() == 1.0


def test_embedding_backbone_error() -> None:
    with pytest.raises(BackboneError, match="cannot load backbone"):
        ZeroShotClassifier(["a", "b"], backbone="/no/such/folder").fit()


# -- LM scoring ---------------------------------------------------------------------------------------------
def test_answer_tree_feeds_shared_prefixes_once() -> None:
    tree = AnswerTree.build([[1, 2, 9], [1, 3, 9], [4, 9]])
    assert tree.size == 4  # (1), (1,2), (1,3), (4): "1" once for two answers
    assert tree.tokens.tolist() == [1, 2, 3, 4]
    assert tree.depth.tolist() == [1, 2, 2, 1]
    assert tree.ancestors[1].tolist() == [True, True, False, False]
    # every answer token is predicted from the position before it
    assert tree.source.tolist() == [0, 1, 2, 0, 1, 3, 0, 4]
    assert tree.owner.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("k", [0, 1])
def test_lm_scores_equal_full_sequence_log_probs(family, k, tiny_llama, tiny_gpt2, toy_data3) -> None:
    """The batched tree pass over the prefix cache gives each label exactly the log-prob of its answer
    after prompt + text, computed one full sequence at a time without a cache."""
    folder = tiny_llama if family == "llama" else tiny_gpt2
    labels = ["pos", "pos extra", "neg", "neutral"]  # "pos" is a prefix of "pos extra": the end token decides
    examples = [(t, y) for t, y in zip(*toy_data3, strict=True)]
    clf = ZeroShotClassifier(labels, method="lm", backbone=str(folder), k=k, examples=examples,
                             batch_size=3).fit()
    scorer = clf.scorer_
    assert scorer.prompt_.chat is (family == "llama")
    got = scorer.label_logprobs(TEXTS)  # texts of different lengths, padded in batches of 3
    for i, text in enumerate(TEXTS):
        prompt = scorer.prompt_.prefix + scorer._text_ids(text) + scorer.prompt_.suffix
        np.testing.assert_allclose(got[i], answer_logprobs(scorer.model_, prompt, scorer.prompt_.answers),
                                   atol=2e-4, rtol=1e-4)
    one_by_one = ZeroShotClassifier(labels, method="lm", backbone=str(folder), k=k, examples=examples,
                                    batch_size=1).fit().scorer_.label_logprobs(TEXTS)
    np.testing.assert_allclose(got, one_by_one, atol=2e-4, rtol=1e-4)
    if family == "llama":  # (the tiny WordPiece tokenizer drops the plain layout's "\n" end token)
        end = scorer.prompt_.answers[0][-1]  # "pos" begins "pos extra": every answer ends with the end token
        assert all(a[-1] == end for a in scorer.prompt_.answers)
    proba = clf.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_answers_get_the_end_token_only_when_one_begins_another(tiny_llama) -> None:
    from transformers import AutoTokenizer

    from headstart.zeroshot.prompts import build_prompt

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    words = ["pos", "neg", "neutral"]
    plain = build_prompt(tok, words, [None] * 3, None, []).answers
    assert plain == [tok(w, add_special_tokens=False).input_ids for w in words]
    nested = build_prompt(tok, ["pos", "pos extra"], [None] * 2, None, []).answers
    assert nested[0][:-1] == plain[0] and nested[0][-1] == nested[1][-1]
    assert len(nested[1]) == len(tok("pos extra", add_special_tokens=False).input_ids) + 1


def test_contextual_calibration_divides_by_the_reference_distribution(tiny_llama) -> None:
    from headstart.zeroshot.base import softmax
    from headstart.zeroshot.lm_scoring import CONTENT_FREE

    clf = ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama)).fit(TEXTS)  # default: on the inputs
    scorer = clf.scorer_
    logp = scorer.label_logprobs(TEXTS)
    np.testing.assert_allclose(scorer.bias_, np.log(softmax(logp).mean(axis=0)), atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(TEXTS), softmax(logp - scorer.bias_), atol=1e-6)
    mixed = [TEXTS[1], "a new good text", TEXTS[0]]  # rows kept from fit and fresh ones, in order
    np.testing.assert_allclose(clf.predict_proba(mixed), softmax(scorer.label_logprobs(mixed) - scorer.bias_),
                               atol=1e-5)
    assert clf.describe()["calibrated_on"] == f"{len(TEXTS)} unlabelled texts"

    cf = ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama), calibrate=True).fit()
    expected = softmax(cf.scorer_.label_logprobs(list(CONTENT_FREE))).mean(axis=0)
    np.testing.assert_allclose(cf.scorer_.bias_, np.log(expected), atol=1e-6)
    assert cf.describe()["calibrated_on"] == "content-free inputs"

    for kwargs, texts, state in [({}, None, "none"), ({"calibrate": False}, TEXTS, "off")]:
        raw = ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama), **kwargs).fit(texts)
        assert raw.scorer_.bias_ is None and raw.describe()["calibrated_on"] == state
        np.testing.assert_allclose(raw.predict_proba(TEXTS), softmax(logp), atol=1e-6)


def test_few_shot_prompt_is_deterministic_and_holds_k_per_class(tiny_llama, toy_data3) -> None:
    texts, labels = toy_data3
    pool = list(zip(texts, labels, strict=True))
    picked = select_examples(pool, LABELS, k=2, seed=0)
    assert picked == select_examples(pool, LABELS, k=2, seed=0)
    assert picked != select_examples(pool, LABELS, k=2, seed=1)
    assert sorted(label for _, label in picked) == sorted(LABELS * 2)
    assert all(ex in pool for ex in picked)
    clf = ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama)).fit(texts, labels)  # y: no shots
    assert clf.describe()["shots"] == 0
    clf = ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama), k=2, seed=0).fit(texts, labels)
    prompt = clf.describe()["prompt"]
    assert clf.describe()["shots"] == 6
    for text, label in picked:
        assert f"Text: {text}\nAnswer: {label}\n\n" in prompt
    assert prompt.count("Answer:") == 6 and prompt.count("<assistant>") == 1  # six examples in the one turn
    assert prompt.index(picked[0][0]) < prompt.index(picked[-1][0])
    assert prompt.endswith("Text:{text} </turn>\n<assistant> ")


def test_lm_errors(tiny_llama, tiny_bert) -> None:
    with pytest.raises(ConfigError, match="few-shot needs labelled examples"):
        ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama), k=2).fit()
    with pytest.raises(BackboneError, match="as a decoder"):
        ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_bert)).fit()
    with pytest.raises(ConfigError, match="read as the same words"):
        ZeroShotClassifier(["card_arrival", "card-arrival"], method="lm", backbone=str(tiny_llama)).fit()
    long = [("word " * 120, label) for label in LABELS for _ in range(3)]
    with pytest.raises(ConfigError, match="leaves no room for the text"):
        ZeroShotClassifier(LABELS, method="lm", backbone=str(tiny_llama), k=3, examples=long).fit()


# -- CLI ----------------------------------------------------------------------------------------------------
def _csv(path: Path, rows, header=("text", "label")) -> Path:
    import csv

    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_cli_scores_labelled_data(tiny_bert, tmp_path) -> None:
    data = _csv(tmp_path / "dev.csv", [(t, y) for t, y in zip(TEXTS, ["pos", "neg", "neutral", "pos", "neutral"],
                                                                strict=True)])
    res = CliRunner().invoke(app, ["zero-shot", str(data), "--backbone", str(tiny_bert)])
    assert res.exit_code == 0, res.output
    assert "3 labels from the data's 'label' column" in res.output
    assert "accuracy" in res.output and "macro-F1" in res.output
    out = tmp_path / "preds.csv"
    res = CliRunner().invoke(app, ["zero-shot", str(data), "--labels", "pos,neg,neutral", "--backbone",
                                   str(tiny_bert), "--out", str(out), "--no-calibrate"])
    assert res.exit_code == 0, res.output
    assert "from --labels" in res.output and out.exists()


def test_cli_predicts_unlabelled_data_with_a_labels_file(tiny_llama, tmp_path) -> None:
    data = _csv(tmp_path / "new.csv", [(t,) for t in TEXTS], header=("text",))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"pos": "a favourable review", "neg": "an unfavourable review"}))
    res = CliRunner().invoke(app, ["zero-shot", str(data), "--labels-file", str(labels), "--method", "lm",
                                   "--backbone", str(tiny_llama)])
    assert res.exit_code == 0, res.output
    written = tmp_path / "new.predictions.csv"
    rows = written.read_text().splitlines()
    assert rows[0] == "text,prediction,probability" and len(rows) == len(TEXTS) + 1
    assert all(row.split(",")[-2] in ("pos", "neg") for row in rows[1:])


def test_cli_few_shot(tiny_gpt2, tmp_path, toy_data3) -> None:
    data = _csv(tmp_path / "dev.csv", list(zip(*toy_data3, strict=True))[:6])
    pool = _csv(tmp_path / "train.csv", list(zip(*toy_data3, strict=True))[6:])
    res = CliRunner().invoke(app, ["zero-shot", str(data), "--method", "lm", "--backbone", str(tiny_gpt2),
                                   "--shots", "1", "--examples", str(pool), "--labels", "pos,neg,neutral"])
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output


@pytest.mark.parametrize(("setup", "args", "match"), [
    ("unlabelled", [], "no labels to classify into"),
    ("labelled", ["--labels", "pos,neg"], "labels that are not among the labels"),
    ("labelled", ["--labels", "pos,neg,neutral", "--labels-file", "labels.json"], "description names a label"),
    ("labelled", ["--labels-file", "broken.json"], "cannot read the labels file"),
    ("labelled", ["--method", "gpt"], "unknown method 'gpt'"),
    ("labelled", ["--shots", "2", "--method", "lm"], "needs labelled examples"),
])
def test_cli_errors(setup, args, match, tiny_bert, tmp_path) -> None:
    rows = [(t, y) for t, y in zip(TEXTS[:3], LABELS, strict=True)]
    data = _csv(tmp_path / "d.csv", rows) if setup == "labelled" else _csv(tmp_path / "d.csv", [(t,) for t in TEXTS],
                                                                             header=("text",))
    (tmp_path / "labels.json").write_text(json.dumps({"pos": "good", "negative": "bad"}))
    (tmp_path / "broken.json").write_text("{not json")
    args = [a if not a.endswith(".json") else str(tmp_path / a) for a in args]
    res = CliRunner().invoke(app, ["zero-shot", str(data), "--backbone", str(tiny_bert), *args])
    assert res.exit_code == 1, res.output
    assert match in " ".join(res.output.split()), res.output


# -- the packaged models ------------------------------------------------------------------------------------
OBVIOUS = [("What a wonderful, moving film. I loved every minute.", "positive"),
           ("A masterpiece: brilliant acting and a beautiful story.", "positive"),
           ("Great fun, I would happily watch it again.", "positive"),
           ("Boring, far too long, and the acting was awful.", "negative"),
           ("I hated it. A terrible waste of time.", "negative"),
           ("The worst movie I have seen this year.", "negative")]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["embedding", "lm"])
def test_packaged_models_get_obvious_sentiment_right(method) -> None:
    texts, truth = zip(*OBVIOUS, strict=True)
    clf = ZeroShotClassifier(["positive", "negative"], method=method).fit(texts)
    assert clf.score(texts, truth) >= 5 / 6, clf.predict(texts)


@pytest.mark.slow
def test_packaged_decoder_few_shot_and_scores_match_brute_force() -> None:
    texts, truth = zip(*OBVIOUS, strict=True)
    pool = [("An excellent, heartfelt film.", "positive"), ("Dull and lifeless.", "negative"),
            ("I enjoyed it a lot.", "positive"), ("Painfully bad.", "negative")]
    # calibrated on the texts (the default when fit sees them): uncalibrated, this 135M model answers one
    # class for all six after two examples
    clf = ZeroShotClassifier(["positive", "negative"], method="lm", k=1, examples=pool).fit(texts)
    assert clf.score(texts, truth) >= 5 / 6, clf.predict(texts)
    scorer = clf.scorer_
    prompt = scorer.prompt_.prefix + scorer._text_ids(texts[0]) + scorer.prompt_.suffix
    np.testing.assert_allclose(scorer.label_logprobs(texts[:1])[0],
                               answer_logprobs(scorer.model_, prompt, scorer.prompt_.answers), atol=1e-3)


def test_embedding_scorer_is_registered() -> None:
    assert SCORERS["embedding"] is EmbeddingScorer
