"""The model card of an exported run (README.md, through huggingface_hub's ModelCard): what it does, its labels,
the data it saw, how it was trained, its scores beside the baselines, how to load it, and its limits. Every
figure comes from the run's own metrics.json and config.json; a model folder without them says so."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

__all__ = ["write_card"]

LOADERS = {
    "text-classification": 'pipeline("text-classification", model="{repo}", trust_remote_code=True)(text, top_k=None)',
    "token-classification": 'pipeline("token-classification", model="{repo}", trust_remote_code=True, '
                            'aggregation_strategy="first")(text)',
    "question-answering": 'AutoModelForQuestionAnswering.from_pretrained("{repo}", trust_remote_code=True)',
}


def _hub_id(backbone: str) -> str | None:
    """The hub id of the backbone, for the card's `base_model`: a registered name's id, or a hub id as given;
    None for a local folder."""
    from headstart.backbones.registry import REGISTRY

    if backbone in REGISTRY:
        return REGISTRY[backbone].hub_id
    return backbone if backbone.count("/") == 1 and not Path(backbone).exists() else None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _scalars(scores: dict | None) -> dict[str, float]:
    return {k: float(v) for k, v in (scores or {}).items() if isinstance(v, int | float) and k != "n"}


def _score_table(metrics: dict) -> list[str]:
    split = "test" if metrics.get("test") else "dev"
    ours = _scalars(metrics.get(split))
    if not ours:
        return ["No scores were recorded with this model (it was saved outside `headstart train`)."]
    names = list(ours)
    rows = [f"Scores on the {split} split ({(metrics.get(split) or {}).get('n', '?')} rows"
            + (", held out from training" if split == "test" else ", the first fit's held-out rows") + "):", "",
            "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
            "| this model | " + " | ".join(f"{ours[n]:.4f}" for n in names) + " |"]
    for name, scores in (metrics.get("baselines") or {}).items():
        values = _scalars(scores)
        rows.append(f"| baseline: {name} | " + " | ".join(f"{values[n]:.4f}" if n in values else "" for n in names) + " |")
    return rows


def write_card(folder: Path, run: Path, *, task: str, pipeline_tag: str, labels: list[str], meta_strategy: dict,
               backbone: str, max_length: int, repo: str | None = None, peft_class: str | None = None) -> Path:
    """The model card of an export. `peft_class`: the folder is a peft adapter (headstart.export.peft_format)
    that this AutoPeftModel class loads, its base in `base/`."""
    metrics, config = _read(run / "metrics.json"), _read(run / "config.json")
    data = config.get("data") or {}
    files = {k: Path(v).name for k, v in data.items() if k in ("train", "dev", "test") and v}
    strategy = meta_strategy.get("strategy", "?")
    train = meta_strategy.get("train") or {}
    settings = {**(meta_strategy.get("options") or {}),
                **{k: train[k] for k in ("epochs", "lr", "batch_size", "max_length") if train.get(k) is not None}}
    hub_id = _hub_id(backbone)
    card_data = ModelCardData(library_name="peft" if peft_class else "transformers", pipeline_tag=pipeline_tag, tags=["headstart", strategy, task],
                              base_model=hub_id)
    where = repo or str(folder)
    lines = [f"# {task} model trained with headstart ({strategy})", "",
             f"A `{strategy}` adaptation of `{hub_id or backbone}` for {task}, trained with "
             "[headstart](https://pypi.org/project/headstart/).", "",
             "## Use", "", "```python",
             *([f"from peft import {peft_class}", "", f'{peft_class}.from_pretrained("{where}", trust_remote_code=True)']
               if peft_class else ["from transformers import " + LOADERS[pipeline_tag].split("(")[0], "",
                                   LOADERS[pipeline_tag].format(repo=where)]), "```", "",
             "`trust_remote_code=True` runs `modeling_headstart.py` from this folder (about 100 lines, torch and "
             "transformers only): headstart pools the tokens by their mean (encoders) or takes the last one "
             "(decoders) and puts one linear head on top, which no stock architecture does.", "",
             "## Labels", "", ", ".join(f"`{label}`" for label in labels) if task != "qa" else "answer spans",
             "", "## Training", "",
             f"- strategy: `{strategy}`" + (f" ({', '.join(f'{k}={v}' for k, v in settings.items())})" if settings else ""),
             f"- backbone: `{backbone}`",
             f"- training rows: {metrics.get('n_train', 'not recorded')}" + (f" ({metrics['trained_on']})"
                                                                             if metrics.get("trained_on") else ""),
             f"- data files: {', '.join(f'{k} `{v}`' for k, v in files.items()) or 'not recorded'}",
             f"- training time: {metrics['train_seconds']} s" if "train_seconds" in metrics else "- training time: not recorded",
             "", "## Scores", "", *_score_table(metrics), "",
             "## Intended use and limits", "",
             "- Made for texts like its training data; on other kinds of text (another domain, language or length) "
             "measure it again before relying on it.",
             f"- Texts are cut to {max_length} tokens; pass "
             "`truncation=True` for longer ones.",
             "- The scores above come from small held-out splits: their uncertainty is several points at a few "
             "hundred rows.", ""]
    card = ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines))
    path = folder / "README.md"
    card.save(path)
    return path
