"""A LoRA / IA3 run as a peft adapter: what `headstart export RUN --format peft` writes.

    OUT/
      adapter_config.json, adapter_model.safetensors
                      the run's adapter, keyed for the model in base/, the trained head saved the way peft
                      saves one (`modules_to_save`, as `get_peft_model(..., task_type="SEQ_CLS")` does)
      tokenizer files, README.md (the model card)
      base/           the pretrained backbone under headstart's pooling and head, as a transformers folder
                      (headstart.export.transformers_format): the `base_model_name_or_path` of the adapter

It loads with `AutoPeftModelForSequenceClassification.from_pretrained(OUT, trust_remote_code=True)` (the token
classification class for NER runs; QA runs are refused: see PEFT_CLASS) and predicts what headstart predicts. Why a base folder and
not the backbone's own name: the stock `...ForSequenceClassification` of the backbone reads [CLS] through its
pooler, headstart pools by the mean, so the adapter's base must be the modeling file's model. peft reads
`base_model_name_or_path` from the working directory, not from the adapter's folder, so it is written as an
absolute path; a moved folder loads with `PeftModel.from_pretrained(AutoModelFor...(OUT/base), OUT)`.

Only the adapters that live in the backbone's weights (LoRA, IA3): a prompt or prefix adapter feeds virtual
tokens through `inputs_embeds`, which the modeling file's models do not take, and headstart's bottleneck and
BitFit adapters are not peft types (BitFit exports merged with `--format transformers`).
"""

from __future__ import annotations

import copy
from pathlib import Path

from headstart.errors import HeadstartError
from headstart.export.card import write_card
from headstart.export.transformers_format import (
    AUTO_CLASS,
    Exported,
    claim_folder,
    load_run,
    merged_backbone,
    plain_model,
    write_plain,
)

__all__ = ["PEFT_CLASS", "export_peft"]

# task -> (peft's task type, the AutoPeftModel class that loads it)
PEFT_CLASS = {"classification": ("SEQ_CLS", "AutoPeftModelForSequenceClassification"),
              "pairs": ("SEQ_CLS", "AutoPeftModelForSequenceClassification"),
              "ner": ("TOKEN_CLS", "AutoPeftModelForTokenClassification")}
# not QA: peft's PeftModelForQuestionAnswering (0.21) takes token_type_ids and does not pass them on, so a
# QA adapter on a backbone with segments would answer differently from the run (tests/test_export_peft.py)
BASE = "base"
HEAD = "classifier"  # the head's name in modeling_headstart's models


def export_peft(run: str | Path, out: str | Path, *, overwrite: bool = False) -> Exported:
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    from headstart.persist import atomic_folder

    source, model, tokenizer, meta = load_run(run)
    if meta.task not in PEFT_CLASS:
        raise HeadstartError(f"a {meta.task!r} run has no peft export here.", expected="a classification, pairs "
                             "or NER run", found=f"task {meta.task!r}", fix="use `headstart export RUN --format "
                             "transformers` (the adapter merged in: AutoModelForQuestionAnswering loads it)")
    config = _adapter_config(model, meta)
    task_type, peft_class = PEFT_CLASS[meta.task]
    auto_class, _, tag = AUTO_CLASS[meta.task]
    trained = get_peft_model_state_dict(model.peft)  # keyed "base_model.model.<backbone module>..."
    base, tokenizer = plain_model(model, tokenizer, meta, model.peft.base_model.unload())
    out = claim_folder(Path(out), overwrite, "adapter_config.json")
    config = copy.deepcopy(config)
    config.task_type, config.inference_mode = task_type, True
    config.modules_to_save = [HEAD]
    with atomic_folder(out) as tmp:
        write_plain(tmp / BASE, base, tokenizer, auto_class)
        prefix = "base_model.model."
        state = {prefix + "backbone." + k[len(prefix):]: v for k, v in trained.items()}
        state |= {f"{prefix}{HEAD}.{k}": v for k, v in base.classifier.state_dict().items()}
        adapted = get_peft_model(base, config)
        result = set_peft_model_state_dict(adapted, state)
        if [k for k in result.unexpected_keys if k.startswith(prefix)]:
            raise RuntimeError(f"the adapter does not fit the exported model: {result.unexpected_keys[:5]}")
        adapted.peft_config["default"].base_model_name_or_path = str((out / BASE).resolve())
        adapted.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_card(tmp, source.parent if source.name == "model" else source, task=meta.task, pipeline_tag=tag,
                   labels=meta.labels, meta_strategy=meta.strategy, backbone=meta.backbone_name,
                   max_length=meta.max_length, peft_class=peft_class)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 2**20
    return Exported(out, meta.task, tag, peft_class, round(size, 1))


def _adapter_config(model, meta):
    """The run's LoRA / IA3 config, or an error naming the export that does take the run."""
    config = None if model.peft is None else model.peft.peft_config[model.peft.active_adapter]
    peft_type = str(getattr(config.peft_type, "value", config.peft_type)) if config is not None else None
    if peft_type in ("LORA", "IA3"):
        return config
    strategy = meta.strategy.get("strategy", meta.adapter or "?")
    try:  # what the plain transformers export can write (its adapter folded in), it is the way out
        merged_backbone(model, meta)
        fix = "use `headstart export RUN --format transformers` (a plain transformers folder)"
    except HeadstartError:
        fix = "use `headstart export RUN --format onnx`, or serve the run with `headstart serve RUN`"
    raise HeadstartError(f"a {strategy!r} run has no peft adapter to export.", expected="a run of lora or ia3",
                         found=f"strategy {strategy!r}", fix=fix)
