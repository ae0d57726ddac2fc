"""Adapters as artifacts (issue 3): the PEFT folder layout with the head, merging LoRA into the backbone,
several adapters on one backbone, and the guard against target modules that match nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import make_sentiment
from headstart import HeadstartClassifier
from headstart.backbones import load_backbone
from headstart.errors import ConfigError
from headstart.multi import MultiAdapterClassifier

# module-scoped fixtures: keep this file's tests on one xdist worker
pytestmark = pytest.mark.xdist_group("adapters")

OPTIONS = {"epochs": 3, "lr": 3e-3, "batch_size": 8, "max_length": 16, "patience": 0, "seed": 0}


def _fit(folder: Path, strategy: str, n_classes: int = 2, seed: int = 0, **options) -> HeadstartClassifier:
    texts, labels = make_sentiment(60, classes=n_classes, seed=seed)
    return HeadstartClassifier(backbone=str(folder), strategy=strategy, **OPTIONS | options).fit(texts, labels)


@pytest.fixture(scope="module")
def probe_texts() -> list[str]:
    return make_sentiment(24, classes=3, seed=7)[0]


def test_lora_target_that_matches_nothing_names_the_modules_that_exist(tiny_folders) -> None:
    with pytest.raises(ConfigError) as err:
        _fit(tiny_folders["bert"], "lora", target_modules=["q_proj"])
    message = str(err.value)
    assert "q_proj" in message and "query" in message and "value" in message


def test_lora_attention_targets_come_from_the_anatomy_table(tiny_folders) -> None:
    for family, targets in (("bert", {"query", "value"}), ("gpt2", {"c_attn"}), ("llama", {"q_proj", "v_proj"}),
                            ("distilbert", {"q_lin", "v_lin"})):
        clf = _fit(tiny_folders[family], "lora", epochs=1, target_modules="attention")
        adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in clf.model_.named_parameters()
                   if "lora_A" in n}
        assert adapted == targets, (family, adapted)


def test_a_lora_run_saved_before_all_linear_became_the_default_reloads_as_it_was_trained(tiny_folders,
                                                                                        tmp_path) -> None:
    import json

    clf = _fit(tiny_folders["bert"], "lora", epochs=1, target_modules="attention")
    folder = clf.save(tmp_path / "model")
    meta = json.loads((folder / "headstart.json").read_text())
    meta["strategy"]["options"]["target_modules"] = None  # what runs saved before 2026-11-26 recorded
    (folder / "headstart.json").write_text(json.dumps(meta))
    texts = make_sentiment(12, classes=2, seed=3)[0]
    loaded = HeadstartClassifier.load(folder)
    assert loaded.strategy_.options.target_modules == ["attention"]
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_lora_adapts_every_projection_in_the_blocks_and_nothing_else_by_default(family, tiny_folders) -> None:
    clf = _fit(tiny_folders[family], "lora", epochs=1)  # target_modules="all-linear", the default
    assert clf.strategy_.options.target_modules == ["all-linear"]
    backbone = clf.model_.backbone
    adapted = {n.split(".lora_A")[0] for n, _ in backbone.named_parameters() if "lora_A" in n}
    blocks = clf.model_.anatomy.blocks
    linear = {n.removesuffix(".base_layer") for n, m in backbone.named_modules()  # LoRA wraps each as base_layer
              if (isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D") and f"{blocks}." in n
              and "lora_" not in n}
    assert adapted and adapted == linear, adapted ^ linear
    assert not any("pooler" in n for n in adapted)


@pytest.mark.parametrize("targets", [["all-linear", "query"], ["attention", "all-linear"], []])
def test_lora_target_keywords_stand_alone(targets, tiny_folders) -> None:
    with pytest.raises(ConfigError, match="keywords alone"):
        _fit(tiny_folders["bert"], "lora", target_modules=targets)


def test_lora_top_n_adapts_only_the_top_blocks_and_caches_below(tiny_folders) -> None:
    clf = _fit(tiny_folders["bert"], "lora", top_n=1, epochs=1)
    layers = {int(n.split("encoder.layer.")[1].split(".")[0]) for n, _ in clf.model_.named_parameters()
              if "lora_A" in n}
    assert layers == {clf.model_.n_blocks - 1}
    assert clf.fit_result_.cache_depth == clf.model_.n_blocks - 1


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_the_saved_folder_is_a_peft_adapter_that_peft_itself_loads(family, tiny_folders, tmp_path,
                                                                     probe_texts) -> None:
    from peft import PeftModel

    clf = _fit(tiny_folders[family], "lora")
    folder = clf.save(tmp_path / "model")
    assert {"adapter_config.json", "adapter_model.safetensors", "head.safetensors"} <= {
        f.name for f in folder.iterdir()}
    assert not (folder / "model.safetensors").exists()  # the backbone is referenced, not copied
    # outside headstart: plain transformers + peft give the same hidden states as headstart's model
    plain = PeftModel.from_pretrained(load_backbone(str(tiny_folders[family])).model, str(folder)).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        ours = clf.model_.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        theirs = plain(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("strategy, family", [("lora", "bert"), ("lora", "gpt2"), ("lora", "llama"),
                                              ("ia3", "bert"), ("ia3", "roberta")])
def test_merging_predicts_like_the_adapter(strategy, family, tiny_folders, tmp_path, probe_texts) -> None:
    clf = _fit(tiny_folders[family], strategy)
    before = clf.predict_proba(probe_texts)
    clf.merge()
    assert not any("lora_" in n or "ia3_" in n for n, _ in clf.model_.named_parameters())
    merged = clf.predict_proba(probe_texts)
    np.testing.assert_allclose(merged, before, atol=1e-5, rtol=0)
    loaded = HeadstartClassifier.load(clf.save(tmp_path / "merged"))  # now a whole backbone
    assert (tmp_path / "merged" / "model.safetensors").exists()
    np.testing.assert_allclose(loaded.predict_proba(probe_texts), merged, atol=1e-6, rtol=0)


def test_only_lora_and_ia3_merge(tiny_folders) -> None:
    with pytest.raises(ConfigError, match="only LoRA and IA3"):
        _fit(tiny_folders["bert"], "adapter", epochs=1).merge()


@pytest.fixture(scope="module")
def saved_adapters(tiny_folders, tmp_path_factory) -> dict[str, tuple[Path, HeadstartClassifier]]:
    """Adapters of different kinds and tasks, trained on the same tiny BERT and saved."""
    root = tmp_path_factory.mktemp("adapters")
    runs = {"lora-a": ("lora", 2, 0), "lora-b": ("lora", 3, 1), "adapter": ("adapter", 3, 2),
            "bitfit": ("bitfit", 2, 3), "prompt": ("prompt", 2, 4), "compacter": ("compacter", 2, 5)}
    out = {}
    for name, (strategy, classes, seed) in runs.items():
        extra = {"reduction_factor": 4} if strategy == "compacter" else {}
        clf = _fit(tiny_folders["bert"], strategy, n_classes=classes, seed=seed, **extra)
        out[name] = (clf.save(root / name), clf)
    return out


def test_several_adapters_on_one_backbone_do_not_interfere(saved_adapters, tiny_folders, probe_texts) -> None:
    multi = MultiAdapterClassifier(str(tiny_folders["bert"]))
    pretrained = {n: p.detach().clone() for n, p in multi.backbone.model.named_parameters()}
    for name, (folder, _) in saved_adapters.items():
        multi.load(folder, name=name)
    assert multi.names == list(saved_adapters)
    # every adapter, in an order that switches between kinds both ways, predicts as its own classifier
    for name in ["lora-a", "adapter", "lora-b", "bitfit", "prompt", "lora-a", "compacter", "adapter", "bitfit"]:
        expected = saved_adapters[name][1].predict_proba(probe_texts)
        np.testing.assert_allclose(multi.predict_proba(probe_texts, adapter=name), expected, atol=1e-6, rtol=0)
        assert list(multi.predict(probe_texts[:3])) == list(saved_adapters[name][1].predict(probe_texts[:3]))
    # unloading one leaves the others as they were, and the pretrained weights were never touched
    multi.unload("lora-a")
    assert "lora-a" not in multi.names
    expected = saved_adapters["lora-b"][1].predict_proba(probe_texts)
    np.testing.assert_allclose(multi.predict_proba(probe_texts, adapter="lora-b"), expected, atol=1e-6, rtol=0)
    for name in list(multi.names):
        multi.unload(name)
    after = {n.replace(".base_layer", ""): p for n, p in multi.backbone.model.named_parameters()}
    assert set(after) >= set(pretrained)
    assert all(torch.equal(after[n], p) for n, p in pretrained.items())


def test_multi_adapter_errors_are_clear(saved_adapters, tiny_folders, tmp_path) -> None:
    multi = MultiAdapterClassifier(str(tiny_folders["bert"]))
    with pytest.raises(ConfigError, match="no adapter is active"):
        multi.predict(["good movie"])
    multi.load(saved_adapters["lora-a"][0], name="a")
    with pytest.raises(ConfigError, match="loaded already"):
        multi.load(saved_adapters["lora-a"][0], name="a")
    with pytest.raises(ConfigError, match="no adapter named 'b'"):
        multi.use("b")
    full = HeadstartClassifier(backbone=str(tiny_folders["bert"]), strategy="full", **OPTIONS | {"epochs": 1})
    texts, labels = make_sentiment(40)
    full.fit(pd.DataFrame({"text": texts, "label": labels})).save(tmp_path / "full")
    with pytest.raises(ConfigError, match="not an adapter"):
        multi.load(tmp_path / "full", name="full")
    other = MultiAdapterClassifier(str(tiny_folders["roberta"]))
    with pytest.raises(ConfigError, match="another backbone"):
        other.load(saved_adapters["lora-a"][0], name="a")
