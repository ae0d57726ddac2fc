"""SetFit-style few-shot classification: contrastive fine-tuning of a sentence encoder on pairs sampled
linearly in the data size, then a logistic-regression head, with early stopping over both phases."""

from headstart.fewshot.config import FewShotConfig
from headstart.fewshot.estimator import FewShotClassifier
from headstart.fewshot.pairs import Pairs, epoch_rng, sample_pairs
from headstart.fewshot.store import few_shot_run

__all__ = ["FewShotClassifier", "FewShotConfig", "Pairs", "sample_pairs", "epoch_rng", "few_shot_run"]
