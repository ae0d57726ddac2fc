"""headstart's trained models as plain transformers models: this file is copied, as it is, into every folder
`headstart export --format transformers` writes, and `auto_map` in that folder's config.json points the
Auto classes here. It imports only torch and transformers (never headstart), so

    pipeline("text-classification", model=FOLDER, trust_remote_code=True)
    AutoModelForTokenClassification.from_pretrained(FOLDER, trust_remote_code=True)

work on a machine without headstart. The backbone is the stock transformers class named in
`config.headstart["backbone_class"]` (BertModel, GPT2Model, T5EncoderModel, ...), built from the same config;
what is headstart's own is small and written out here: the pooling rule (the mean of the non-padding
tokens for encoders, the last non-padding token for decoders) and one linear head.
"""

from __future__ import annotations

import inspect

import torch
import transformers
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import (
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """(batch, seq, hidden) -> (batch, hidden), ignoring padding (right padding for "last")."""
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    last = mask.long().sum(1).clamp(min=1) - 1
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]


class _HeadstartModel(PreTrainedModel):
    """The backbone (`self.backbone`, a stock transformers model) and one linear head (`self.classifier`)."""

    base_model_prefix = "backbone"
    n_outputs: int | None = None  # fixed by the task (QA: 2); else the number of labels
    # attention runs inside the backbone, which checks its own support for these
    _supports_sdpa = _supports_flash_attn = _supports_flex_attn = _supports_attention_backend = True

    def __init__(self, config) -> None:
        super().__init__(config)
        backbone_class = getattr(transformers, config.headstart["backbone_class"])
        self.backbone = backbone_class(config)
        hidden = int(getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.dim)
        self.classifier = nn.Linear(hidden, self.n_outputs or config.num_labels)
        self.post_init()

    def _init_weights(self, module) -> None:  # every weight comes from the saved file
        pass

    def _hidden(self, input_ids, attention_mask, token_type_ids):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # segment ids as headstart fed them: only to models with segment embeddings (BERT, ELECTRA)
        takes_segments = (getattr(self.config, "type_vocab_size", 0) >= 2
                          and "token_type_ids" in inspect.signature(self.backbone.forward).parameters)
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None and takes_segments else {}
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return out.last_hidden_state, attention_mask


class HeadstartForSequenceClassification(_HeadstartModel):
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        hidden, mask = self._hidden(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(pool(hidden, mask, self.config.headstart["pooling"]))
        loss = None
        if labels is not None:
            if self.config.problem_type == "multi_label_classification":
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
            else:
                loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class HeadstartForTokenClassification(_HeadstartModel):
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        hidden, _ = self._hidden(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(hidden)
        loss = None if labels is None else nn.functional.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits)


class HeadstartForQuestionAnswering(_HeadstartModel):
    n_outputs = 2  # a start and an end logit per token

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, start_positions=None,
                end_positions=None, **kwargs):
        hidden, _ = self._hidden(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(hidden)
        start, end = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = (nn.functional.cross_entropy(start, start_positions)
                    + nn.functional.cross_entropy(end, end_positions)) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)
