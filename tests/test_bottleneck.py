"""Bottleneck adapters (Houlsby, Pfeiffer) and Compacter: one matrix of checks over six families x three
kinds on tiny 2-block, 32-wide models, then the Compacter specifics and every validation error."""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.pytorch_utils import Conv1D

from conftest import FAMILIES, HIDDEN, build_tiny_model
from headstart.adapters.bottleneck import (
    KINDS,
    BottleneckConfig,
    PHMLinear,
    active_adapter,
    adapter_names,
    adapter_parameters,
    adapter_state_dict,
    add_bottleneck_adapters,
    belongs_to_adapter,
    delete_adapter,
    is_adapter_parameter,
    load_adapter_state_dict,
    set_active_adapter,
)
from headstart.backbones import ANATOMY, blocks_of, get_module
from headstart.errors import ConfigError

MATRIX_FAMILIES = ("bert", "roberta", "distilbert", "gpt2", "llama", "t5")
N_BLOCKS = 2
REDUCTION = 4  # bottleneck 8: divisible by phm_dim 4, as Compacter needs
PHM_DIM = 4
MATRIX = [(f, k) for f in MATRIX_FAMILIES for k in KINDS]


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


def config(kind: str, **kw) -> BottleneckConfig:
    return BottleneckConfig(**{"kind": kind, "reduction_factor": REDUCTION, "phm_dim": PHM_DIM} | kw)


def expected_count(kind: str, hidden: int = HIDDEN, blocks: int = N_BLOCKS, rank: int = 1) -> int:
    """Houlsby/Pfeiffer: down (h*b + b) + up (b*h + h) per site. Compacter: per site, down and up own
    rank*(h + b) factor entries each plus their biases; the (n, n, n) rule counts once for the model."""
    b = hidden // REDUCTION
    sites = blocks * (2 if kind == "houlsby" else 1)
    if kind == "compacter":
        return sites * (2 * rank * (hidden + b) + b + hidden) + PHM_DIM**3
    return sites * (2 * hidden * b + b + hidden)


@pytest.fixture(scope="module")
def bases(tiny_tokenizer) -> dict[str, nn.Module]:
    """family -> a tiny bare backbone (T5: the encoder), in eval mode. Tests deep-copy it."""
    return {f: build_tiny_model(f, tiny_tokenizer, n_layers=N_BLOCKS) for f in MATRIX_FAMILIES}


@pytest.fixture(scope="module")
def batch(tiny_tokenizer) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tiny_tokenizer), (2, 7), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0  # right padding, as headstart pads
    return {"input_ids": ids, "attention_mask": mask}


def run(model: nn.Module, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).last_hidden_state


