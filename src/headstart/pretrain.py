"""Domain- and task-adaptive pretraining (DAPT / TAPT, Gururangan et al. 2020): continue masked-LM
training of an encoder on unlabelled text, then fine-tune the result like any backbone.

    headstart pretrain pubmed.txt --backbone minilm --out backbones/minilm-bio     # DAPT
    headstart pretrain train.csv --tapt --out backbones/minilm-spam                # TAPT: the task's texts
    headstart train ncbi/train.txt --backbone minilm-bio                           # registered by name

The same trainer as every strategy (progress, checkpoints, early stopping, here on the held-out masked-LM
loss) with a masked-LM objective: whole-word masking of 15% of the words, fresh masks every batch, fixed
masks on the held-out chunks. Backbones that ship without a masked-LM head (the packaged MiniLM) get a new
one whose decoder is tied to the word embeddings; it first trains alone for one epoch (warm-up), so the
random head does not send large gradients into the pretrained blocks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headstart.backbones import get_module, load_backbone
from headstart.backbones.registry import register_backbone
from headstart.config import TrainConfig
from headstart.data._sources import _decode
from headstart.errors import BackboneError, DataError
from headstart.modeling import TransformerClassifier
from headstart.training import Examples, fit
from headstart.training.masking import MaskedLM

__all__ = ["pretrain", "read_corpus", "task_texts", "chunk_documents"]

WARMUP_LR = 5e-4  # the head-only warm-up epoch of a fresh masked-LM head
MIN_CHUNKS = 4  # one dev chunk at least, and a few to train on


def read_corpus(path: str | Path) -> list[str]:
    """Documents of a plain-text corpus, one per non-empty line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"corpus file not found: {path}", expected="a UTF-8 text file, one document per line",
                        found="no such file", fix="check the path", file=path)
    docs = [line.strip() for line in _decode(path, path.read_bytes()).split("\n") if line.strip()]
    if not docs:
        raise DataError("the corpus is empty.", expected="at least one non-empty line of text",
                        found="only blank lines", fix="pass a file with text in it", file=path)
    return docs


def task_texts(path: str | Path) -> list[str]:
    """TAPT: the texts of a task's training file (classification rows, NER sentences, QA contexts)."""
    from headstart.tasks.registry import detect_task

    task = detect_task(path)
    if task == "ner":
        from headstart.tasks.tagging.reader import read_token_file

        return [" ".join(words) for words in read_token_file(path).sentences]
    if task == "qa":
        from headstart.tasks.extractive_qa.reader import read_squad

        return list(dict.fromkeys(e.context for e in read_squad(path).examples))
    from headstart.data import read_split

    return read_split(path, require_labels=False).texts


