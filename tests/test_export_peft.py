"""`headstart export --format peft`: a LoRA / IA3 run is written as a peft adapter that peft's own AutoPeftModel
classes load (the head as `modules_to_save`, the base a transformers folder beside it) and that predicts what
headstart predicts (max |delta prob| <= 1e-5) per task; what has no peft adapter is refused, saying what to use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from peft import AutoPeftModelForSequenceClassification, AutoPeftModelForTokenClassification
from transformers import AutoTokenizer

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartQA, HeadstartTagger
from headstart.errors import HeadstartError
from headstart.export.peft_format import export_peft
from test_export import assert_tags_like_headstart
from test_tasks import make_ner, make_qa

OPTIONS = {"epochs": 1, "batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}
TOL = 1e-5
CASES = [("lora", "bert"), ("lora", "gpt2"), ("lora", "llama"), ("ia3", "roberta")]


def _fit(folder, strategy, tmp_path):
    texts, labels = make_sentiment(48, classes=3)
    clf = HeadstartClassifier(backbone=str(folder), strategy=strategy, **OPTIONS).fit(texts, labels)
    clf.save(tmp_path / "run")
    return clf, texts[:10]


@pytest.mark.parametrize(("strategy", "family"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_an_adapter_run_loads_in_auto_peft_model_with_the_same_probabilities(strategy, family, tiny_folders,
                                                                             tmp_path):
    clf, texts = _fit(tiny_folders[family], strategy, tmp_path)
    done = export_peft(tmp_path / "run", tmp_path / "peft")
    config = json.loads((done.folder / "adapter_config.json").read_text())
    assert config["task_type"] == "SEQ_CLS" and "classifier" in config["modules_to_save"]
    assert (done.folder / "README.md").read_text().count("AutoPeftModelForSequenceClassification") >= 2
    model = AutoPeftModelForSequenceClassification.from_pretrained(str(done.folder), trust_remote_code=True).eval()
    assert model.config.id2label == dict(enumerate(clf.classes_))
    tokenizer = AutoTokenizer.from_pretrained(done.folder)
    with torch.no_grad():
        probs = model(**tokenizer(texts, padding=True, truncation=True, return_tensors="pt")).logits.softmax(-1)
    np.testing.assert_allclose(probs.numpy(), clf.predict_proba(texts), atol=TOL)
    # the adapter holds what training changed, not the backbone: far smaller than the base beside it
    adapter = (done.folder / "adapter_model.safetensors").stat().st_size
    assert adapter < (done.folder / "base" / "model.safetensors").stat().st_size / 2


def test_a_ner_run_loads_as_a_token_classification_adapter(tiny_folders, tmp_path):
    sentences, tags = make_ner(40)
    est = HeadstartTagger(backbone=str(tiny_folders["bert"]), strategy="lora", **OPTIONS).fit(sentences, tags)
    est.save(tmp_path / "run")
    folder = export_peft(tmp_path / "run", tmp_path / "peft").folder
    model = AutoPeftModelForTokenClassification.from_pretrained(str(folder), trust_remote_code=True).eval()
    assert_tags_like_headstart(model, est, sentences[:4])


def test_a_qa_run_is_refused_because_peft_would_drop_its_segments(tiny_bert, tmp_path):
    """peft's PeftModelForQuestionAnswering takes token_type_ids and does not pass them on (peft 0.21): the
    start logits then differ from the run's past the question. Refused, pointing at the merged export."""
    est = HeadstartQA(backbone=str(tiny_bert), strategy="lora", stride=8, **OPTIONS | {"max_length": 24}).fit(
        make_qa(30))
    est.save(tmp_path / "run")
    with pytest.raises(HeadstartError, match="no peft export") as info:
        export_peft(tmp_path / "run", tmp_path / "peft")
    assert "--format transformers" in info.value.fix


@pytest.mark.parametrize(("strategy", "fix"), [("full", "--format transformers"), ("bitfit", "--format transformers"),
                                               ("prompt", "--format onnx"), ("adapter", "--format onnx")])
def test_a_run_without_a_peft_adapter_is_refused_saying_what_to_use(strategy, fix, tiny_bert, tmp_path):
    _fit(tiny_bert, strategy, tmp_path)
    with pytest.raises(HeadstartError, match="has no peft adapter") as info:
        export_peft(tmp_path / "run", tmp_path / "peft")
    assert fix in info.value.fix and not (tmp_path / "peft").exists()


def test_the_cli_writes_it_and_it_predicts_where_headstart_cannot_be_imported(tiny_bert, tmp_path):
    from typer.testing import CliRunner

    from headstart.cli import app

    clf, texts = _fit(tiny_bert, "lora", tmp_path)
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "peft"),
                                      "--format", "peft"])
    assert result.exit_code == 0 and "AutoPeftModelForSequenceClassification" in result.output, result.output
    script = ("import sys, json; sys.modules['headstart'] = None\n"  # any `import headstart` now fails
              "from peft import AutoPeftModelForSequenceClassification as A\n"
              "from transformers import AutoTokenizer\n"
              f"m = A.from_pretrained({str(tmp_path / 'peft')!r}, trust_remote_code=True).eval()\n"
              f"t = AutoTokenizer.from_pretrained({str(tmp_path / 'peft')!r})\n"
              f"print(json.dumps(m(**t({texts[:2]!r}, padding=True, return_tensors='pt')).logits.softmax(-1).tolist()))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    np.testing.assert_allclose(np.array(json.loads(out.stdout)), clf.predict_proba(texts[:2]), atol=TOL)
