"""The classifier every strategy produces: a pretrained backbone, a pooling rule, a new linear head.

Also the two things that read the anatomy table at run time: the ordered layer groups (what freezing,
discriminative learning rates and unfreezing act on) and the frozen-prefix forward (run only the
blocks above a cached depth).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from headstart.backbones import Anatomy, blocks_of, get_module

__all__ = ["LayerGroup", "TransformerClassifier", "pool", "is_adapter_parameter"]

# Parameter-name markers of added adapter weights: peft's LoRA / IA3 / prompt encoders, headstart's own
# bottleneck adapters. Everything else in the backbone is a pretrained weight.
ADAPTER_MARKERS = ("lora_", "ia3_", "prompt_encoder", "adapter")


def is_adapter_parameter(name: str) -> bool:
    return any(marker in name for marker in ADAPTER_MARKERS)


@dataclass
class LayerGroup:
    """A named, ordered slice of the model (bottom first): "embeddings", "block_0".., "head"."""

    name: str
    modules: list[nn.Module]

    def parameters(self) -> list[nn.Parameter]:
        """Each parameter once, even when two listed modules share (tie) a weight."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """(name relative to its module, parameter), each parameter once."""
        unique = {id(p): (name, p) for m in self.modules for name, p in m.named_parameters()}
        return list(unique.values())


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """(batch, seq, hidden) -> (batch, hidden), ignoring padding.

    "mean": average of non-padding tokens (what sentence encoders are trained for).
    "last": the last non-padding token (decoders see the whole text only there); assumes right padding.
    """
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)  # (b, s, 1)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    last = mask.long().sum(1).clamp(min=1) - 1  # (b,) index of the last real token
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]


class _CachedInput(nn.Module):
    """Stands in for an embedding module: returns the cached hidden states set just before the call."""

    def __init__(self) -> None:
        super().__init__()
        self.value: torch.Tensor | None = None

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.value


class _Zero(nn.Module):
    def forward(self, *args, **kwargs) -> torch.Tensor:
        return torch.zeros(())  # broadcasts: `embeds + position_embeds` becomes `embeds`


class _Identity(nn.Module):
    def forward(self, x, *args, **kwargs):
        return x


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(get_module(root, parent) if parent else root, leaf, module)


class TransformerClassifier(nn.Module):
    """Backbone + pooling + dropout + linear head. Outputs logits (batch, n_labels), or with
    `per_token=True` (tagging, span extraction, masked LM) logits for every position (batch, seq, n_labels)."""

    def __init__(self, backbone: nn.Module, anatomy: Anatomy, n_labels: int, dropout: float = 0.1, *,
                 per_token: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.anatomy = anatomy
        self.per_token = per_token
        hidden = int(getattr(backbone.config, "hidden_size", None) or getattr(backbone.config, "d_model", None)
                     or backbone.config.dim)
        self.hidden_size, self._n_outputs = hidden, n_labels
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_labels)
        # fresh head, small weights: the pretrained features should dominate the first steps
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        # a peft wrapper around `backbone` (set by `attach_peft`); not a submodule: the classifier owns
        # the backbone's parameters already, and the prompt encoder is registered on its own
        object.__setattr__(self, "peft", None)

    def attach_peft(self, wrapper) -> None:
        """Route the backbone through a peft wrapper (prompt / prefix tuning need it for the forward;
        LoRA / IA3 live inside the backbone's modules and need it only for save / switch / merge)."""
        object.__setattr__(self, "peft", wrapper)
        if self.prompt_learning:
            self.prompt_encoder = wrapper.prompt_encoder
        elif "prompt_encoder" in self._modules:
            del self._modules["prompt_encoder"]

    @property
    def n_outputs(self) -> int:
        """Logits per example (or per token): the head's width (a swapped-in head, e.g. by
        MultiAdapterClassifier, counts), or the size given at construction for a non-linear head."""
        return self.head.out_features if isinstance(self.head, nn.Linear) else self._n_outputs

    @property
    def prompt_learning(self) -> bool:
        return self.peft is not None and self.peft.peft_config[self.peft.active_adapter].is_prompt_learning

    # ---- structure -------------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return len(blocks_of(self.backbone, self.anatomy))

    def layer_groups(self) -> list[LayerGroup]:
        """Ordered bottom -> top. The final norm travels with the top block; unused modules are left out."""
        a = self.anatomy
        groups = [LayerGroup("prompt", [self.prompt_encoder])] if self.prompt_learning else []
        groups.append(LayerGroup("embeddings", [get_module(self.backbone, p) for p in a.embeddings]))
        blocks = blocks_of(self.backbone, a)
        for i, block in enumerate(blocks):
            modules = [block]
            if i == len(blocks) - 1:
                modules += [get_module(self.backbone, p) for p in a.final]
            groups.append(LayerGroup(f"block_{i}", modules))
        groups.append(LayerGroup("head", [self.head]))
        return groups

    # ---- forward ---------------------------------------------------------------------------
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """What the head reads: the pooled text (batch, hidden), or every token (batch, seq, hidden)."""
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        if self.prompt_learning:
            out = self.peft(input_ids=input_ids, attention_mask=attention_mask, **extra)
            hidden = out.last_hidden_state[:, -input_ids.size(1):]  # prompt tuning prepends virtual tokens
        else:
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return self._reduce(hidden, attention_mask)

    def _reduce(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return hidden if self.per_token else pool(hidden, mask, self.anatomy.pooling)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        prefix_hidden: torch.Tensor | None = None,
        prefix_depth: int = 0,
        pooled: torch.Tensor | None = None,
        select: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits from token ids, or from cached activations.

        Args:
            input_ids, attention_mask: (batch, seq) token ids and 1/0 padding mask.
            prefix_hidden: (batch, seq, hidden) cached input of block `prefix_depth`; the blocks
                below it are not run. For a per-token model with prefix_depth == n_blocks: the cached
                last hidden states (only the head runs).
            pooled: (batch, hidden) cached pooled output; only the head runs.
            select: (batch, seq) bool, per-token models only: run the head on these positions alone and
                return (n_selected, n_labels) (the masked-LM head over a 30k vocabulary costs about as much as
                all the blocks; only the masked positions need it).
            token_type_ids: (batch, seq) segment ids, for models that take them (BERT: question / context);
                a cached prefix already holds their effect.
        """
        features = pooled
        if features is None:
            if prefix_hidden is not None and self.per_token and prefix_depth >= self.n_blocks:
                features = prefix_hidden
            elif prefix_hidden is not None:
                features = self._encode_from(prefix_hidden, attention_mask, prefix_depth)
            else:
                features = self.encode(input_ids, attention_mask, token_type_ids)
        if select is not None:
            features = features[select]
        return self.head(self.dropout(features))

    def _encode_from(self, hidden: torch.Tensor, mask: torch.Tensor, depth: int) -> torch.Tensor:
        dummy_ids = torch.zeros(mask.shape, dtype=torch.long, device=mask.device)
        with self._prefix_removed(depth) as source:
            source.value = hidden
            out = self.backbone(input_ids=dummy_ids, attention_mask=mask)
            source.value = None
        return self._reduce(out.last_hidden_state, mask)

    @contextlib.contextmanager
    def _prefix_removed(self, depth: int):
        """Temporarily run the backbone from block `depth` up, fed by a cache.

        The backbone itself still builds the attention masks and position information, so this works
        for every family the anatomy table marks cacheable, without re-implementing their forwards.
        """
        if not self.anatomy.cacheable:
            raise ValueError(f"family {self.anatomy.family!r} has no prefix cache")
        blocks = blocks_of(self.backbone, self.anatomy)
        source = _CachedInput()
        saved = {p: get_module(self.backbone, p) for p in self.anatomy.prefix_substitutes}
        stand_ins = {"cache": lambda: source, "zero": _Zero, "identity": _Identity}
        full_list = list(blocks)  # restored in `finally`, even if the forward raises
        try:
            for path, how in self.anatomy.prefix_substitutes.items():
                _set_module(self.backbone, path, stand_ins[how]())
            # slicing a ModuleList in place keeps the parent's reference valid
            del blocks[:depth]
            yield source
        finally:
            for path, module in saved.items():
                _set_module(self.backbone, path, module)
            while len(blocks):
                del blocks[0]
            blocks.extend(full_list)
