"""headstart: adapt a pretrained language model to your text task, with the best practices built in.

    from headstart import HeadstartClassifier
    clf = HeadstartClassifier(strategy="top-n").fit(df)        # DataFrame with text, label columns
    clf.predict(["WINNER!! Claim your free prize now"])

    HeadstartTagger().fit("wnut17/train.txt")                   # named entities (CoNLL / JSONL)
    HeadstartQA().fit("squad/train.json")                       # extractive question answering
    headstart.load("runs/spam")                                 # any saved model, by its task
    headstart.load("runs/compare/ensemble")                     # compare's ensemble of its best candidates
"""

from __future__ import annotations

from headstart.backbones import list_backbones, load_backbone
from headstart.choice.compare import compare
from headstart.choice.recommend import recommend
from headstart.config import TrainConfig
from headstart.data import load_task, read_split
from headstart.ensemble import EnsembleClassifier
from headstart.errors import BackboneError, ConfigError, DataError, HeadstartError
from headstart.multi import MultiAdapterClassifier
from headstart.runs import evaluate_run, train_run
from headstart.strategies import STRATEGIES, make_strategy
from headstart.tasks.classification.estimator import HeadstartClassifier
from headstart.tasks.extractive_qa.estimator import HeadstartQA
from headstart.tasks.registry import load
from headstart.tasks.tagging.estimator import HeadstartTagger

__version__ = "0.2.0"
__all__ = [
    "HeadstartClassifier", "HeadstartTagger", "HeadstartQA", "load", "TrainConfig", "load_task", "read_split", "load_backbone", "list_backbones",
    "recommend", "train_run", "evaluate_run", "compare", "EnsembleClassifier", "MultiAdapterClassifier", "STRATEGIES", "make_strategy",
    "HeadstartError", "DataError", "ConfigError", "BackboneError", "__version__",
]
