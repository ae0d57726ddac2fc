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

import importlib

__version__ = "0.2.0"

# name -> the module that defines it, imported on first use (PEP 562): `import headstart` stays instant,
# and `headstart --help` does not pay for torch and transformers
_EXPORTS = {
    "HeadstartClassifier": "headstart.tasks.classification.estimator",
    "HeadstartPairClassifier": "headstart.tasks.pairs.estimator",
    "HeadstartTagger": "headstart.tasks.tagging.estimator",
    "HeadstartQA": "headstart.tasks.extractive_qa.estimator",
    "load": "headstart.tasks.registry",
    "TrainConfig": "headstart.config",
    "load_task": "headstart.data", "read_split": "headstart.data",
    "load_backbone": "headstart.backbones", "list_backbones": "headstart.backbones",
    "recommend": "headstart.choice.recommend", "advise": "headstart.choice.advise",
    "compare": "headstart.choice.compare", "auto": "headstart.choice.auto",
    "train_run": "headstart.runs", "evaluate_run": "headstart.runs",
    "EnsembleClassifier": "headstart.ensemble", "MultiAdapterClassifier": "headstart.multi",
    "STRATEGIES": "headstart.strategies", "make_strategy": "headstart.strategies",
    "HeadstartError": "headstart.errors", "DataError": "headstart.errors", "ConfigError": "headstart.errors",
    "BackboneError": "headstart.errors",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'headstart' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