def perturb(backbone: nn.Module, name: str, seed: int) -> None:
    """Random adapter weights: a fresh adapter adds zero, which would hide most mistakes."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapter_parameters(backbone, name).values():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def adapted(bases, family: str, kind: str, name: str = "default", **kw) -> tuple[nn.Module, int]:
    backbone = copy.deepcopy(bases[family])
    torch.manual_seed(0)  # the adapters' initialisation, whatever ran before (xdist reorders tests)
    return backbone, add_bottleneck_adapters(backbone, ANATOMY[family], config(kind, **kw), name)


# ---- the anatomy rows --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_adapter_sites_are_hidden_wide_output_projections(family, tiny_tokenizer) -> None:
    a = ANATOMY[family]
    block = blocks_of(build_tiny_model(family, tiny_tokenizer, n_layers=1), a)[0]
    assert len(a.adapter_sites) == 2
    for path in a.adapter_sites:
        site = get_module(block, path)
        assert isinstance(site, nn.Linear | Conv1D), (path, type(site))
        assert (site.out_features if isinstance(site, nn.Linear) else site.nf) == HIDDEN, path


# ---- the matrix: every family x every kind -----------------------------------------------------------------
@pytest.mark.parametrize(("family", "kind"), MATRIX)
def test_fresh_adapter_changes_no_output_and_no_original_key(family, kind, bases, batch) -> None:
    base = bases[family]
    backbone, n_added = adapted(bases, family, kind)
    assert torch.equal(run(backbone, batch), run(base, batch))
    assert n_added == expected_count(kind)
    assert sum(p.numel() for p in backbone.parameters()) == sum(p.numel() for p in base.parameters()) + n_added
    before, after = base.state_dict(), backbone.state_dict()
    assert set(before) <= set(after)
    assert all(torch.equal(before[k], after[k]) for k in before)
    new = set(after) - set(before)
    assert new and all("adapter" in k and is_adapter_parameter(k) and belongs_to_adapter(k, "default")
                       for k in new)
    assert not any(is_adapter_parameter(k) for k in before)
    assert adapter_names(backbone) == ["default"] and active_adapter(backbone) == "default"


@pytest.mark.parametrize(("family", "kind"), MATRIX)
def test_training_moves_the_adapter_only_and_lowers_the_loss(family, kind, bases, batch) -> None:
    backbone, _ = adapted(bases, family, kind)
    frozen = {k: p.detach().clone() for k, p in backbone.named_parameters() if not is_adapter_parameter(k)}
    for k, p in backbone.named_parameters():
        p.requires_grad_(is_adapter_parameter(k))
    start = {k: p.detach().clone() for k, p in adapter_parameters(backbone, "default").items()}
    trainable = [p for p in backbone.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == expected_count(kind)  # a shared rule counts once
    target = torch.randn(2, 7, HIDDEN, generator=torch.Generator().manual_seed(1))
    mask = batch["attention_mask"].unsqueeze(-1)
    optimizer = torch.optim.Adam(trainable, lr=0.02)
    losses = []
    for _ in range(6):
        loss = (((backbone(**batch).last_hidden_state - target) * mask) ** 2).mean()
        loss.backward()
        assert all(p.grad is None for k, p in backbone.named_parameters() if k in frozen)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(p, frozen[k]) for k, p in backbone.named_parameters() if k in frozen)
    unchanged = [k for k, p in adapter_parameters(backbone, "default").items() if torch.equal(p, start[k])]
    assert not unchanged  # gradient reaches every adapter tensor (down-projections once up is non-zero)


@pytest.mark.parametrize(("family", "kind"), MATRIX)
def test_saved_adapter_loads_into_a_fresh_backbone(family, kind, bases, batch, tmp_path) -> None:
    backbone, _ = adapted(bases, family, kind)
    perturb(backbone, "default", seed=2)
    save_file(adapter_state_dict(backbone, "default"), tmp_path / "adapter.safetensors")
    fresh = copy.deepcopy(bases[family])
    load_adapter_state_dict(fresh, ANATOMY[family], config(kind), load_file(tmp_path / "adapter.safetensors"))
    assert active_adapter(fresh) == "default"
    assert torch.equal(run(fresh, batch), run(backbone, batch))
    assert not torch.equal(run(fresh, batch), run(bases[family], batch))


@pytest.mark.parametrize(("family", "kind"), MATRIX)
def test_two_adapters_do_not_interfere(family, kind, bases, batch) -> None:
    backbone, _ = adapted(bases, family, kind, name="first")
    perturb(backbone, "first", seed=3)
    first = run(backbone, batch)
    add_bottleneck_adapters(backbone, ANATOMY[family], config("houlsby"), "second")
    perturb(backbone, "second", seed=4)
    assert active_adapter(backbone) == "second"
    assert not torch.equal(run(backbone, batch), first)
    set_active_adapter(backbone, "first")
    assert torch.equal(run(backbone, batch), first)
    set_active_adapter(backbone, None)
    assert torch.equal(run(backbone, batch), run(bases[family], batch))
    assert set(adapter_state_dict(backbone, "first")).isdisjoint(adapter_state_dict(backbone, "second"))


@pytest.mark.parametrize(("family", "kind"), MATRIX)
def test_delete_removes_the_parameters(family, kind, bases, batch) -> None:
    base = bases[family]
    backbone, _ = adapted(bases, family, kind, name="gone")
    perturb(backbone, "gone", seed=5)
    delete_adapter(backbone, "gone")
    assert adapter_names(backbone) == [] and active_adapter(backbone) is None
    assert set(backbone.state_dict()) == set(base.state_dict())
    assert sum(p.numel() for p in backbone.parameters()) == sum(p.numel() for p in base.parameters())
    assert torch.equal(run(backbone, batch), run(base, batch))


# ---- placement details ---------------------------------------------------------------------------------------
def test_blocks_selects_where_adapters_go(bases) -> None:
    backbone, n_added = adapted(bases, "bert", "houlsby", blocks=[1])
    assert n_added == expected_count("houlsby", blocks=1)
    assert all(k.startswith("encoder.layer.1.") for k in adapter_state_dict(backbone, "default"))


def test_a_deep_copy_carries_its_own_working_adapters(bases, batch) -> None:
    backbone, _ = adapted(bases, "gpt2", "pfeiffer")
    perturb(backbone, "default", seed=6)
    clone = copy.deepcopy(backbone)
    assert torch.equal(run(clone, batch), run(backbone, batch))
    perturb(clone, "default", seed=7)
    assert not torch.equal(run(clone, batch), run(backbone, batch))


# ---- Compacter -------------------------------------------------------------------------------------------
def test_phm_weight_is_a_sum_of_kronecker_products() -> None:
    torch.manual_seed(0)
    rule = nn.Parameter(torch.randn(2, 2, 2))
    layer = PHMLinear(6, 4, rule, rank=3)
    fast = layer.left @ layer.right.transpose(1, 2)  # (n, out/n, in/n)
    want = sum(torch.kron(rule[i], fast[i]) for i in range(2))
    assert torch.allclose(layer.weight, want, atol=1e-6)
    x = torch.randn(5, 6)
    assert torch.allclose(layer(x), x @ want.T + layer.bias, atol=1e-6)


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_compacter_rule_is_shared_counted_once_and_saved_once(family, bases) -> None:
    backbone, _ = adapted(bases, family, "compacter")
    layers = [m for m in backbone.modules() if isinstance(m, PHMLinear)]
    assert len(layers) == 2 * N_BLOCKS and all(m.rule is layers[0].rule for m in layers)
    assert sum(k.endswith(".rule") for k, _ in backbone.named_parameters()) == 1
    assert sum(k.endswith(".rule") for k in backbone.state_dict()) == len(layers)  # why saving dedups
    state = adapter_state_dict(backbone, "default")
    assert sum(k.endswith(".rule") for k in state) == 1
    fresh = copy.deepcopy(bases[family])
    load_adapter_state_dict(fresh, ANATOMY[family], config("compacter"), state)
    loaded = [m for m in fresh.modules() if isinstance(m, PHMLinear)]
    assert all(m.rule is loaded[0].rule for m in loaded)
    assert torch.equal(loaded[-1].rule, layers[0].rule)


def test_compacter_rank_enters_the_count(bases) -> None:
    _, n_added = adapted(bases, "llama", "compacter", phm_rank=2)
    assert n_added == expected_count("compacter", rank=2)


# ---- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "parts"), [
    ({"kind": "lora"}, ("kind", "'houlsby', 'pfeiffer', 'compacter'", "'lora'")),
    ({"non_linearity": "tanh"}, ("non_linearity", "'relu', 'gelu', 'swish'", "'tanh'")),
    ({"reduction_factor": 0}, ("reduction_factor", "an integer >= 1", "0")),
    ({"phm_dim": 1.5}, ("phm_dim", "an integer >= 1", "1.5")),
    ({"phm_rank": 0}, ("phm_rank", "an integer >= 1", "0")),
    ({"blocks": 3}, ("blocks", "a non-empty list of block indices", "3")),
    ({"blocks": []}, ("blocks", "a non-empty list of block indices", "[]")),
    ({"blocks": [0, -1]}, ("blocks[1]", "an integer >= 0", "-1")),
])
def test_bad_config_values(kw, parts) -> None:
    with pytest.raises(ConfigError, match=match(*parts)):
        BottleneckConfig(**kw)


@pytest.mark.parametrize(("kw", "found"), [
    ({"reduction_factor": 3}, "hidden 32, bottleneck 10"),  # bottleneck not divisible by 4
    ({"reduction_factor": 2, "phm_dim": 3}, "hidden 32, bottleneck 16"),  # hidden not divisible by 3
])
def test_compacter_sizes_must_divide_by_phm_dim(kw, found, bases) -> None:
    backbone = copy.deepcopy(bases["bert"])
    cfg = BottleneckConfig(kind="compacter", **kw)
    with pytest.raises(ConfigError, match=match("divisible by phm_dim", f"phm_dim={cfg.phm_dim}", found)):
        add_bottleneck_adapters(backbone, ANATOMY["bert"], cfg)
    assert adapter_names(backbone) == []


def test_family_without_sites_and_missing_blocks(bases) -> None:
    backbone = copy.deepcopy(bases["bert"])
    bare = dataclasses.replace(ANATOMY["bert"], adapter_sites=())
    with pytest.raises(ConfigError, match=match("no bottleneck adapter sites", "adapter_sites=()")):
        add_bottleneck_adapters(backbone, bare, config("houlsby"))
    with pytest.raises(ConfigError, match=match("indices between 0 and 1", "[0, 5]")):
        add_bottleneck_adapters(backbone, ANATOMY["bert"], config("houlsby", blocks=[0, 5]))
    assert adapter_names(backbone) == []


def test_adapter_names_are_checked(bases) -> None:
    backbone, _ = adapted(bases, "bert", "pfeiffer", name="a")
    a = ANATOMY["bert"]
    with pytest.raises(ConfigError, match=match("'a' exists already", "a new name")):
        add_bottleneck_adapters(backbone, a, config("pfeiffer"), "a")
    for bad in ("x.y", "", "train", "active"):
        with pytest.raises(ConfigError, match=match("invalid adapter name", repr(bad))):
            add_bottleneck_adapters(backbone, a, config("pfeiffer"), bad)
    for call in (lambda: set_active_adapter(backbone, "b"), lambda: delete_adapter(backbone, "b"),
                 lambda: adapter_state_dict(backbone, "b")):
        with pytest.raises(ConfigError, match=match("no adapter named 'b'", "one of: 'a'", "'b'")):
            call()
    assert adapter_names(backbone) == ["a"]


def test_loading_a_state_that_does_not_fit(bases) -> None:
    backbone, _ = adapted(bases, "bert", "pfeiffer")
    state = adapter_state_dict(backbone, "default")
    a, fresh = ANATOMY["bert"], copy.deepcopy(bases["bert"])
    key = next(iter(state))
    with pytest.raises(ConfigError, match=match("do not fit adapter 'default'", "missing 1", key)):
        load_adapter_state_dict(fresh, a, config("pfeiffer"), {k: v for k, v in state.items() if k != key})
    assert adapter_names(fresh) == []  # the adapter added for the load is rolled back
    with pytest.raises(ConfigError, match=match("unexpected 1", "extra.weight")):
        load_adapter_state_dict(fresh, a, config("pfeiffer"), state | {"extra.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match=match("of another shape", "expected shape (4, 32), found (8, 32)")):
        load_adapter_state_dict(fresh, a, config("pfeiffer", reduction_factor=8), state)
