"""Bottleneck adapters (Houlsby et al. 2019, Pfeiffer et al. 2021) and Compacter (Karimi Mahabadi et al.
2021), written by hand: AdapterHub's `adapters` library pins transformers ~=4.57, headstart runs on 5.

Placement: a forward hook, not a wrapper. Each site (a block's attention or feed-forward output
projection, from the anatomy table's `adapter_sites`; an nn.Linear or GPT-2's Conv1D) stays where it is.
Its adapters live ON it, as the child `headstart_adapters` (an `AdapterSlot`: named adapters plus the
active name), and a forward hook on the site returns `y + adapter(y)` for the active adapter, `y` when
none is active: Houlsby's placement, on the sublayer output before the residual add (and the layer norm
of post-norm families). Wrapping the site would rename its weights (`dense.weight` -> `dense.base.weight`)
and break loading pretrained checkpoints; with the hook every original `state_dict` key is unchanged and
an adapter only adds keys such as `encoder.layer.0.output.dense.headstart_adapters.<name>.down.weight`.
The hook is a module-level function that finds the slot through its `module` argument, so a deep copy or
a pickle of the backbone carries working adapters.

The up-projection starts at zero: a fresh adapter adds exactly 0, the outputs stay bit-for-bit the same.

Compacter: each projection is a `PHMLinear`, W = sum_i kron(A_i, s_i t_i^T). The rule A (n, n, n) is ONE
Parameter per adapter, registered by all its PHM layers (tied, like tied embeddings), so
`model.parameters()` and `named_parameters()` yield it once, under its first name. `adapter_state_dict`
keeps that one canonical key (safetensors refuses aliased tensors) and loading copies into the shared
Parameter in place, so the tie survives a save/load round trip.

Example:
    >>> n_added = add_bottleneck_adapters(backbone, anatomy, BottleneckConfig(kind="pfeiffer"))
    >>> trainable = [p for k, p in backbone.named_parameters() if belongs_to_adapter(k, "default")]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from headstart.adapters.names import SLOT, is_adapter_parameter
from headstart.backbones import Anatomy, blocks_of, get_module
from headstart.config import check_choice, check_range
from headstart.errors import BackboneError, ConfigError

__all__ = [
    "KINDS",
    "BottleneckConfig",
    "PHMLinear",
    "BottleneckAdapter",
    "AdapterSlot",
    "add_bottleneck_adapters",
    "set_active_adapter",
    "active_adapter",
    "delete_adapter",
    "adapter_names",
    "adapter_parameters",
    "adapter_state_dict",
    "load_adapter_state_dict",
    "is_adapter_parameter",
    "belongs_to_adapter",
]

KINDS = ("houlsby", "pfeiffer", "compacter")
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU}


@dataclass
class BottleneckConfig:
    """What adapter to add, and where.

    Attributes:
        kind: "houlsby" (after the attention output and after the feed-forward output of each block),
            "pfeiffer" (after the feed-forward output only) or "compacter" (Compacter++: Pfeiffer's
            placement, with PHM projections).
        reduction_factor: bottleneck size = hidden // reduction_factor (at least 1).
        non_linearity: "relu", "gelu" or "swish", between the down- and the up-projection.
        phm_dim: Compacter's n, the number of Kronecker summands; hidden and bottleneck sizes must be
            divisible by it.
        phm_rank: rank of Compacter's per-layer factors B_i = s_i t_i^T.
        blocks: indices of the blocks that get adapters; None: all.
    """

    kind: str = "houlsby"
    reduction_factor: int = 16
    non_linearity: str = "relu"
    phm_dim: int = 4
    phm_rank: int = 1
    blocks: list[int] | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_range("reduction_factor", self.reduction_factor, 1, integer=True)
        check_choice("non_linearity", self.non_linearity, tuple(ACTIVATIONS))
        check_range("phm_dim", self.phm_dim, 1, integer=True)
        check_range("phm_rank", self.phm_rank, 1, integer=True)
        if self.blocks is not None and (not isinstance(self.blocks, list | tuple) or not self.blocks):
            raise ConfigError("invalid value for blocks.", expected="None or a non-empty list of block indices",
                              found=repr(self.blocks), fix="pass e.g. blocks=[10, 11], or None for all")
        for i, index in enumerate(self.blocks or ()):
            check_range(f"blocks[{i}]", index, 0, integer=True)

    def bottleneck(self, hidden: int) -> int:
        return max(1, hidden // self.reduction_factor)

    def site_paths(self, anatomy: Anatomy) -> tuple[str, ...]:
        """Houlsby: both sites of a block; Pfeiffer and Compacter++: the feed-forward output only
        (Pfeiffer et al. found it as good at half the cost)."""
        return anatomy.adapter_sites if self.kind == "houlsby" else anatomy.adapter_sites[1:]


# ---- modules ----------------------------------------------------------------------------------------------
class PHMLinear(nn.Module):
    """A linear layer whose weight is a sum of Kronecker products: W = sum_i kron(A_i, s_i t_i^T).

    It owns (in + out) * rank + out parameters instead of (in + 1) * out; the rule A, the "slow" weights,
    is shared by every PHM layer of one adapter.

    Args:
        in_features, out_features: sizes, both divisible by n.
        rule: (n, n, n) Parameter, the A_i; the same object is passed to every layer of the adapter.
        rank: rank of the "fast" per-layer factors B_i = s_i t_i^T.
        zero: start with s = 0, so W = 0 (the up-projection: a fresh adapter adds nothing).
    """

    def __init__(self, in_features: int, out_features: int, rule: nn.Parameter, rank: int,
                 zero: bool = False) -> None:
        super().__init__()
        n = rule.shape[0]
        factory = {"device": rule.device, "dtype": rule.dtype}
        # Var(W) = n Var(A) rank Var(s) Var(t) = 1 / in_features (Var(A) = 1/n): the scale of a default init
        std = (rank * in_features) ** -0.25
        self.in_features, self.out_features = in_features, out_features
        self.rule = rule
        self.left = nn.Parameter(torch.randn(n, out_features // n, rank, **factory) * (0.0 if zero else std))
        self.right = nn.Parameter(torch.randn(n, in_features // n, rank, **factory) * std)
        self.bias = nn.Parameter(torch.zeros(out_features, **factory))

    @property
    def weight(self) -> torch.Tensor:
        """(out, in). kron(A_i, B_i)[a*P + p, b*Q + q] = A_i[a, b] * B_i[p, q], summed over i."""
        fast = torch.einsum("ipr,iqr->ipq", self.left, self.right)  # (n, out/n, in/n): the B_i
        return torch.einsum("iab,ipq->apbq", self.rule, fast).reshape(self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class BottleneckAdapter(nn.Module):
    """x -> up(act(down(x))): hidden -> bottleneck -> hidden; the site adds the result to its output."""

    def __init__(self, down: nn.Module, up: nn.Module, non_linearity: str) -> None:
        super().__init__()
        self.down, self.act, self.up = down, ACTIVATIONS[non_linearity](), up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(x)))


class AdapterSlot(nn.ModuleDict):
    """The adapters of one site, by name, and the name of the one that runs (None: none does)."""

    def __init__(self) -> None:
        super().__init__()
        self.active: str | None = None

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.active not in self:  # no adapter active, or the active one skips this block
            return y
        return y + self[self.active](y)


_RESERVED = frozenset(dir(AdapterSlot()))  # ModuleDict keys cannot shadow attributes ("train", "active")


def _run_active_adapter(site: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """The forward hook of every site."""
    return getattr(site, SLOT)(output)


# ---- building ---------------------------------------------------------------------------------------------
def _sites(backbone: nn.Module, anatomy: Anatomy, config: BottleneckConfig) -> list[nn.Module]:
    """The site modules that get an adapter, bottom block first."""
    if not anatomy.adapter_sites:
        raise ConfigError(
            f"model family {anatomy.family!r} has no bottleneck adapter sites.",
            expected="a family whose ANATOMY row lists adapter_sites",
            found=f"{anatomy.family!r} with adapter_sites=()",
            fix="add adapter_sites to its row in headstart/backbones/anatomy.py, or use another strategy",
        )
    blocks = blocks_of(backbone, anatomy)
    indices = range(len(blocks)) if config.blocks is None else sorted(set(config.blocks))
    if any(i >= len(blocks) for i in indices):
        raise ConfigError(
            "BottleneckConfig.blocks names blocks the backbone does not have.",
            expected=f"indices between 0 and {len(blocks) - 1}",
            found=repr(config.blocks),
            fix="pass existing block indices, or blocks=None for all",
        )
    # a LoRA on the same backbone (MultiAdapterClassifier) wraps the projection: the adapter goes on the wrapped
    # layer, which outlives the wrapper when the LoRA is unloaded (one adapter runs at a time, so the LoRA
    # delta, disabled, is never under it)
    sites = [get_module(blocks[i], path) for i in indices for path in config.site_paths(anatomy)]
    return [site.get_base_layer() if hasattr(site, "get_base_layer") else site for site in sites]


def _out_features(site: nn.Module) -> int:
    """nn.Linear's `out_features`, or `nf` for transformers' Conv1D (GPT-2)."""
    for attr in ("out_features", "nf"):
        if isinstance(getattr(site, attr, None), int):
            return getattr(site, attr)
    raise BackboneError(
        f"cannot put an adapter on a {type(site).__name__}.",
        expected="an adapter site that is an nn.Linear or a transformers Conv1D",
        found=type(site).__name__,
        fix="fix adapter_sites for this family in headstart/backbones/anatomy.py",
    )


def _check_phm_sizes(config: BottleneckConfig, hidden: int) -> None:
    bottleneck = config.bottleneck(hidden)
    if hidden % config.phm_dim or bottleneck % config.phm_dim:
        raise ConfigError(
            "Compacter needs the hidden and bottleneck sizes to be divisible by phm_dim.",
            expected=f"hidden and bottleneck sizes divisible by phm_dim={config.phm_dim}",
            found=f"hidden {hidden}, bottleneck {bottleneck} (= {hidden} // reduction_factor "
                  f"{config.reduction_factor})",
            fix="choose phm_dim and reduction_factor so that both sizes divide by phm_dim",
        )


def _new_adapter(config: BottleneckConfig, hidden: int, like: torch.Tensor,
                 rule: nn.Parameter | None) -> BottleneckAdapter:
    """One adapter for a site of width `hidden`, on the device and in the dtype of `like`."""
    size = config.bottleneck(hidden)
    if rule is not None:
        down = PHMLinear(hidden, size, rule, config.phm_rank)
        up = PHMLinear(size, hidden, rule, config.phm_rank, zero=True)
    else:  # down keeps nn.Linear's default init: with up = 0 only its scale matters
        down = nn.Linear(hidden, size, device=like.device, dtype=like.dtype)
        up = nn.Linear(size, hidden, device=like.device, dtype=like.dtype)
        nn.init.zeros_(up.weight)
        nn.init.zeros_(up.bias)
    return BottleneckAdapter(down, up, config.non_linearity)


def _slot_of(site: nn.Module) -> AdapterSlot:
    """The site's slot, created (with its hook) on first use. A slot is never removed: empty, it is
    a no-op with no parameters, and keeping it means the hook is registered exactly once."""
    slot = getattr(site, SLOT, None)
    if slot is None:
        slot = AdapterSlot()
        setattr(site, SLOT, slot)  # registers it as a child: its parameters join the backbone's
        site.register_forward_hook(_run_active_adapter)
    return slot


def _slots(backbone: nn.Module) -> list[AdapterSlot]:
    return [m for m in backbone.modules() if isinstance(m, AdapterSlot)]


def _check_name(name: str, existing: list[str], *, present: bool) -> None:
    """`present`: the adapter must exist (else: must be new, and usable as a ModuleDict key)."""
    if present and name not in existing:
        raise ConfigError(f"no adapter named {name!r} on this backbone.",
                          expected="one of: " + (", ".join(map(repr, existing)) or "(none added yet)"),
                          found=repr(name), fix="add it first with add_bottleneck_adapters")
    if not present and name in existing:
        raise ConfigError(f"an adapter named {name!r} exists already.", expected="a new name",
                          found=repr(name), fix="pick another name, or delete_adapter it first")
    if not present and (not isinstance(name, str) or not name or "." in name or name in _RESERVED):
        raise ConfigError("invalid adapter name.", expected="a non-empty string without '.', not a "
                          "torch Module attribute (such as 'train' or 'active')", found=repr(name),
                          fix="pick another name, e.g. the task's name")


# ---- public API -------------------------------------------------------------------------------------------
def add_bottleneck_adapters(backbone: nn.Module, anatomy: Anatomy, config: BottleneckConfig,
                            name: str = "default") -> int:
    """Add adapter `name` at every site the config selects and make it the active one.

    Everything is checked before anything is added, so a ConfigError leaves the backbone as it was.

    Returns:
        the number of parameters added (Compacter's shared rule counted once).
    """
    _check_name(name, adapter_names(backbone), present=False)
    sites = _sites(backbone, anatomy, config)
    widths = [_out_features(site) for site in sites]
    rule = None
    if config.kind == "compacter":
        for hidden in sorted(set(widths)):
            _check_phm_sizes(config, hidden)
        n, like = config.phm_dim, sites[0].weight
        rule = nn.Parameter(torch.randn(n, n, n, device=like.device, dtype=like.dtype) / math.sqrt(n))
    added: dict[int, nn.Parameter] = {}
    for site, hidden in zip(sites, widths, strict=True):
        adapter = _new_adapter(config, hidden, site.weight, rule)
        _slot_of(site)[name] = adapter
        added.update((id(p), p) for p in adapter.parameters())
    set_active_adapter(backbone, name)
    return sum(p.numel() for p in added.values())


def set_active_adapter(backbone: nn.Module, name: str | None) -> None:
    """Run adapter `name` from now on (None: run the bare backbone). Adapters never run together."""
    if name is not None:
        _check_name(name, adapter_names(backbone), present=True)
    for slot in _slots(backbone):
        slot.active = name


def active_adapter(backbone: nn.Module) -> str | None:
    slots = _slots(backbone)
    return slots[0].active if slots else None


def delete_adapter(backbone: nn.Module, name: str) -> None:
    """Remove adapter `name` and its parameters; if it was active, no adapter is active afterwards."""
    _check_name(name, adapter_names(backbone), present=True)
    for slot in _slots(backbone):
        if name in slot:
            del slot[name]
        if slot.active == name:
            slot.active = None


def adapter_names(backbone: nn.Module) -> list[str]:
    """Names of the adapters on the backbone, in the order they were added."""
    return list(dict.fromkeys(name for slot in _slots(backbone) for name in slot))


def belongs_to_adapter(param_name: str, name: str) -> bool:
    """Whether a (possibly prefixed, e.g. "backbone.") parameter name belongs to adapter `name`."""
    return f".{SLOT}.{name}." in f".{param_name}"


def adapter_parameters(backbone: nn.Module, name: str) -> dict[str, nn.Parameter]:
    """Adapter `name`'s parameters by name, each once (a shared Compacter rule under its first name). Names
    leave out peft's ".base_layer" (a site wrapped by a LoRA on the same backbone), so saved weights load
    with or without a LoRA beside them."""
    _check_name(name, adapter_names(backbone), present=True)
    return {key.replace(".base_layer.", "."): p for key, p in backbone.named_parameters()
            if belongs_to_adapter(key, name)}


def adapter_state_dict(backbone: nn.Module, name: str = "default") -> dict[str, torch.Tensor]:
    """Adapter `name`'s tensors only, as contiguous CPU copies: ready for safetensors' `save_file`."""
    return {key: p.detach().to("cpu", copy=True).contiguous()
            for key, p in adapter_parameters(backbone, name).items()}


def load_adapter_state_dict(backbone: nn.Module, anatomy: Anatomy, config: BottleneckConfig,
                            state: dict[str, torch.Tensor], name: str = "default") -> None:
    """Load what `adapter_state_dict` returned, strictly, and activate the adapter.

    The adapter is added first (with `config`) when the backbone lacks it; if the state does not fit,
    an adapter added here is removed again before the ConfigError is raised.
    """
    added = name not in adapter_names(backbone)
    if added:
        add_bottleneck_adapters(backbone, anatomy, config, name)
    targets = adapter_parameters(backbone, name)
    try:
        _check_state(targets, state, name)
    except ConfigError:
        if added:
            delete_adapter(backbone, name)
        raise
    with torch.no_grad():  # in place: a shared Compacter rule stays shared
        for key, p in targets.items():
            p.copy_(state[key])
    set_active_adapter(backbone, name)


def _check_state(targets: dict[str, nn.Parameter], state: dict[str, torch.Tensor], name: str) -> None:
    missing, unexpected = sorted(set(targets) - set(state)), sorted(set(state) - set(targets))
    wrong = [f"{k}: expected shape {tuple(targets[k].shape)}, found {tuple(state[k].shape)}"
             for k in sorted(set(targets) & set(state)) if state[k].shape != targets[k].shape]
    if missing or unexpected or wrong:
        raise ConfigError(
            f"the saved weights do not fit adapter {name!r}.",
            expected=f"{len(targets)} tensors with the keys and shapes of this backbone's adapter",
            found="; ".join(filter(None, [
                f"missing {len(missing)}: {', '.join(missing[:3])}" if missing else "",
                f"unexpected {len(unexpected)}: {', '.join(unexpected[:3])}" if unexpected else "",
                f"{len(wrong)} of another shape: {', '.join(wrong[:3])}" if wrong else "",
            ])),
            fix="load with the BottleneckConfig and the backbone family the adapter was saved with",
        )
