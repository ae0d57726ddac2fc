"""Zero-shot (and in-context few-shot) accuracy on SST-2 dev and Banking77 test, with wall time.

    python benchmarks/bench_zeroshot.py sst2                                  # all methods
    python benchmarks/bench_zeroshot.py banking77 --only zero-shot-embedding,zero-shot-lm
    python benchmarks/bench_zeroshot.py sst2 --limit 40 --only zero-shot-lm    # smoke: prints, saves nothing
    python benchmarks/bench_zeroshot.py banking77 --per-class 4 --only zero-shot-lm,few-shot-lm-1  # subset

Methods (no training; labels are the class names as words, e.g. "card_arrival" -> "card arrival"):
- zero-shot-embedding: MiniLM cosine similarity, calibrated on the unlabelled test texts (see
  headstart.zeroshot.embedding);
- zero-shot-lm: SmolLM2-135M-Instruct, each label's likelihood as the answer;
- few-shot-lm-K: the same with K in-context examples per class drawn from the training set (seed 0);
- zero-shot-api: the chat-API path (`--method api`): headstart's own OpenAI-compatible server (the app of
  `headstart serve`) runs SmolLM2-135M-Instruct on a loopback port in the same process, and the API
  client asks it for one label per text over HTTP (4 requests in flight, a fresh answer cache; the label
  names as given, not as words). This measures the path end to end with the packaged model; a
  GPT-4-class model behind the same API is the intended use and would score far higher. Its
  "predict_seconds" leave out the server's model loading, done before the first request, as a running
  server would have.
Each method runs in its own process (run_child), one after another, 2 torch threads. "train_seconds" is 0
(nothing trains); "predict_seconds" is the scoring time of the test rows scored, model loading and prompt
encoding included. With --limit N only N random test rows (seed 0) are scored and nothing is saved.
With --per-class N a documented subset is scored and saved: N test rows per class drawn with --seed, the
rows marked `"subset": "N per class"` (they sit beside whole-test rows of the same method, not over them).
Use it where the whole test set costs hours, e.g. in-context examples for 77 intents, and run the
methods you compare on the same subset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common import HERE, load_dataset, run_child, save_row, set_threads

METHODS = ("zero-shot-embedding", "zero-shot-lm", "few-shot-lm-1", "zero-shot-api")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("sst2", "banking77", "sms_spam"))
    ap.add_argument("--only", default=",".join(METHODS), help="comma-separated methods; few-shot-lm-K for any K")
    ap.add_argument("--limit", type=int, default=None, help="smoke test: N random test rows; nothing is saved")
    ap.add_argument("--per-class", type=int, default=None,
                    help="score (and save) a documented subset: N test rows per class, drawn with --seed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: run this method only
    return ap.parse_args(argv)


def _method(name: str) -> tuple[str, int]:
    """("embedding" | "lm", shots) of a method name."""
    if name == "zero-shot-embedding":
        return "embedding", 0
    if name == "zero-shot-lm":
        return "lm", 0
    if name == "zero-shot-api":
        return "api", 0
    if name.startswith("few-shot-lm-") and name.rsplit("-", 1)[1].isdigit():
        return "lm", int(name.rsplit("-", 1)[1])
    raise SystemExit(f"unknown method {name!r}: use zero-shot-embedding, zero-shot-lm, few-shot-lm-K or "
                     "zero-shot-api")


def run_one(args: argparse.Namespace) -> dict:
    """Score the test set with one method in this process; the result row."""
    from headstart.evaluation import classification_metrics
    from headstart.zeroshot import ZeroShotClassifier

    set_threads()
    method, shots = _method(args.one)
    train, test = load_dataset(args.dataset)
    if args.limit is not None:  # a random sample: the files are sorted by label
        test = test.sample(min(args.limit, len(test)), random_state=0).reset_index(drop=True)
    if args.per_class is not None:
        test = per_class_subset(test, args.per_class, args.seed)
    labels = sorted(set(train.label.astype(str)))
    examples = list(zip(train.text, train.label.astype(str), strict=True)) if shots else None
    texts = test.text.tolist()
    with local_chat_server() if method == "api" else contextlib.nullcontext(None) as backbone:
        t0 = time.perf_counter()
        clf = ZeroShotClassifier(labels, method=method, backbone=backbone, k=shots, examples=examples,
                                 seed=args.seed).fit(texts)
        proba = clf.predict_proba(texts)
        seconds = time.perf_counter() - t0
    index = {label: i for i, label in enumerate(labels)}
    m = classification_metrics([index[str(y)] for y in test.label], proba, labels)
    info = clf.describe()
    config = {k: v for k, v in info.items() if k not in ("method", "backbone", "prompt")}
    config |= {"labels": "class names as given, listed in the prompt" if method == "api" else "class names as words",
               "test_rows": len(test)}
    if args.limit is not None:
        config["limit"] = args.limit
    subset = {"subset": f"{args.per_class} per class"} if args.per_class is not None else {}
    return subset | {"method": args.one, "by": "headstart", "backbone": info["backbone"], "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"], "auc": m["auc"] if len(labels) == 2 else None, "train_seconds": 0,
            "predict_seconds": round(seconds, 1), "trainable_params": 0,
            "examples_per_second": round(len(test) / seconds, 1), "seed": args.seed, "config": config}


@contextlib.contextmanager
def local_chat_server():
    """headstart's OpenAI-compatible app serving the packaged SmolLM2 on a loopback port, the API client
    pointed at it through the environment (as a user would) with an empty answer cache; yields the model id."""
    from headstart.serving.background import BackgroundServer
    from headstart.serving.openai_server import create_app

    with BackgroundServer(create_app("smollm2")) as server, tempfile.TemporaryDirectory() as home:
        os.environ |= {"OPENAI_BASE_URL": server.base_url, "HEADSTART_HOME": home}
        os.environ.pop("OPENAI_API_KEY", None)
        yield httpx.get(server.base_url + "/models").json()["data"][0]["id"]


def per_class_subset(test, n: int, seed: int):
    """n rows of every class (all of a class that has fewer), drawn with `seed`, in the file's order."""
    picked = [i for _, g in test.groupby("label") for i in g.sample(min(n, len(g)), random_state=seed).index]
    return test.loc[sorted(picked)].reset_index(drop=True)


def main() -> None:
    args = parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    names = args.only.split(",")
    for name in names:
        _method(name)  # fail before anything runs
    for name in names:
        child = [args.dataset, "--one", name, "--seed", str(args.seed)]
        if args.limit is not None:
            child += ["--limit", str(args.limit)]
        if args.per_class is not None:
            child += ["--per-class", str(args.per_class)]
        row = run_child(Path(__file__).name, child, HERE / "logs" / f"zeroshot-{args.dataset}-{name}.log")
        print(f"{name}: accuracy {row['accuracy']:.4f} macro-F1 {row['macro_f1']:.4f} "
              f"({row['predict_seconds']} s, {row['peak_rss_mb']} MB)", file=sys.stderr)
        if args.limit is None:
            save_row(args.dataset, row, command="python benchmarks/bench_zeroshot.py " + " ".join(sys.argv[1:]))
        else:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
