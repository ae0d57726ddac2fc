"""`headstart export --format transformers`: every run loads with transformers' own Auto classes and pipelines
and predicts what headstart predicts (max |delta prob| <= 1e-5), per task x strategy x family; what cannot be
written as a plain model is refused with a clear error."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    pipeline,
)

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartPairClassifier, HeadstartQA, HeadstartTagger
from headstart.errors import HeadstartError
from headstart.export.transformers_format import MODELING_FILE, export_transformers
from headstart.training import Examples
from headstart.training.objectives import predict_logits
from test_pairs import make_pairs
from test_tasks import make_ner, make_qa

OPTIONS = {"epochs": 1, "batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}
TOL = 1e-5
CLASSIFICATION_CASES = [(s, f) for f in ("bert", "roberta", "distilbert", "gpt2", "llama", "t5") for s in ("full", "lora")]
CLASSIFICATION_CASES += [(s, "bert") for s in ("features", "head", "top-n", "bitfit", "ia3")]
REFUSED = ("prompt", "prefix", "adapter", "compacter")


def _probs(folder: Path, texts) -> np.ndarray:
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if isinstance(texts[0], tuple):
        enc = tokenizer([a for a, _ in texts], [b for _, b in texts], padding=True, truncation=True, return_tensors="pt")
    else:
        enc = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    return (logits.sigmoid() if model.config.problem_type == "multi_label_classification" else logits.softmax(-1)).numpy()


@pytest.mark.parametrize(("strategy", "family"), CLASSIFICATION_CASES, ids=[f"{s}-{f}" for s, f in CLASSIFICATION_CASES])
def test_classification_run_loads_in_transformers_with_the_same_probabilities(strategy, family, tiny_folders, tmp_path):
    texts, labels = make_sentiment(48, classes=3)
    clf = HeadstartClassifier(backbone=str(tiny_folders[family]), strategy=strategy, **OPTIONS).fit(texts, labels)
    clf.save(tmp_path / "run")
    exported = export_transformers(tmp_path / "run", tmp_path / "hf")
    config = json.loads((exported.folder / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(clf.classes_)}
    assert config["auto_map"]["AutoModelForSequenceClassification"].startswith("modeling_headstart.")
    np.testing.assert_allclose(_probs(exported.folder, texts[:10]), clf.predict_proba(texts[:10]), atol=TOL)
    classify = pipeline("text-classification", model=str(exported.folder), trust_remote_code=True)
    scores = {row["label"]: row["score"] for row in classify(texts[0], top_k=None)}
    expected = dict(zip(clf.classes_, clf.predict_proba(texts[:1])[0], strict=True))
    assert scores == pytest.approx(expected, abs=TOL)


def test_multilabel_and_pair_runs_keep_their_problem_type(tiny_bert, tmp_path):
    texts, labels = make_sentiment(48)
    multi = [[label] if i % 3 else [label, "extra"] for i, label in enumerate(labels)]
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="full", **OPTIONS).fit(texts, multi)
    clf.save(tmp_path / "multi")
    folder = export_transformers(tmp_path / "multi", tmp_path / "multi-hf").folder
    assert json.loads((folder / "config.json").read_text())["problem_type"] == "multi_label_classification"
    np.testing.assert_allclose(_probs(folder, texts[:8]), clf.predict_proba(texts[:8]), atol=TOL)

    pairs, pair_labels = make_pairs(40)
    pair_clf = HeadstartPairClassifier(backbone=str(tiny_bert), strategy="lora", **OPTIONS).fit(pairs, pair_labels)
    pair_clf.save(tmp_path / "pairs")
    folder = export_transformers(tmp_path / "pairs", tmp_path / "pairs-hf").folder
    np.testing.assert_allclose(_probs(folder, pairs[:8]), pair_clf.predict_proba(pairs[:8]), atol=TOL)
    row = pipeline("text-classification", model=str(folder), trust_remote_code=True)(
        {"text": pairs[0][0], "text_pair": pairs[0][1]}, top_k=None)
    assert {r["label"]: r["score"] for r in row} == pytest.approx(
        dict(zip(pair_clf.classes_, pair_clf.predict_proba(pairs[:1])[0], strict=True)), abs=TOL)


def assert_tags_like_headstart(model, est, sentences) -> None:
    """An exported token classifier gives headstart's per-token logits on each sentence."""
    ids = [est.tokenizer_(s, is_split_into_words=True)["input_ids"] for s in sentences]
    expected = predict_logits(est.model_, Examples(ids, None), pad_id=est.tokenizer_.pad_token_id)
    for row, want in zip(ids, expected, strict=True):
        with torch.no_grad():
            got = model(input_ids=torch.tensor([row])).logits[0].numpy()
        np.testing.assert_allclose(got, want, atol=TOL)


