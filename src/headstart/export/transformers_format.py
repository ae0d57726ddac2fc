"""A run as a plain transformers folder: what `headstart export RUN --format transformers` writes.

    OUT/
      config.json             the backbone's own config + id2label / label2id, problem_type, `auto_map`
                              (the Auto class of the task -> modeling_headstart.py) and `headstart`
                              (backbone class, pooling rule, task, max length, strategy)
      model.safetensors       every weight: the backbone with adapters merged in (`backbone.*`) + the head
                              (`classifier.*`)
      modeling_headstart.py   the model classes, importing only torch and transformers
      tokenizer files         with headstart's max length and right padding
      README.md               the model card (headstart.export.card)

Why a modeling file and not a stock architecture: headstart pools by the mean of the tokens (encoders) and
puts one linear head on top, which no stock `...ForSequenceClassification` does (BERT's reads [CLS] through
its pooler). A sentence-transformers folder would keep the pooling but `pipeline(...)`, peft and the NER / QA
pipelines do not read it; a modeling file with `auto_map` is how the hub ships any non-stock head, and it
works for every task and family with one file. Loading it needs `trust_remote_code=True`, which runs that
file: it is short and written here; headstart itself never loads a folder with remote code.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from headstart.errors import HeadstartError
from headstart.export import modeling_headstart
from headstart.export.card import write_card

__all__ = ["AUTO_CLASS", "Exported", "claim_folder", "export_transformers", "load_run", "merged_backbone", "model_folder",
           "plain_model", "write_plain"]

# task (headstart.json) -> (the Auto class that loads it, the class in modeling_headstart.py, pipeline tag)
AUTO_CLASS = {
    "classification": ("AutoModelForSequenceClassification", "HeadstartForSequenceClassification",
                       "text-classification"),
    "pairs": ("AutoModelForSequenceClassification", "HeadstartForSequenceClassification", "text-classification"),
    "ner": ("AutoModelForTokenClassification", "HeadstartForTokenClassification", "token-classification"),
    "qa": ("AutoModelForQuestionAnswering", "HeadstartForQuestionAnswering", "question-answering"),
}
MODELING_FILE = "modeling_headstart.py"


@dataclass
class Exported:
    folder: Path
    task: str
    pipeline_tag: str
    auto_class: str
    size_mb: float


def model_folder(run: str | Path) -> Path:
    """The model folder of a run (RUN/model) or the model folder itself; a clear error for anything else."""
    from headstart.persist import model_dir

    run = Path(run)
    if (folder := model_dir(run)) is not None:
        return folder
    if (run / "ensemble.json").exists():
        found = "an ensemble folder written by `headstart compare`"
        fix = "export one of its members (the folders ensemble.json lists)"
    elif (run / "fewshot.json").exists() or (run / "model" / "fewshot.json").exists():
        found = "a few-shot run: its encoder is a sentence-transformers folder already"
        fix = "load RUN/model/encoder with sentence-transformers"
    else:
        found = "no headstart.json" if run.exists() else "no such folder"
        fix = "pass the --out folder of `headstart train`"
    raise HeadstartError(f"{run} is not a run headstart can export.", expected="a run folder with model/headstart.json",
                         found=found, fix=fix)


def merged_backbone(model, meta) -> torch.nn.Module:
    """The backbone with the run's adapter folded into its weights, as a stock transformers model."""
    if not meta.adapter:
        return model.backbone
    from headstart.adapters.store import KINDS, CannotMerge

    try:
        return KINDS[meta.adapter].merged(model)
    except CannotMerge as exc:
        raise _cannot_merge(meta, str(exc)) from None


def _cannot_merge(meta, why: str) -> HeadstartError:
    strategy = meta.strategy.get("strategy", meta.adapter)
    return HeadstartError(f"a {strategy!r} run cannot be written as a plain transformers model: {why}.",
                          expected="a run of features, head, top-n, full, lora, ia3 or bitfit",
                          found=f"strategy {strategy!r}",
                          fix="use `headstart export RUN --format onnx` (the graph keeps the adapters), or "
                          "serve the run with `headstart serve RUN`")


def load_run(run: str | Path):
    """(its model folder, model, tokenizer, meta) of a run an export can write; a clear error otherwise."""
    from headstart.persist import load_model

    source = model_folder(run)
    model, tokenizer, meta = load_model(source)
    if meta.task not in AUTO_CLASS:
        raise HeadstartError(f"a {meta.task!r} run has no plain transformers export here.",
                             expected="a classification, pairs, NER or QA run", found=f"task {meta.task!r}",
                             fix="generation runs: load the model folder with transformers / peft directly")
    return source, model, tokenizer, meta


