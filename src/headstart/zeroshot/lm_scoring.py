"""Zero- and few-shot classification with an instruct decoder: each label's likelihood as the answer.

For every text the prompt (see `prompts`) asks for the category, and each label is scored as the
continuation: log p(answer tokens | prompt), the sum over the label's words (and the end-of-answer token
when one label's words begin another's, see `prompts`). Nothing is generated or parsed. The label scores are
then normalised over the label set (a softmax), so the probabilities sum to 1.

Cost. transformers' `generate` and pipelines score one (prompt + label) sequence at a time, which is
C forward passes over the whole prompt per text; here the work is shared instead:
1) the prefix (chat header, instruction with the options, the in-context examples) is encoded once, in
   `fit`, and its key/value cache reused (expanded, not copied) for every text;
2) a batch of texts goes through in one forward pass: each row is a text (+ the suffix that opens the
   answer) followed by the labels' answers as a token tree (`AnswerTree`: a prefix shared by several
   answers is fed once), under a 4D mask; the text's last position gives every first answer token, and
   each tree node the token after it;
3) the language-model head (the vocabulary projection, a quarter of the model's cost per token) runs
   only on those positions.
This equals scoring each full (prompt + answer) sequence separately (tested against that brute force).

Calibration. A decoder favours some answers whatever the text (their prior, the prompt's wording, the
last in-context example). Contextual calibration (Zhao et al., 2021) estimates that bias as the mean label
distribution p_ref over reference inputs, and scores log p(label | x) - log p_ref(label). Zhao et al. use
content-free inputs ("N/A", "", "[MASK]"); we use the unlabelled texts given to `fit` (a seeded sample of
at most 256), the same centring as the embedding method, and fall back to content-free inputs only when
`calibrate=True` and no texts were given. Measured with SmolLM2-135M-Instruct, accuracy raw /
content-free / input-calibrated: SST-2 dev (100 rows) zero-shot 0.75 / 0.57 / 0.74, 1 example per class
0.52 / 0.62 / 0.63; Banking77 test (77 rows, one per class) zero-shot 0.013 / 0.195 / 0.221. So
calibration is on by default when `fit` sees texts (the CLI and the benchmark pass the texts to classify).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch

from headstart.errors import BackboneError, ConfigError
from headstart.zeroshot.answer_tree import AnswerTree
from headstart.zeroshot.base import ScorerSpec, label_words, register_scorer, softmax
from headstart.zeroshot.prompts import build_prompt, select_examples

__all__ = ["LMScorer", "CONTENT_FREE", "CALIBRATION_SAMPLE", "answer_logprobs"]

CONTENT_FREE = ("N/A", "", "[MASK]")  # Zhao et al. (2021), section 5
CALIBRATION_SAMPLE = 256  # texts from fit() whose mean label distribution is the bias
MAX_TEXT_TOKENS = 256


class LMScorer:
    """Label likelihoods under a decoder's prompt, with in-context examples when `spec.k` > 0.

    Args:
        spec: labels, descriptions (shown beside the options), `template` (the instruction, with
            "{labels}" for the options; default `prompts.DEFAULT_INSTRUCTION`), backbone (default
            "smollm2"), examples and k (k examples per class, drawn by `seed`), calibrate (None: on
            the texts given to `fit`, if any; True: also on content-free inputs without texts; False: off).
    """

    name = "lm"
    default_backbone = "smollm2"

    def __init__(self, spec: ScorerSpec) -> None:
        self.spec = spec

    def fit(self, texts: Sequence[str] | None = None) -> LMScorer:
        """Load the decoder, build the prompt and encode its shared prefix (texts are not used)."""
        spec = self.spec
        self.model_, self.tokenizer_, self.backbone_name_ = _load_decoder(spec.backbone or self.default_backbone)
        self.words_ = [label_words(label) for label in spec.labels]
        k = spec.k or 0
        if k and not spec.examples:
            raise ConfigError("few-shot needs labelled examples.", expected="examples=[(text, label), ...]",
                              found=f"k={k} and no examples", fix="pass examples, or k=0 for zero-shot")
        shots = select_examples(spec.examples, spec.labels, k, spec.seed) if k else []
        self.shots_ = shots
        word = dict(zip(spec.labels, self.words_, strict=True))
        self.prompt_ = build_prompt(self.tokenizer_, self.words_, [spec.descriptions.get(lb) for lb in spec.labels],
                                    spec.template, [(text, word[label]) for text, label in shots])
        self._check_length()
        self.tree_ = AnswerTree.build(self.prompt_.answers)
        self.prefix_cache_ = self._encode_prefix()
        self.bias_, self.calibrated_on_ = None, "off" if spec.calibrate is False else "none"
        reference = self._reference(texts)
        self.seen_ = {}
        if reference:
            logp = self.label_logprobs(reference)
            self.seen_ = dict(zip(reference, logp, strict=True))  # predict_proba reuses these rows
            self.bias_ = np.log(softmax(logp).mean(axis=0))  # mean distribution over the label set
            self.calibrated_on_ = (f"{len(reference)} unlabelled texts" if texts else "content-free inputs")
        return self

    def _reference(self, texts: Sequence[str] | None) -> list[str]:
        if self.spec.calibrate is False:
            return []
        if texts:
            texts = list(texts)
            if len(texts) > CALIBRATION_SAMPLE:
                texts = random.Random(self.spec.seed).sample(texts, CALIBRATION_SAMPLE)
            return texts
        return list(CONTENT_FREE) if self.spec.calibrate else []

    def label_logprobs(self, texts: Sequence[str]) -> np.ndarray:
        """log p(answer | prompt with the text) for each text and label, shape (n_texts, n_labels)."""
        ids = [self._text_ids(t) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch: less padding
        out = np.empty((len(ids), len(self.spec.labels)))
        size = self.spec.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                out[chunk] = self._score_batch([ids[i] for i in chunk])
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self.seen_))
        fresh = dict(zip(new, self.label_logprobs(new), strict=True)) if new else {}
        logp = np.stack([self.seen_[t] if t in self.seen_ else fresh[t] for t in texts])
        return softmax(logp if self.bias_ is None else logp - self.bias_[None, :])

    def describe(self) -> dict:
        return {"method": self.name, "backbone": self.backbone_name_, "chat_template": self.prompt_.chat,
                "shots": len(self.shots_), "calibrated_on": self.calibrated_on_,
                "prompt": self.prompt_.prefix_text + "{text}" + self.prompt_.suffix_text}

    # -- the three steps of the module docstring ---------------------------------------------------------
    def _encode_prefix(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        from transformers import DynamicCache

        cache = DynamicCache()
        with torch.inference_mode():
            self.model_.base_model(input_ids=torch.tensor([self.prompt_.prefix]), cache=cache, use_cache=True)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _score_batch(self, batch: list[list[int]]) -> np.ndarray:
        """Label log-probabilities of a batch of texts (token ids), shape (len(batch), n_labels)."""
        from transformers import DynamicCache

        tree, suffix, n_prefix = self.tree_, self.prompt_.suffix, len(self.prompt_.prefix)
        rows = [ids + suffix for ids in batch]
        lengths = [len(r) for r in rows]
        ids, positions, mask = tree.inputs(rows, n_prefix, pad=self.tokenizer_.pad_token_id or 0)
        b = len(rows)
        # the shared prefix's keys/values, viewed (not copied) once per row
        cache = DynamicCache([(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in self.prefix_cache_])
        additive = torch.zeros(mask.shape, dtype=self.model_.dtype).masked_fill_(~mask, torch.finfo(self.model_.dtype).min)
        hidden = self.model_.base_model(input_ids=ids, position_ids=positions, attention_mask=additive[:, None],
                                        cache=cache, use_cache=True).last_hidden_state  # (b, S, H)
        head = self.model_.get_output_embeddings()
        width = max(lengths)
        scores = np.empty((b, len(tree.answers)))
        for i, n in enumerate(lengths):
            # the text's last position predicts every first answer token; tree node q predicts the token after it
            states = torch.cat([hidden[i, n - 1 : n], hidden[i, width:]])  # (1 + N, H)
            logp = torch.log_softmax(head(states).float(), dim=-1)  # (1 + N, V)
            scores[i] = tree.answer_sums(logp).numpy()
        return scores

    def _text_ids(self, text: str) -> list[int]:
        ids = self.tokenizer_(self.prompt_.text_lead + text, add_special_tokens=False).input_ids
        return ids[: self.max_text_tokens_]

    def _check_length(self) -> None:
        """Texts are cut so that prompt + text + the longest answer fit the model's context."""
        config = self.model_.config
        limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 10**9
        fixed = len(self.prompt_.prefix) + len(self.prompt_.suffix) + max(map(len, self.prompt_.answers))
        self.max_text_tokens_ = min(MAX_TEXT_TOKENS, limit - fixed)
        if self.max_text_tokens_ < 8:
            raise ConfigError("the prompt leaves no room for the text in the model's context.",
                              expected=f"prompt + answer well under {limit} tokens",
                              found=f"{fixed} tokens ({len(self.shots_)} in-context examples)",
                              fix="use fewer examples per class (k), shorter descriptions, or a longer-context model")


