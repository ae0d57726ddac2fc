"""Instruction tuning of the packaged SmolLM2-135M-Instruct with LoRA on Self-Instruct's 175 seed tasks,
scored on its 252 user-oriented test instructions: held-out loss / perplexity (all test rows) and ROUGE-L
of greedy generations (the first --rouge-rows test rows, at most --max-new-tokens tokens), before and after
training, with time and trainable parameters. Writes a row to results/self_instruct.json.

    python benchmarks/bench_instruct.py                  # the result (about 20 min on 2 CPU cores)
    python benchmarks/bench_instruct.py --limit 12       # smoke test: 12 train / 12 test rows, nothing saved
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, peak_rss_self_mb, save_row, set_threads  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="smoke test: first N train and test rows, no save")
    parser.add_argument("--rouge-rows", type=int, default=60, help="test rows generated for ROUGE-L")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-modules", default="attention",
                        help="LoRA targets; default attention (the projections the saved row was measured with, "
                        "LoRA's default before 2026-11-26); all-linear is the default of `headstart train`")
    args = parser.parse_args()
    set_threads()

    from headstart.tasks.generation.estimator import HeadstartGenerator, _split_dev
    from headstart.tasks.generation.reader import read_instructions

    train = read_instructions(DATA / "self_instruct" / "train.jsonl")
    test = read_instructions(DATA / "self_instruct" / "test.jsonl")
    if args.limit:
        train, test = train.subset(range(args.limit)), test.subset(range(args.limit))
    train, dev = _split_dev(train, 0.1, args.seed)  # early stopping reads these held-out training rows
    rouge_rows = min(args.rouge_rows, len(test))
    gen = HeadstartGenerator(backbone="smollm2", strategy="lora", target_modules=args.target_modules,
                             epochs=args.epochs, lr=args.lr,
                             batch_size=args.batch_size, max_length=args.max_length, seed=args.seed, progress=True)
    t0 = time.perf_counter()
    gen.build()
    scoring = {"max_new_tokens": args.max_new_tokens, "limit": rouge_rows, "samples": 3}
    before = gen.evaluate(test, **scoring)
    gen.fit_task(train, dev, built=True)
    after = gen.evaluate(test, **scoring)
    total = time.perf_counter() - t0
    pick = lambda m: {k: round(m[k], 4) for k in ("loss", "perplexity", "rougeL")}  # noqa: E731
    row = {"method": "lora", "by": "headstart", "backbone": "smollm2", "seed": args.seed,
           "before": pick(before), "after": pick(after), "loss": round(after["loss"], 4),
           "rougeL": round(after["rougeL"], 4), "train_seconds": round(gen.fit_seconds_, 1),
           "trainable_params": gen.trainable_params_, "total_params": gen.total_params_,
           "best_epoch": gen.fit_result_.best_epoch, "n_train": len(train), "n_dev": len(dev), "n_test": len(test),
           "config": {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                      "target_modules": args.target_modules,
                      "max_length": args.max_length, "rouge_rows": rouge_rows, "max_new_tokens": args.max_new_tokens,
                      "decoding": "greedy", "rouge": "rougeL F-measure, rouge-score with stemming, mean",
                      "chat_template": gen.format_.chat_template},
           "samples": [{"prompt": b["prompt"], "before": b["output"], "after": a["output"], "reference": a["reference"]}
                       for b, a in zip(before["samples"], after["samples"], strict=True)],
           "peak_rss_mb": round(peak_rss_self_mb(), 1), "process_seconds": round(total, 1)}
    print({k: row[k] for k in ("before", "after", "train_seconds", "trainable_params", "process_seconds")})
    if args.limit:
        print("smoke run (--limit): nothing saved")
        with tempfile.TemporaryDirectory() as tmp:  # the save / load path runs too
            HeadstartGenerator.load(gen.save(Path(tmp) / "m"))
        return
    print("wrote", save_row("self_instruct", row, command="python " + " ".join(sys.argv)))


if __name__ == "__main__":
    main()