def export_transformers(run: str | Path, out: str | Path, *, overwrite: bool = False) -> Exported:
    from headstart.persist import atomic_folder

    source, model, tokenizer, meta = load_run(run)
    auto_class, _, tag = AUTO_CLASS[meta.task]
    exported, tokenizer = plain_model(model, tokenizer, meta, merged_backbone(model, meta))
    out = claim_folder(Path(out), overwrite, MODELING_FILE)
    with atomic_folder(out) as tmp:  # an earlier export is replaced only by a complete one
        write_plain(tmp, exported, tokenizer, auto_class)
        write_card(tmp, source.parent if source.name == "model" else source, task=meta.task, pipeline_tag=tag,
                   labels=meta.labels, meta_strategy=meta.strategy, backbone=meta.backbone_name,
                   max_length=meta.max_length)
    size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    return Exported(out, meta.task, tag, auto_class, round(size, 1))


def plain_model(model, tokenizer, meta, backbone) -> tuple[torch.nn.Module, object]:
    """The run as modeling_headstart's model of its task (`backbone` + the run's head; its config carries the
    labels, the pooling and an `auto_map`) and the tokenizer the pipelines need, in eval mode."""
    auto_class, class_name, _ = AUTO_CLASS[meta.task]
    config = copy.deepcopy(backbone.config)
    if meta.task != "qa":
        config.id2label = dict(enumerate(meta.labels))
        config.label2id = {label: i for i, label in enumerate(meta.labels)}
    if meta.task in ("classification", "pairs"):
        config.problem_type = "multi_label_classification" if meta.multilabel else "single_label_classification"
    config.auto_map = {auto_class: f"modeling_headstart.{class_name}"}
    config.architectures = [class_name]
    config.headstart = {"backbone_class": type(backbone).__name__, "pooling": model.anatomy.pooling,
                        "task": meta.task, "max_length": meta.max_length, "strategy": meta.strategy,
                        "backbone": meta.backbone_name}
    exported = getattr(modeling_headstart, class_name)(config)
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state["classifier.weight"], state["classifier.bias"] = model.head.weight, model.head.bias
    missing, unexpected = exported.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        raise RuntimeError(f"export does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    exported.eval()
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.model_max_length = meta.max_length
    tokenizer.padding_side = "right"  # the "last" pooling reads the last real token of a right-padded row
    if getattr(config, "type_vocab_size", 0) >= 2 and "token_type_ids" not in tokenizer.model_input_names:
        # headstart feeds segment ids (pairs, QA) to models that have them: so must the pipeline's tokenizer
        tokenizer.model_input_names = [*tokenizer.model_input_names, "token_type_ids"]
        tokenizer.init_kwargs["model_input_names"] = tokenizer.model_input_names  # what save_pretrained writes
    return exported, tokenizer


def write_plain(folder: Path, exported, tokenizer, auto_class: str) -> None:
    """Save what `plain_model` built, with the modeling file beside it."""
    exported.save_pretrained(folder)
    shutil.copyfile(modeling_headstart.__file__, folder / MODELING_FILE)
    tokenizer.save_pretrained(folder)
    _check_config(folder, auto_class)


def claim_folder(out: Path, overwrite: bool, marker: str) -> Path:
    """`out`, if it may be written: new or empty, or an earlier export (it has `marker`) with `overwrite`. A folder
    holding anything else is never touched. Nothing is removed here: the export is written beside it and
    renamed into place once complete (`persist.atomic_folder`)."""
    if out.exists() and any(out.iterdir()):
        ours = (out / marker).exists()
        if not (overwrite and ours):
            names = ", ".join(sorted(p.name for p in out.iterdir())[:6])
            raise HeadstartError(f"{out} is not empty.", expected="a new or empty folder, or an earlier export "
                                 "with --overwrite", found=names,
                                 fix="pick another --out" + ("" if ours else " (only an earlier export is replaced)"))
    return out


def _check_config(out: Path, auto_class: str) -> None:
    config = json.loads((out / "config.json").read_text())
    if auto_class not in config.get("auto_map", {}):  # save_pretrained must have kept what loading needs
        raise RuntimeError(f"config.json lost its auto_map: {config.get('auto_map')}")
