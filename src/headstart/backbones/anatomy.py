"""Where the parts of each model family sit: ONE table, read by freezing, learning-rate groups,
gradual unfreezing, the frozen-prefix cache and (later) adapter target modules.

Paths are dotted attribute paths inside the bare backbone (`AutoModel`, or `T5EncoderModel` for T5).
Adding a family = one row here plus a tiny-config case in tests/test_anatomy.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from headstart.errors import BackboneError

__all__ = ["Anatomy", "ANATOMY", "anatomy_for", "get_module", "blocks_of"]


@dataclass(frozen=True)
class Anatomy:
    """The layout of one model family.

    Attributes:
        family: the config's `model_type`.
        kind: "encoder", "decoder" or "encoder-decoder" (T5: the encoder is used for classification).
        embeddings: modules that run before the first block (frozen by default).
        blocks: path of the ordered ModuleList of transformer blocks, bottom first.
        final: modules after the last block (final layer norm); they train with the top block.
        unused: modules a classifier never calls (BERT's pooler): always frozen.
        pooling: "mean" over non-padding tokens (encoders) or "last" non-padding token (decoders).
        attention_targets: names of the attention projections, for LoRA-style adapters.
        prefix_substitutes: how the frozen-prefix cache stands in for the embeddings: each embedding
            module is replaced by "cache" (returns the cached block input), "zero" (adds nothing) or
            "identity". Empty when the family cannot be cached.
        adapter_sites: where bottleneck adapters go, relative to ONE block: the attention output
            projection, then the feed-forward output projection (each an nn.Linear, or GPT-2's Conv1D).
            Houlsby adapters use both, Pfeiffer and Compacter the second only; the adapter acts on the
            projection's output, before the residual add (and the layer norm of post-norm families).
            Empty: the family takes no bottleneck adapters.
        mlm_head: in the family's *ForMaskedLM model, the modules that turn hidden states into vocabulary
            logits, in order (what `headstart pretrain` trains on top of the backbone). Empty: no masked LM.
        decoder_blocks: encoder-decoders: the decoder's ModuleList of blocks in the seq2seq model (what
            generation trains above the encoder's `blocks`; absent from the encoder-only backbone).
    """

    family: str
    kind: str
    embeddings: tuple[str, ...]
    blocks: str
    final: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()
    pooling: str = "mean"
    attention_targets: tuple[str, ...] = ()
    prefix_substitutes: dict[str, str] = field(default_factory=dict)
    adapter_sites: tuple[str, ...] = ()
    mlm_head: tuple[str, ...] = ()
    decoder_blocks: str = ""

    @property
    def cacheable(self) -> bool:
        return bool(self.prefix_substitutes)


def _bert_like(family: str, targets: tuple[str, ...] = ("query", "value"), **kw) -> Anatomy:
    return Anatomy(
        family=family,
        kind="encoder",
        embeddings=kw.pop("embeddings", ("embeddings",)),
        blocks="encoder.layer",
        unused=kw.pop("unused", ("pooler",)),
        attention_targets=targets,
        prefix_substitutes=kw.pop("prefix_substitutes", {"embeddings": "cache"}),
        adapter_sites=kw.pop("adapter_sites", ("attention.output.dense", "output.dense")),
        mlm_head=kw.pop("mlm_head", ("lm_head",)),
        **kw,
    )


def _llama_like(family: str) -> Anatomy:
    return Anatomy(
        family=family,
        kind="decoder",
        embeddings=("embed_tokens",),
        blocks="layers",
        final=("norm",),
        pooling="last",
        attention_targets=("q_proj", "v_proj"),
        prefix_substitutes={"embed_tokens": "cache"},
        adapter_sites=("self_attn.o_proj", "mlp.down_proj"),
    )


ANATOMY: dict[str, Anatomy] = {
    "bert": _bert_like("bert", mlm_head=("cls",)),
    "roberta": _bert_like("roberta"),
    "xlm-roberta": _bert_like("xlm-roberta"),
    "camembert": _bert_like("camembert"),
    "electra": _bert_like(
        "electra",
        embeddings=("embeddings", "embeddings_project"),
        unused=(),  # ElectraModel has no pooler
        prefix_substitutes={"embeddings": "cache", "embeddings_project": "identity"},
        mlm_head=("generator_predictions", "generator_lm_head"),
    ),
    # MPNet's relative position bias is shared by every block and computed before the first: it belongs
    # with the embeddings (frozen with them), but the prefix cache need not stand in for it
    "mpnet": _bert_like("mpnet", targets=("q", "v"),
                        embeddings=("embeddings", "encoder.relative_attention_bias"),
                        adapter_sites=("attention.attn.o", "output.dense")),
    "distilbert": Anatomy(
        family="distilbert",
        kind="encoder",
        embeddings=("embeddings",),
        blocks="transformer.layer",
        attention_targets=("q_lin", "v_lin"),
        prefix_substitutes={"embeddings": "cache"},
        adapter_sites=("attention.out_lin", "ffn.lin2"),
        mlm_head=("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector"),
    ),
    "gpt2": Anatomy(
        family="gpt2",
        kind="decoder",
        embeddings=("wte", "wpe", "drop"),
        blocks="h",
        final=("ln_f",),
        pooling="last",
        attention_targets=("c_attn",),
        prefix_substitutes={"wte": "cache", "wpe": "zero", "drop": "identity"},
        adapter_sites=("attn.c_proj", "mlp.c_proj"),  # transformers' Conv1D, not nn.Linear
    ),
    "llama": _llama_like("llama"),
    "mistral": _llama_like("mistral"),
    "qwen2": _llama_like("qwen2"),
    # T5's encoder applies one dropout module both after the embeddings and after the final norm, so
    # the embeddings cannot be swapped out alone: no prefix cache for T5.
    "t5": Anatomy(
        family="t5",
        kind="encoder-decoder",
        embeddings=("shared",),  # encoder.embed_tokens is the same (tied) module
        blocks="encoder.block",
        final=("encoder.final_layer_norm",),
        attention_targets=("q", "v"),
        adapter_sites=("layer.0.SelfAttention.o", "layer.1.DenseReluDense.wo"),  # gated FFNs keep the name
        decoder_blocks="decoder.block",
    ),
}


def anatomy_for(model_type: str) -> Anatomy:
    """The anatomy row for a config's `model_type`, or a BackboneError naming the known families."""
    try:
        return ANATOMY[model_type]
    except KeyError:
        raise BackboneError(
            f"headstart does not know the layout of model family {model_type!r}.",
            expected="one of: " + ", ".join(sorted(ANATOMY)),
            found=repr(model_type),
            fix="add a row for it to ANATOMY in headstart/backbones/anatomy.py "
            "(embeddings, blocks, final norm, pooling, attention projections)",
        ) from None


def get_module(root: nn.Module, path: str) -> nn.Module:
    """`root.a.b.c` for path "a.b.c"."""
    module = root
    for part in path.split("."):
        module = getattr(module, part)
    return module


def blocks_of(model: nn.Module, anatomy: Anatomy) -> nn.ModuleList:
    """The ordered transformer blocks of a backbone, bottom first."""
    return get_module(model, anatomy.blocks)
