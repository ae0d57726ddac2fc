"""The "when to use what" table as data: the buckets a situation is described by, and the ordered rules
(the first that matches wins). `headstart.choice.recommend` reads it; `docs/strategies.md` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field

from headstart.strategies import OWN_COMMANDS, PLANNED, STRATEGIES

__all__ = ["BUILT_STRATEGIES", "COMPLEXITIES", "DATA_SIZES", "NOT_BUILT", "PRE_STEPS", "RULES", "Rule", "Situation"]

DATA_SIZES: tuple[str, ...] = ("none", "small", "medium", "large")
SMALL_MAX_ROWS = 5_000  # fewer labelled training rows than this is "small"
MEDIUM_MAX_ROWS = 50_000  # fewer than this is "medium"; this many or more is "large"
FEW_SHOT_MAX_ROWS_PER_CLASS = 20
NEAR_BOUNDARY = 0.2  # a count within 20% of a bucket edge could fall on the other side with other data
COMPLEXITIES: tuple[str, ...] = ("simple", "standard", "fine-grained", "domain-specific", "sequence")
SIMPLE_MAX_CLASSES = 5
SIMPLE_MAX_MEDIAN_WORDS = 64
FINE_GRAINED_MIN_CLASSES = 21  # more than 20 classes
BUILT_STRATEGIES: tuple[str, ...] = (*STRATEGIES, *OWN_COMMANDS)
NOT_BUILT: dict[str, str] = PLANNED | {
    "multimodal": "not planned",  # text + image models
}
# steps that run before a strategy (their rule's fallback is the strategy that trains afterwards)
PRE_STEPS: dict[str, str] = {"mlm-pretrain": "headstart pretrain CORPUS --out backbones/domain"}
_ANY: tuple[str, ...] = ()
_CPU = ("very-low", "low")
_GPU = ("medium", "high")


@dataclass(frozen=True)
class Situation:
    """The facts a rule is matched against (buckets, not raw numbers)."""

    data: str
    compute: str
    complexity: str
    rows_per_class: float = 0.0
    unlabelled_corpus: bool = False
    api_only: bool = False
    multimodal: bool = False


@dataclass(frozen=True)
class Rule:
    """One row of the table: conditions (an empty tuple or None means "any"), what to use, and why.

    `reason` may use {n_train}, {n_classes} and {rows_per_class}. `fallback` names the built strategy to run
    now for an unbuilt one; when None, the next matching rule with a built strategy decides.
    """

    name: str
    strategy: str
    reason: str
    config: dict = field(default_factory=dict)
    data: tuple[str, ...] = _ANY
    compute: tuple[str, ...] = _ANY
    complexity: tuple[str, ...] = _ANY
    max_rows_per_class: float | None = None
    unlabelled_corpus: bool | None = None
    api_only: bool | None = None
    multimodal: bool | None = None
    fallback: str | None = None
    alternatives: tuple[str, ...] = ()

    def matches(self, s: Situation) -> bool:
        flags = ((self.unlabelled_corpus, s.unlabelled_corpus), (self.api_only, s.api_only),
                 (self.multimodal, s.multimodal))
        return (
            all(want is None or want == have for want, have in flags)
            and (not self.data or s.data in self.data)
            and (not self.compute or s.compute in self.compute)
            and (not self.complexity or s.complexity in self.complexity)
            and (self.max_rows_per_class is None or s.rows_per_class < self.max_rows_per_class)
        )

    def when(self) -> str:
        """The condition in words, for docs: 'data=small; compute=low|very-low; ...'."""
        parts = [f"{k}={'|'.join(v)}" for k, v in
                 (("data", self.data), ("compute", self.compute), ("complexity", self.complexity)) if v]
        parts += [f"{k}={v}" for k, v in (("unlabelled_corpus", self.unlabelled_corpus),
                                          ("api_only", self.api_only), ("multimodal", self.multimodal))
                  if v is not None]
        if self.max_rows_per_class is not None:
            parts.append(f"rows_per_class<{self.max_rows_per_class:g}")
        return "; ".join(parts) or "always"


RULES: tuple[Rule, ...] = (
    Rule("text-and-image", "multimodal", "Inputs mix text and images; headstart adapts text models only. "
         "Train on the text alone, or use a vision-language model outside headstart.", multimodal=True),
    Rule("no-labels-api-only", "zero-shot", "No labelled rows and API-only use: classify with a hosted "
         "model from label names alone. Meanwhile, label ~20 rows per class and train "
         "'features' on them.", {"method": "api"}, data=("none",), api_only=True),
    Rule("no-labels", "zero-shot", "No labelled rows: only zero-shot classification from label names "
         "can work. Label ~20 rows per class, then train 'features'.", data=("none",),
         alternatives=("few-shot",)),
    Rule("api-only", "zero-shot", "API-only use was asked for; with {n_train:,} labelled rows, keep them "
         "as an evaluation set for the prompts.", {"method": "api"}, api_only=True),
    Rule("unlabelled-texts", "distill", "Few labels ({n_train:,} rows) beside many unlabelled texts of the task: "
         "train a larger encoder on the labelled rows as the teacher, then distil it into the small model on the "
         "labelled and unlabelled rows; the student keeps the small model's cost (measured: docs/distillation.md). "
         "In a specialised domain, masked-LM pretraining on the texts is the other way to use them.",
         data=("small",), complexity=("simple", "standard", "fine-grained", "sequence"), unlabelled_corpus=True),
    Rule("unlabelled-corpus", "mlm-pretrain", "An unlabelled in-domain corpus is available: continue "
         "masked-LM pretraining on it first (domain adaptation), then fine-tune.",
         data=("small", "medium", "large"), unlabelled_corpus=True),
    Rule("few-shot", "few-shot", "About {rows_per_class:.0f} rows per class: contrastive few-shot "
         "(SetFit-style) tunes the sentence encoder on pairs of rows; at this size its gain over a linear "
         "probe on frozen features depends on the data, so run 'features' beside it.", data=("small",),
         max_rows_per_class=FEW_SHOT_MAX_ROWS_PER_CLASS, alternatives=("features",)),
    Rule("small-very-low", "lora", "Small data on a very small machine: LoRA or BitFit train 2% of the weights or "
         "less, so memory stays low and {n_train:,} rows cannot overfit them much.",
         data=("small",), compute=("very-low",), alternatives=("bitfit",)),
    Rule("small-cpu-simple", "features", "Small data, a simple task and no GPU: embed once with the frozen "
         "model, fit logistic regression; strong and takes minutes.", {"classifier": "logreg"},
         data=("small",), compute=_CPU, complexity=("simple",), alternatives=("head",)),
    Rule("small-cpu", "head", "Small data, no GPU, a task that is not simple: train a classification head "
         "on the frozen encoder; cheap, and better than a linear probe on harder labels.",
         data=("small",), compute=_CPU, alternatives=("features", "top-n")),
    Rule("small-gpu-domain", "top-n", "Small data in a specialised domain with a GPU: the top blocks must "
         "adapt to the domain's vocabulary; 2 blocks + head is enough for {n_train:,} rows.",
         {"top_n": 2}, data=("small",), compute=_GPU, complexity=("domain-specific",),
         alternatives=("head", "lora")),
    Rule("small-gpu-simple", "features", "Small data and a simple task: a frozen embedding + logistic "
         "regression is hard to beat; the GPU makes embedding fast.", {"classifier": "logreg"},
         data=("small",), compute=_GPU, complexity=("simple",), alternatives=("head", "top-n")),
    Rule("small-gpu", "top-n", "Small data, a GPU, and a task that is not simple: tune the top 2 blocks and "
         "the head; more would overfit {n_train:,} rows.", {"top_n": 2}, data=("small",), compute=_GPU,
         alternatives=("head", "full")),
    Rule("cpu-cache", "top-n", "Medium or large data on CPU: cache the frozen prefix's activations once, "
         "then train only the top 2 blocks + head on the cache; the fast choice without a GPU.",
         {"top_n": 2, "prefix_cache": True}, data=("medium", "large"), compute=_CPU,
         alternatives=("features",)),
    Rule("medium-sequence", "top-n", "Medium data, one mid-size GPU, a task where word order and context "
         "decide: partial fine-tuning of the top 4 blocks captures it at a fraction of full cost.",
         {"top_n": 4}, data=("medium",), compute=("medium",), complexity=("sequence",),
         alternatives=("full",)),
    Rule("medium-gpu", "top-n", "Medium data on a GPU: the top blocks + head get most of the gain of full "
         "fine-tuning, faster and with less forgetting.", {"top_n": 4}, data=("medium",), compute=_GPU,
         alternatives=("full", "lora", "head")),
    Rule("large-high", "full", "Large data and a big GPU: {n_train:,} rows support fine-tuning every block "
         "(embeddings stay frozen).", data=("large",), compute=("high",), alternatives=("top-n",)),
    Rule("large-medium", "top-n", "Large data on a GPU under 24 GB: the top 4 blocks fit in memory and keep "
         "most of full fine-tuning's gain.", {"top_n": 4}, data=("large",), compute=("medium",),
         alternatives=("full", "lora", "adapter")),
    Rule("default", "features", "No specific rule fits: start with the frozen-embedding baseline.",
         {"classifier": "logreg"}),
)