def chunk_documents(tokenizer, docs: list[str], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(token ids, word ids) per chunk of at most `max_length` tokens, special tokens included; a long
    document becomes consecutive chunks. Word ids number the words within a chunk (-100 on special tokens),
    so whole-word masking can pick words."""
    encoded = tokenizer(docs, add_special_tokens=False, verbose=False)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    size = max_length - 2
    chunks = []
    for i in range(len(docs)):
        ids, words = encoded["input_ids"][i], encoded.word_ids(i)
        for start in range(0, len(ids), size):
            piece, wid = ids[start:start + size], words[start:start + size]
            first = wid[0] if wid and wid[0] is not None else 0
            chunks.append(([cls, *piece, sep], [-100, *[(w - first if w is not None else -100) for w in wid], -100]))
    return chunks


def _masked_lm(source: str):
    """The family's *ForMaskedLM model, and whether its head was created fresh (not in the checkpoint)."""
    from transformers import AutoModelForMaskedLM

    mlm, info = AutoModelForMaskedLM.from_pretrained(source, output_loading_info=True, dtype=torch.float32)
    fresh = any(not key.startswith(mlm.base_model_prefix + ".") for key in info["missing_keys"])
    return mlm, fresh


def pretrain(corpus: str | Path, out: str | Path, *, backbone: str = "minilm", tapt: bool = False,
             name: str | None = None, epochs: int = 3, lr: float = 1e-4, batch_size: int = 32,
             max_length: int = 128, probability: float = 0.15, patience: int = 2, dev_fraction: float = 0.05,
             seed: int = 0, progress: bool = True, log=print, overwrite: bool = False) -> dict:
    """Continue masked-LM training of `backbone` on `corpus`, save it to `out` (Hugging Face format,
    loadable by every command) and register it under `name` (default: the folder's name).

    Args:
        tapt: `corpus` is a task's training file; its texts are the corpus.
        lr: one learning rate for every layer (the usual recipe for continued pretraining); the
            forgetting guard's cap does not apply here, adapting the lower layers is the point.
        dev_fraction: share of the chunks held out for the masked-LM loss that early stopping reads.
        overwrite: replace an earlier pretrained backbone in `out` (never a folder of other files).

    Returns:
        A summary (also written to out/pretrain.json): chunks, epochs, dev loss / accuracy before and
        after, seconds, and whether the head was new.
    """
    from headstart.runs.ranks import claim_on_main

    settings = {"backbone": backbone, "tapt": tapt, "name": name, "epochs": epochs, "lr": lr,
                "batch_size": batch_size, "max_length": max_length, "probability": probability,
                "patience": patience, "dev_fraction": dev_fraction, "seed": seed, "progress": progress, "log": log}
    with claim_on_main(out, kind="backbone", overwrite=overwrite, resumable=False) as folder:
        return _pretrain(corpus, folder, **settings)  # data-parallel: only the main process writes


def _pretrain(corpus, folder, *, backbone: str, tapt: bool, name: str | None, epochs: int, lr: float,
              batch_size: int, max_length: int, probability: float, patience: int, dev_fraction: float,
              seed: int, progress: bool, log) -> dict:
    out = folder.path
    docs = task_texts(corpus) if tapt else read_corpus(corpus)
    bb = load_backbone(backbone)
    if not bb.anatomy.mlm_head:
        raise BackboneError(f"masked-LM pretraining needs an encoder; {bb.name!r} is a {bb.anatomy.family} "
                            f"{bb.anatomy.kind}.", expected="a BERT-style encoder (BERT, RoBERTa, DistilBERT, "
                            "ELECTRA, MPNet)", found=bb.anatomy.family, fix="pick an encoder backbone")
    chunks = chunk_documents(bb.tokenizer, docs, max_length)
    if len(chunks) < MIN_CHUNKS:
        raise DataError(f"the corpus is too small to pretrain on: {len(chunks)} chunk(s) of up to {max_length} "
                        "tokens.", expected=f"at least {MIN_CHUNKS} chunks (a few thousand words; domain "
                        "pretraining pays with millions)", found=f"{len(docs)} document(s)", file=corpus,
                        fix="pass a larger unlabelled corpus, one document per line")
    mlm, fresh = _masked_lm(bb.source)
    folder.begin()
    if fresh:
        log(f"{bb.name} ships without a masked-LM head: a new one is created, its decoder tied to the word "
            f"embeddings; it trains alone for one warm-up epoch first.")
    tokenizer = bb.tokenizer
    model = TransformerClassifier(getattr(mlm, mlm.base_model_prefix), bb.anatomy, mlm.config.vocab_size,
                                  dropout=0.0, per_token=True)
    model.head = nn.Sequential(*[get_module(mlm, path) for path in bb.anatomy.mlm_head])
    order = np.random.default_rng(seed).permutation(len(chunks))
    n_dev = max(1, round(dev_fraction * len(chunks)))
    pick = lambda idx: Examples([chunks[i][0] for i in idx], [chunks[i][1] for i in idx])  # noqa: E731
    train, dev = pick(order[n_dev:]), pick(order[:n_dev])
    objective = MaskedLM(mask_id=tokenizer.mask_token_id, vocab_size=mlm.config.vocab_size,
                         probability=probability, seed=seed)
    names = [g.name for g in model.layer_groups()]
    common = {"batch_size": batch_size, "max_length": max_length, "seed": seed, "warm_start": False,
              "prefix_cache": False, "patience": patience, "lr_decay": 1.0, "lower_lr_cap": 1.0}
    t0 = time.perf_counter()
    history = []
    if fresh:
        warm = fit(model, train, dev, trainable=["head"], cfg=TrainConfig(epochs=1, lr=WARMUP_LR, **common),
                   pad_id=tokenizer.pad_token_id, objective=objective, progress=progress)
        history += [row | {"phase": "head warm-up"} for row in warm.history]
    result = fit(model, train, dev, trainable=names, cfg=TrainConfig(epochs=epochs, lr=lr, **common),
                 pad_id=tokenizer.pad_token_id, objective=objective, checkpoint=folder.checkpoint,
                 progress=progress)
    history += [row | {"phase": "all layers"} for row in result.history]
    seconds = time.perf_counter() - t0
    from headstart.runs.ranks import Follower

    if isinstance(folder, Follower):  # a data-parallel process other than the main one: it writes nothing
        return None
    # fit evaluates the starting point as epoch 0 and restores the best epoch: both rows are in the history
    before = history[0]
    after = next(row for row in result.history if row["epoch"] == result.best_epoch)
    mlm.save_pretrained(out)
    tokenizer.save_pretrained(out)
    name = name or out.name
    summary = {"backbone": bb.name, "registered_as": name, "path": str(out.resolve()),
               "corpus": str(corpus), "tapt": tapt, "documents": len(docs), "train_chunks": len(train),
               "dev_chunks": len(dev), "new_head": fresh, "best_epoch": result.best_epoch,
               "dev_before": {"mlm_loss": before["dev_mlm_loss"], "mlm_accuracy": before["dev_mlm_accuracy"]},
               "dev_after": {"mlm_loss": after["dev_mlm_loss"], "mlm_accuracy": after["dev_mlm_accuracy"]},
               "seconds": round(seconds, 1), "config": {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                                        "max_length": max_length, "probability": probability,
                                                        "seed": seed, "warmup_lr": WARMUP_LR if fresh else None},
               "history": history}
    (out / "pretrain.json").write_text(json.dumps(summary, indent=2))
    folder.finish()
    register_backbone(name, out, f"{bb.name} + masked-LM pretraining on {Path(str(corpus)).name}")
    return summary

