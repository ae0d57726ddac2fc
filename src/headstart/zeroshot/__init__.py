"""Zero-shot and in-context few-shot classification: labels from their names, no training.

    from headstart.zeroshot import ZeroShotClassifier
    ZeroShotClassifier(["positive", "negative"]).predict(["a wonderful film"])            # encoder
    ZeroShotClassifier(["positive", "negative"], method="lm").predict(["a dull film"])   # decoder

Methods live in `SCORERS` (method -> scorer class); another module adds one with `register_scorer`.
A hosted chat model over the OpenAI-compatible API: `headstart.zeroshot.api.ApiZeroShot`.
"""

from __future__ import annotations

from headstart.zeroshot.api import ApiScorer
from headstart.zeroshot.base import SCORERS, Scorer, ScorerSpec, label_words, register_scorer
from headstart.zeroshot.classifier import ZeroShotClassifier
from headstart.zeroshot.embedding import EmbeddingScorer
from headstart.zeroshot.lm_scoring import LMScorer

__all__ = ["ZeroShotClassifier", "SCORERS", "Scorer", "ScorerSpec", "register_scorer", "label_words",
           "EmbeddingScorer", "LMScorer", "ApiScorer"]
