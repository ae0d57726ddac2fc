"""Masked-LM domain / task-adaptive pretraining on tiny models: whole-word masking, chunking, the
pretrain run (loss falls, the result registers and loads as a backbone), TAPT and the errors."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from conftest import make_sentiment
from headstart import HeadstartClassifier
from headstart.backbones import load_backbone
from headstart.cli import app
from headstart.errors import BackboneError, DataError
from headstart.pretrain import chunk_documents, pretrain, read_corpus
from headstart.training.masking import whole_word_mask


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))  # the user registry of this test only


def test_whole_word_mask_masks_words_not_pieces() -> None:
    ids = torch.arange(100, 120).repeat(4, 1)
    words = torch.tensor([-100] + [i // 2 for i in range(18)] + [-100]).repeat(4, 1)  # 9 two-piece words
    rng = torch.Generator().manual_seed(0)
    inputs, labels = whole_word_mask(ids, words, mask_id=4, vocab_size=50, rng=rng, probability=0.3)
    chosen = labels != -100
    for row in range(4):
        picked = set(words[row][chosen[row]].tolist())
        assert len(picked) == 3  # round(0.3 * 9)
        for w in picked:  # every piece of a chosen word is predicted
            assert chosen[row][words[row] == w].all()
        assert not chosen[row][words[row] < 0].any()  # never a special token
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    assert (inputs[chosen] == 4).float().mean() > 0.5  # mostly [MASK]
    again = whole_word_mask(ids, words, mask_id=4, vocab_size=50, rng=torch.Generator().manual_seed(0),
                            probability=0.3)
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)  # seeded: reproducible


def test_chunks_cover_every_token_with_specials(tiny_tokenizer) -> None:
    doc = " ".join(["the movie was really great"] * 20)
    chunks = chunk_documents(tiny_tokenizer, [doc, "short one"], max_length=16)
    n_tokens = len(tiny_tokenizer(doc, add_special_tokens=False)["input_ids"])
    long = chunks[:-1]
    assert sum(len(ids) - 2 for ids, _ in long) == n_tokens
    for ids, words in chunks:
        assert len(ids) <= 16 and ids[0] == tiny_tokenizer.cls_token_id and ids[-1] == tiny_tokenizer.sep_token_id
        assert words[0] == words[-1] == -100 and min(words[1:-1]) == 0


def test_pretrain_lowers_the_held_out_loss_and_registers_a_backbone(tiny_bert, tmp_path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(make_sentiment(200)[0]) + "\n")
    logs = []
    summary = pretrain(corpus, tmp_path / "tiny-domain", backbone=str(tiny_bert), epochs=3, lr=3e-3,
                       batch_size=16, max_length=16, dev_fraction=0.2, progress=False, log=logs.append)
    assert summary["new_head"] and "new one is created" in logs[0]  # the tiny model ships no masked-LM head
    assert summary["dev_after"]["mlm_loss"] < summary["dev_before"]["mlm_loss"]
    assert [row["phase"] for row in summary["history"]][:2] == ["head warm-up", "head warm-up"]
    assert json.loads((tmp_path / "tiny-domain" / "pretrain.json").read_text())["registered_as"] == "tiny-domain"
    bb = load_backbone("tiny-domain")  # by name, through the user registry
    assert bb.source == str((tmp_path / "tiny-domain").resolve())
    pretrained = dict(load_backbone(str(tiny_bert)).model.named_parameters())
    moved = [n for n, p in bb.model.named_parameters() if n in pretrained and not torch.equal(p, pretrained[n])]
    assert any(n.startswith("encoder.layer.0") for n in moved)  # the bottom block adapted too
    texts, labels = make_sentiment(40)
    clf = HeadstartClassifier(backbone="tiny-domain", strategy="head", epochs=1, max_length=16).fit(texts, labels)
    assert clf.backbone_name_ == "tiny-domain"


def test_tapt_reads_the_task_texts(tiny_bert, tmp_path) -> None:
    train = tmp_path / "train.csv"
    texts, labels = make_sentiment(60)
    train.write_text("text,label\n" + "\n".join(f"{t},{lab}" for t, lab in zip(texts, labels, strict=True)))
    summary = pretrain(train, tmp_path / "tapt", backbone=str(tiny_bert), tapt=True, epochs=1, max_length=16,
                       progress=False, log=lambda _: None)
    assert summary["documents"] == 60 and summary["tapt"]


def test_pretrain_errors(tiny_folders, tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="corpus is empty"):
        read_corpus(empty)
    with pytest.raises(DataError, match="not found"):
        read_corpus(tmp_path / "missing.txt")
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text\n")
    with pytest.raises(BackboneError, match="needs an encoder"):
        pretrain(corpus, tmp_path / "x", backbone=str(tiny_folders["gpt2"]), progress=False)


def test_cli_pretrain(tiny_bert, tmp_path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(make_sentiment(40)[0]) + "\n")
    result = CliRunner().invoke(app, ["pretrain", str(corpus), "--out", str(tmp_path / "bio"), "--backbone",
                                      str(tiny_bert), "--epochs", "1", "--max-length", "16"])
    assert result.exit_code == 0, result.output
    assert "masked-LM head" in result.output and "--backbone bio" in result.output
    result = CliRunner().invoke(app, ["models"])
    assert "bio" in result.output
