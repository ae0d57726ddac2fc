"""Training: one readable loop plus the pure helpers it calls."""

from __future__ import annotations

from headstart.training.batching import BucketBatchSampler, Examples, collate, tokenize
from headstart.training.cache import build_cache, cache_depth, pooled_features
from headstart.training.early_stop import EarlyStopper
from headstart.training.groups import group_lrs
from headstart.training.loop import FitResult, fit, predict_logits, probabilities
from headstart.training.schedule import lr_multiplier

__all__ = [
    "BucketBatchSampler", "Examples", "collate", "tokenize", "build_cache", "cache_depth", "pooled_features",
    "EarlyStopper", "group_lrs", "FitResult", "fit", "predict_logits", "probabilities", "lr_multiplier",
]
