"""Domain-adaptive pretraining measured honestly: NCBI-disease entity F1 with and without masked-LM
pretraining of the packaged MiniLM on ../shared/data/pubmed_abstracts, same seeds, mean and spread.

    python benchmarks/bench_dapt.py --seeds 0,1,2 --strategy full --epochs 3 --pretrain-epochs 2

1) `headstart pretrain` on the PubMed corpus (one run, seed 0) into benchmarks/backbones/ (git-ignored);
2) for each seed, the NER strategy on NCBI-disease from the packaged backbone and from the adapted one,
   each in its own process (run_headstart_task.py). Rows go to results/ncbi_disease.json (methods
   "<strategy>" and "<strategy>+dapt", one row per seed) and the summary (pretraining, F1 mean and spread)
   to its "dapt" key, whatever the sign of the difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path

from common import DATA, HERE, RESULTS, machine, run_child, save_row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategy", default="full")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--pretrain-epochs", type=int, default=2)
    ap.add_argument("--skip-pretrain", action="store_true", help="reuse benchmarks/backbones/minilm-pubmed")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds-long check of the script: 20 documents, 40 sentences; writes no results")
    args = ap.parse_args()
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    folder = HERE / "backbones" / ("smoke" if args.smoke else "minilm-pubmed")
    corpus = DATA / "pubmed_abstracts" / "corpus.txt"
    if args.smoke:
        folder.mkdir(parents=True, exist_ok=True)
        corpus = folder.parent / "smoke-corpus.txt"
        corpus.write_text("\n".join((DATA / "pubmed_abstracts" / "corpus.txt").read_text().splitlines()[:20]))
    if not args.skip_pretrain:
        from headstart.pretrain import pretrain

        pretrain(corpus, folder, epochs=1 if args.smoke else args.pretrain_epochs, name=folder.name,
                 progress=False, log=lambda t: print(t, file=sys.stderr))
    summary = json.loads((folder / "pretrain.json").read_text())
    scores: dict[str, list[float]] = {}
    started = dt.datetime.now().isoformat(timespec="seconds")
    for seed in args.seeds.split(","):
        for backbone, method in (("minilm", args.strategy), (str(folder), f"{args.strategy}+dapt")):
            row = run_child("run_headstart_task.py", ["ncbi_disease", args.strategy, "--seed", seed, "--epochs",
                                                      str(1 if args.smoke else args.epochs), "--backbone", backbone,
                                                      "--method", method, *(["--limit", "40"] if args.smoke else [])],
                            HERE / "logs" / f"dapt-{method}-{seed}.log")
            row["invocation"] = started
            if not args.smoke:
                save_row("ncbi_disease", row, command)
            scores.setdefault(method, []).append(row["f1"])
            print(f"[dapt] {method} seed {seed}: f1 {row['f1']:.4f}", file=sys.stderr, flush=True)
    result = {"corpus": "pubmed_abstracts", "machine": machine(),
              "date": dt.date.today().isoformat(), "command": command,
              "pretrain": {k: summary[k] for k in ("documents", "train_chunks", "dev_before", "dev_after",
                                                   "seconds", "config", "new_head")},
              "f1": {m: {"seeds": v, "mean": statistics.mean(v), "stdev": statistics.stdev(v) if len(v) > 1 else 0.0}
                     for m, v in scores.items()}}
    if not args.smoke:  # beside the per-seed rows, in the same results file
        path = RESULTS / "ncbi_disease.json"
        data = json.loads(path.read_text())
        data["dapt"] = result
        path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(result["f1"]), file=sys.stderr)


if __name__ == "__main__":
    main()