def answer_logprobs(model, prompt_ids: list[int], answers: list[list[int]]) -> np.ndarray:
    """Reference scorer: each (prompt + answer) sequence in its own full forward pass, no cache.

    The slow, obviously-correct definition that `LMScorer` must match; used by the tests.
    """
    scores = []
    with torch.inference_mode():
        for answer in answers:
            ids = torch.tensor([prompt_ids + answer])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)  # (L, V)
            start = len(prompt_ids)
            scores.append(sum(float(logp[start - 1 + t, tok]) for t, tok in enumerate(answer)))
    return np.array(scores)


def _load_decoder(name: str):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from headstart.backbones.anatomy import anatomy_for
    from headstart.backbones.registry import resolve

    display, source = resolve(name)
    not_decoder = None
    try:
        config = AutoConfig.from_pretrained(source)
        try:
            kind = anatomy_for(config.model_type).kind
        except BackboneError:  # a family the anatomy table lacks: let transformers decide
            kind = None
        if kind is not None and kind != "decoder":
            # BERT & co. do load as "causal LMs" in transformers, with an untrained head: refuse them here
            not_decoder = f"an {kind} ({config.model_type})"
        else:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        unrecognized = "Unrecognized configuration class" in str(exc)
        not_decoder = ("a model without a causal-LM head" if unrecognized
                       else f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    if not_decoder is not None:
        raise BackboneError(
            f"cannot load {name!r} as a decoder (causal language model).",
            expected="a decoder such as smollm2, GPT-2 or a Llama-style model: a registered name, local folder "
            "or Hugging Face id",
            found=not_decoder,
            fix="use --method embedding for encoders like minilm, or --backbone smollm2",
        )
    model.eval()
    return model, tokenizer, display


register_scorer("lm", LMScorer)