@pytest.mark.parametrize(("strategy", "family"), [("full", "bert"), ("lora", "gpt2"), ("head", "roberta")])
def test_ner_run_loads_as_token_classification(strategy, family, tiny_folders, tmp_path):
    sentences, tags = make_ner(40)
    est = HeadstartTagger(backbone=str(tiny_folders[family]), strategy=strategy, **OPTIONS).fit(sentences, tags)
    est.save(tmp_path / "run")
    folder = export_transformers(tmp_path / "run", tmp_path / "hf").folder
    model = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert model.config.id2label == dict(enumerate(est.labels_))
    assert_tags_like_headstart(model, est, sentences[:4])
    entities = pipeline("token-classification", model=str(folder), trust_remote_code=True)(" ".join(sentences[0]))
    assert all(e["entity"] in est.labels_ for e in entities)


def test_qa_run_loads_as_question_answering(tiny_bert, tmp_path):
    est = HeadstartQA(backbone=str(tiny_bert), strategy="full", stride=8, **OPTIONS | {"max_length": 24}).fit(
        make_qa(30))
    est.save(tmp_path / "run")
    folder = export_transformers(tmp_path / "run", tmp_path / "hf").folder
    model = AutoModelForQuestionAnswering.from_pretrained(folder, trust_remote_code=True).eval()
    features = est._features(est.read_split(make_qa(4, seed=2)))
    examples = est._examples(features, labelled=False)
    expected = predict_logits(est.model_, examples, pad_id=est.tokenizer_.pad_token_id)
    for i, want in enumerate(expected):
        segments = {} if examples.segments is None else {
            "token_type_ids": torch.tensor([examples.segments[i]])}
        with torch.no_grad():
            out = model(input_ids=torch.tensor([examples.inputs[i]]), **segments)
        np.testing.assert_allclose(out.start_logits[0].numpy(), want[:, 0], atol=TOL)
        np.testing.assert_allclose(out.end_logits[0].numpy(), want[:, 1], atol=TOL)
    # transformers 5 removed pipeline("question-answering"): AutoModelForQuestionAnswering is the way in


@pytest.mark.parametrize("strategy", REFUSED)
def test_strategies_that_are_not_weights_are_refused(strategy, tiny_bert, tmp_path):
    texts, labels = make_sentiment(32)
    extra = {"reduction_factor": 4} if strategy == "compacter" else {}
    HeadstartClassifier(backbone=str(tiny_bert), strategy=strategy, **OPTIONS, **extra).fit(texts, labels).save(
        tmp_path / "run")
    with pytest.raises(HeadstartError, match="cannot be written as a plain transformers model") as err:
        export_transformers(tmp_path / "run", tmp_path / "hf")
    assert "--format onnx" in err.value.fix
    assert not (tmp_path / "hf").exists()


def test_export_refuses_a_folder_in_use_and_what_is_not_a_run(tiny_bert, tmp_path):
    texts, labels = make_sentiment(32)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="head", **OPTIONS).fit(texts, labels).save(tmp_path / "run")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(HeadstartError, match="not empty"):
        export_transformers(tmp_path / "run", busy, overwrite=True)
    assert (busy / "notes.txt").read_text() == "mine"
    with pytest.raises(HeadstartError, match="not a run headstart can export"):
        export_transformers(tmp_path / "nothing", tmp_path / "hf")
    export_transformers(tmp_path / "run", tmp_path / "hf")
    export_transformers(tmp_path / "run", tmp_path / "hf", overwrite=True)  # an earlier export is replaced


def test_the_modeling_file_imports_only_torch_and_transformers():
    from headstart.export import modeling_headstart

    tree = ast.parse(Path(modeling_headstart.__file__).read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert roots <= {"__future__", "inspect", "torch", "transformers"}, roots


def test_the_export_predicts_in_a_process_where_headstart_cannot_be_imported(tiny_bert, tmp_path):
    texts, labels = make_sentiment(32)
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="full", **OPTIONS).fit(texts, labels)
    clf.save(tmp_path / "run")
    folder = export_transformers(tmp_path / "run", tmp_path / "hf").folder
    assert (folder / MODELING_FILE).exists()
    script = ("import sys, json; sys.modules['headstart'] = None\n"  # any `import headstart` now fails
              "from transformers import pipeline\n"
              f"p = pipeline('text-classification', model={str(folder)!r}, trust_remote_code=True)\n"
              f"print(json.dumps(p({texts[:3]!r}, top_k=None)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    got = np.array([[{r["label"]: r["score"] for r in row}[c] for c in clf.classes_] for row in rows])
    np.testing.assert_allclose(got, clf.predict_proba(texts[:3]), atol=TOL)
