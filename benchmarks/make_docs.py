"""Regenerate docs/benchmarks.md from benchmarks/results/*.json (never edit the tables by hand)."""

from __future__ import annotations

import json

from common import HERE, RESULTS
from docs_common import ADAPTER_TARGETS, NOTES, RUN_NOTES, TEMPLATES, _fmt, _mean_sd, group
from docs_sweeps import (
    averaging_section,
    bitfit_section,
    ensemble_section,
    lora_targets_section,
    smoothing_section,
    sweep_section,
    targets_section,
    width_section,
)

DOC = HERE.parent / "docs" / "benchmarks.md"

INTRO = NOTES["intro"]

SUBSETS = group(NOTES, "subset")


def _size(n: int | None) -> str:
    """Bytes on disk, in the unit that keeps a 100 KB adapter and a 90 MB backbone both readable."""
    if n is None:
        return "-"
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def _percent(r: dict) -> str:
    """Trainable share of the model, from the row (never assumed: older rows without a total show "-")."""
    share = r.get("trainable_percent")
    if share is None and r.get("trainable_params") and r.get("total_params"):
        share = 100 * r["trainable_params"] / r["total_params"]
    if share is None:
        return "-"
    return f"{share:.3g}%"


def _epochs(r: dict) -> str:
    cfg = r.get("config") or {}
    epochs = cfg.get("epochs_run", cfg.get("epochs", "-"))
    if cfg.get("averaged_epochs"):  # checkpoint averaging: the weights kept are the mean of these epochs'
        epochs = f"{epochs} ({'+'.join(map(str, cfg['averaged_epochs']))})"
    elif cfg.get("best_epoch") is not None:
        epochs = f"{epochs} ({cfg['best_epoch']})"
    return str(epochs)


def _find(runs: list[dict], method: str, by: str = "headstart") -> dict | None:
    return next((r for r in runs if r["method"] == method and r["by"] == by), None)


def _own_table(row: dict) -> bool:
    """Rows shown in a table of their own: few-shot (few_shot_table), zero-shot and in-context (zero_shot_table),
    classification with a backbone other than the packaged MiniLM (backbone_table), and the distillation
    runs on their own labelled / unlabelled subsets (docs/distillation.md, benchmarks/distill_docs.py)."""
    return (row["method"].startswith(("few-shot-", "zero-shot-")) or row.get("backbone") not in (None, "minilm")
            or _distill_row(row))


def _distill_row(row: dict) -> bool:
    return "distill.py" in str(row.get("command", ""))


def table(data: dict) -> str:
    runs = sorted((r for r in data["runs"] if not _own_table(r)), key=lambda r: -(r.get("accuracy") or 0))
    trainer = _find(runs, "full", "transformers-trainer")
    head = ("| method | by | accuracy | macro-F1 | AUC | train s | vs Trainer time | examples/s "
            "| peak RSS MB | trainable params | trainable % | saved | epochs (best) |")
    lines = [head, "|" + "---|" * 13]
    for r in runs:
        ratio = "-"
        if trainer and r.get("train_seconds"):
            ratio = f"{r['train_seconds'] / trainer['train_seconds']:.2f}x"
        cells = [r["method"], r["by"], _fmt(r.get("accuracy")), _fmt(r.get("macro_f1")), _fmt(r.get("auc")),
                 _fmt(r.get("train_seconds"), 1), ratio, _fmt(r.get("examples_per_second"), 1),
                 _fmt(r.get("peak_rss_mb"), 0), _fmt(r.get("trainable_params")), _percent(r),
                 _size(r.get("adapter_bytes")), _epochs(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def backbone_table(data: dict) -> str:
    """Classification rows trained on another backbone (a decoder, classified from its last token)."""
    runs = [r for r in data["runs"] if not r["method"].startswith(("few-shot-", "zero-shot-"))
            and r.get("backbone") not in (None, "minilm") and not _distill_row(r)]
    if not runs:
        return ""
    lines = ["Other backbones (same split, max length and seed; the decoder classifies from its last token):", "",
             "| method | backbone | accuracy | macro-F1 | AUC | train s | examples/s | peak RSS MB "
             "| trainable params | trainable % | saved | epochs (best) | machine | date |", "|" + "---|" * 14]
    for r in sorted(runs, key=lambda r: (r["backbone"], -(r.get("accuracy") or 0))):
        cells = [r["method"], r["backbone"], _fmt(r.get("accuracy")), _fmt(r.get("macro_f1")), _fmt(r.get("auc")),
                 _fmt(r.get("train_seconds"), 1), _fmt(r.get("examples_per_second"), 1),
                 _fmt(r.get("peak_rss_mb"), 0), _fmt(r.get("trainable_params")), _percent(r),
                 _size(r.get("adapter_bytes")), _epochs(r), r.get("machine", "-"), r.get("date", "-")]
        lines.append("| " + " | ".join(cells) + " |")
    # the adapter targets again, per backbone that has `full` and an adapter row of its own
    gaps = [f"- {g}" for backbone in sorted({r["backbone"] for r in runs})
            for g in _target_gaps([r for r in runs if r["backbone"] == backbone], f"On {backbone}, ")]
    return "\n".join(lines + ([""] + gaps if gaps else []))


ADAPTER_PEERS = {"lora": "peft-trainer", "bitfit": "transformers-trainer"}  # the `by` of each method's peer row


def _target_gaps(runs: list[dict], prefix: str = "") -> list[str]:
    """The issue's adapter targets for the headstart rows of one backbone: each adapter's gap to `full`."""
    full = _find(runs, "full")
    rows = [(_find(runs, method), name, target) for method, name, target in ADAPTER_TARGETS]
    return [_gap(row, full, prefix + name, target) for row, name, target in rows if full and row]


def _gap(row: dict, full: dict, label: str, target: float) -> str:
    """`label`'s accuracy gap to headstart `full`, in points, against the issue's target."""
    points = 100 * (full["accuracy"] - row["accuracy"])
    where = f"{points:.1f} points below" if points > 0 else f"{-points:.1f} points above"
    verdict = "within" if points <= target else "outside"
    return NOTES["adapter_gap"].format(label=label, accuracy=f"{row['accuracy']:.4f}", where=where,
                                       full=f"{full['accuracy']:.4f}", verdict=verdict, target=f"{target:g}",
                                       params=_fmt(row.get("trainable_params")), percent=_percent(row),
                                       epochs=_epochs(row), full_epochs=_epochs(full))


def _speed(ours: dict, peer: dict, name: str) -> str:
    """headstart's train time over the peer's for one method; a ratio only means much within one invocation."""
    ratio = ours["train_seconds"] / peer["train_seconds"]
    verdict = "at least as fast" if ratio <= 1 else "slower"
    caveat = "" if _same_invocation(ours, peer) else " (rows from different invocations: indicative only)"
    return NOTES["adapter_speed"].format(name=name, peer=peer["by"], ours_s=f"{ours['train_seconds']:.1f}",
                                         peer_s=f"{peer['train_seconds']:.1f}", ratio=f"{ratio:.2f}", verdict=verdict,
                                         caveat=caveat, accuracy=f"{ours['accuracy']:.4f}",
                                         peer_accuracy=f"{peer['accuracy']:.4f}", epochs=_epochs(ours),
                                         peer_epochs=_epochs(peer))


def _same_invocation(a: dict, b: dict) -> bool:
    """Whether two rows were timed in one bench_classification run (its start time, else the command)."""
    key = "invocation" if a.get("invocation") and b.get("invocation") else "command"
    return a.get(key) is not None and a.get(key) == b.get(key)


def adapters_note(data: dict) -> str:
    """The adapter targets of the benchmark issue, computed from the rows present (nothing typed in)."""
    runs = [r for r in data["runs"] if not _own_table(r)]
    items = _target_gaps(runs)
    for method, name, _ in ADAPTER_TARGETS:
        ours, peer = _find(runs, method), _find(runs, method, ADAPTER_PEERS[method])
        if ours and peer:
            items.append(_speed(ours, peer, name))
    if not items:
        return ""
    return "Adapters (computed from the rows above):\n\n" + "\n".join(f"- {i}" for i in items)


SPAN_NOTES = group(NOTES, "span")


def span_table(data: dict) -> str:
    """NER / QA rows: the task's scores, time and cost; several seeds of one method are averaged."""
    qa = any("em" in r for r in data["runs"])
    keys = ("em", "f1") if qa else ("f1", "precision", "recall")
    groups: dict[tuple, list[dict]] = {}
    for r in data["runs"]:
        if not _distill_row(r):  # on their own subsets: docs/distillation.md
            groups.setdefault((r["method"], r["by"]), []).append(r)
    trainer = groups.get(("full", "transformers-trainer"), [None])[0]
    head = "| method | by | " + " | ".join(keys) + " | seeds | train s | vs Trainer time | trainable params | saved |"
    lines = [head, "|" + "---|" * (len(keys) + 7)]
    for (method, by), rows in sorted(groups.items(), key=lambda kv: -kv[1][0][keys[0]]):
        seconds = sum(r["train_seconds"] for r in rows) / len(rows)
        ratio = f"{seconds / trainer['train_seconds']:.2f}x" if trainer else "-"
        cells = [method, by, *(_mean_sd([r[k] for r in rows]) for k in keys), str(len(rows)), _fmt(seconds, 1), ratio,
                 _fmt(rows[0].get("trainable_params")), _size(rows[0].get("adapter_bytes"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def dapt_note(data: dict) -> str:
    d = data.get("dapt")
    if d is None:
        return ""
    p = d["pretrain"]
    lines = [NOTES["dapt"].format(command=d["command"], date=d["date"], documents=p["documents"],
                                  chunks=p["train_chunks"], seconds=f"{p['seconds']:.0f}",
                                  loss=f"{p['dev_before']['mlm_loss']:.3f} -> {p['dev_after']['mlm_loss']:.3f}",
                                  accuracy=f"{p['dev_before']['mlm_accuracy']:.3f} -> "
                                           f"{p['dev_after']['mlm_accuracy']:.3f}")]
    for method, f in d["f1"].items():
        seeds = ", ".join(f"{v:.4f}" for v in f["seeds"])
        lines.append(f"- `{method}`: entity F1 {f['mean']:.4f} ± {f['stdev']:.4f} (sample sd; seeds 0, 1, 2: {seeds})")
    return "\n".join(lines)


def zero_shot_table(data: dict) -> str:
    """Zero-shot and in-context rows (bench_zeroshot.py): nothing trains, so the time is the scoring time."""
    runs = [r for r in data["runs"] if r["method"].startswith("zero-shot-") or r["method"].startswith("few-shot-lm")]
    if not runs:
        return ""
    lines = ["Zero-shot and in-context few-shot (`python benchmarks/bench_zeroshot.py " + data["dataset"] + "`; "
             "no training: the label names as words; \"predict s\" scores the test rows shown, model loading "
             "included):", "",
             "| method | backbone | test rows | accuracy | macro-F1 | predict s | peak RSS MB | machine | date |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r.get("subset", ""), r["method"])):
        rows = str(r.get("config", {}).get("test_rows", "all"))
        if r.get("subset"):  # a documented subset (bench_zeroshot.py --per-class N)
            rows += f" ({r['subset']}, seed {r.get('seed', 0)})"
        lines.append("| " + " | ".join([r["method"], r.get("backbone", "-"), rows, _fmt(r.get("accuracy")),
                                         _fmt(r.get("macro_f1")), _fmt(r.get("predict_seconds"), 1),
                                         _fmt(r.get("peak_rss_mb"), 0), r.get("machine", data["machine"]),
                                         r.get("date", data["date"])]) + " |")
    return "\n".join(lines)


def few_shot_table(data: dict) -> str:
    """The few-shot runs (bench_fewshot.py), one line per (method, by): mean ± sd over seeds, min-max."""
    summary = data.get("few_shot")
    if not summary:
        return ""
    lines = ["Few-shot (k examples per class, `python benchmarks/bench_fewshot.py`; mean ± sd over seeds, "
             "[min, max]; same k-shot draws, encoder, pair budget and epochs for both, in the same invocation):",
             "", "| method | by | seeds | accuracy | macro-F1 | train s | machine |", "|---|---|---|---|---|---|---|"]
    for key, st in summary.items():
        method, by = key.split(" ", 1)
        cells = [method, by, str(len(st["seeds"]))] + [
            f"{st[k]['mean']:.4f} ± {st[k]['sd']:.4f} [{st[k]['min']:.4f}, {st[k]['max']:.4f}]"
            for k in ("accuracy", "macro_f1")] + [f"{st['train_seconds']['mean']:.1f} ± {st['train_seconds']['sd']:.1f}",
                                                  st.get("machine", data["machine"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def instruct_section(data: dict) -> str:
    """Instruction tuning (bench_instruct.py): held-out loss, perplexity and ROUGE-L before and after."""
    lines = [f"## {data['dataset']}", NOTES["instruct"],
             f"Command: `{data.get('command')}` · machine: {data['machine']} · date: {data['date']}", "",
             "| method | backbone | loss before → after | perplexity before → after | ROUGE-L before → after "
             "| train s | trainable params | epochs (best) | settings |", "|---|---|---|---|---|---|---|---|---|"]
    for r in data["runs"]:
        b, a, c = r["before"], r["after"], r["config"]
        lines.append(f"| {r['method']} | {r['backbone']} | {b['loss']:.3f} → {a['loss']:.3f} | "
                     f"{b['perplexity']:.1f} → {a['perplexity']:.1f} | {b['rougeL']:.4f} → {a['rougeL']:.4f} | "
                     f"{r['train_seconds']:.1f} | {r['trainable_params']:,} | {c['epochs']} ({r['best_epoch']}) | "
                     f"max length {c['max_length']}, ROUGE on {c['rouge_rows']} rows, {c['max_new_tokens']} new "
                     f"tokens, LoRA on {c.get('target_modules', 'attention')} projections |")
    samples = data["runs"][0].get("samples") if data["runs"] else None
    if samples:
        lines += ["", NOTES["instruct_samples"], "",
                  "| prompt | before | after | reference |", "|---|---|---|---|"]
        clean = lambda t: " ".join(str(t).split()).replace("|", "\\|")[:160]  # noqa: E731
        lines += [f"| {clean(x['prompt'])} | {clean(x['before'])} | {clean(x['after'])} | {clean(x['reference'])} |"
                  for x in samples]
    return "\n".join(lines) + "\n"


def defaults_section() -> str:
    """From results/defaults.json (benchmarks/defaults.py report): every setting beside the Trainer."""
    path = RESULTS / "defaults.json"
    if not path.exists():
        return ""
    rows = json.loads(path.read_text())["runs"]
    lines = ["| set | metric | headstart setting | seeds | score | Trainer (5e-5) | gap | Trainer at its best rate | gap |",
             "|---|---|---|---|---|---|---|---|---|"]
    wins = {}
    for r in rows:
        gap = None if r["trainer_score"] is None else r["score"] - r["trainer_score"]
        best_gap = None if r["trainer_best_score"] is None else r["score"] - r["trainer_best_score"]
        wins.setdefault(r["strategy"], []).append(gap)
        lines.append(f"| {r['dataset']} | {r['metric']} | {r['strategy']} | {r['seeds']} | {r['score']:.3f} | "
                     f"{_fmt(r['trainer_score'], 3)} | {_signed(gap)} | {_fmt(r['trainer_best_score'], 3)} "
                     f"(lr {r['trainer_best_lr']}) | {_signed(best_gap)} |")
    summary = "; ".join(NOTES["defaults_wins"].format(
        strategy=k, above=sum(g >= 0 for g in v if g is not None), sets=sum(g is not None for g in v),
        worst=_signed(min(g for g in v if g is not None))) for k, v in wins.items() if any(g is not None for g in v))
    seeds = sorted({r["seeds"] for r in rows})
    data = json.loads(path.read_text())
    loo = ["| strategy | set left out | setting chosen on the others | its gap to the Trainer there | "
           "to the Trainer's best rate |", "|---|---|---|---|---|"]
    loo += [f"| {r['strategy']} | {r['held_out']} | {r['chosen']} | {_signed(r['gap'])} | "
            f"{_signed(r['gap_to_best_rate'])} |" for r in data.get("leave_one_out", [])]
    return (TEMPLATES / "defaults.md").read_text().format(
        metric_note="accuracy (macro-F1 for the multi-label set)", command="python benchmarks/defaults.py report",
        machine=data.get("machine", "-"), date=max((r["date"] for r in rows), default="-"),
        seeds=", ".join(str(s) for s in seeds), table="\n".join(lines), summary=summary + ".", loo="\n".join(loo))


def choice_section() -> str:
    """From results/choice.json (benchmarks/choice.py): the leave-one-set-out picks."""
    path = RESULTS / "choice.json"
    if not path.exists():
        return ""
    data = json.loads(path.read_text())
    rows = data["runs"]
    lines = ["| set | metric | recommended | its score | best strategy | best score | gap | Trainer (5e-5) | "
             "within 1 point | at or above Trainer | seconds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['metric']} | {r['recommended']} | {r['recommended_score']:.3f} | "
                     f"{r['best_strategy']} | {r['best_score']:.3f} | {100 * r['gap']:.1f} pt | "
                     f"{_fmt(r['trainer_score'], 3)} | {'yes' if r['within_1_point'] else 'no'} | "
                     f"{'yes' if r['at_or_above_trainer'] else 'no'} | {r['seconds']:,.0f} |")
    within = sum(r["within_1_point"] for r in rows)
    above = sum(r["at_or_above_trainer"] for r in rows)
    alt = data.get("alternative")
    alternative = "" if not alt else " " + NOTES["choice_alternative"].format(
        rule=alt["rule"], within=alt["within_1_point"], sets=alt["sets"], above=alt["at_or_above_trainer"],
        picks=", ".join(f"{k} {v}" for k, v in alt["picks"].items()))
    return (TEMPLATES / "choice.md").read_text().format(
        command=data["command"], machine=rows[0]["machine"] if rows else "-",
        date=max((r["date"] for r in rows), default="-"), table="\n".join(lines), within=within, n=len(rows),
        above=above, alternative=alternative, basis=data["basis"])


def startup_section() -> str:
    """From results/speed.json's startup rows (benchmarks/startup.py)."""
    path = RESULTS / "speed.json"
    rows = [r for r in json.loads(path.read_text())["runs"] if r.get("kind") == "startup"] if path.exists() else []
    if not rows:
        return ""
    lines = ["| command | wall seconds (median) | CPU seconds | vs `accelerate --help` |", "|---|---|---|---|"]
    lines += [f"| `{r['method']}` | {r['wall_seconds']:.2f} | {r['cpu_seconds']:.2f} | "
              f"{_fmt(r['ratio_to_peer'], 2)}x |" for r in rows]
    return (NOTES["startup"].format(repeats=rows[0]["repeats"])
            + f"\n\nCommand: `{rows[0]['command']}` · machine: {rows[0]['machine']} · "
            f"date: {rows[0]['date']}" + (f" · {rows[0]['note']}" if rows[0].get("note") else "") + "\n\n"
            + "\n".join(lines) + "\n")


def speed_section() -> str:
    """From results/speed.json's throughput and memory rows (benchmarks/speed.py)."""
    path = RESULTS / "speed.json"
    rows = [r for r in json.loads(path.read_text())["runs"] if r.get("kind") in ("train-throughput", "memory")
            ] if path.exists() else []
    if not rows:
        return ""
    lines = ["| measure | headstart | peer | ratio (> 1: headstart better) | spread over rounds | accuracy (peer) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        unit = "ex/s" if r["kind"] == "train-throughput" else "MB"
        lines.append(f"| {r['measure']} | {r['headstart']:,.1f} {unit} | {r['peer']:,.1f} {unit} | {r['ratio']:.2f} | "
                     f"[{r['spread'][0]:.2f}, {r['spread'][1]:.2f}] | {r['accuracy']:.4f} ({r['peer_accuracy']:.4f}) |")
    first = rows[0]
    notes = sorted({f"{r['method']}: {r['note']}" for r in rows if r.get("note")})
    lines += [""] + [f"Note, {n}." for n in notes] if notes else []
    return (NOTES["speed"].format(rows=first["rows"], rounds=first["rounds"], threads=first["threads"])
            + f"\n\nCommand: `{first['command']}` · machine: {first['machine']} · date: {first['date']}"
            + (f" · {first['note']}" if first.get("note") else "") + "\n\n" + "\n".join(lines) + "\n")


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:+.1f} pt"


def write_docs() -> None:
    parts = [INTRO]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("kind") == "cross-set" or path.name in ("speed.json", "data_parallel.json"):
            continue  # defaults.json, choice.json, speed.json: sections of their own; data_parallel: scaling.md
        name = data["dataset"]
        if name == "self_instruct":
            parts.append(instruct_section(data))
            continue
        if name in SPAN_NOTES:
            blocks = [f"## {name}", SPAN_NOTES[name],
                      f"Command (latest): `{data.get('command')}` · machine: {data['machine']} · date: {data['date']}",
                      span_table(data), RUN_NOTES.get(name, ""), dapt_note(data)]
            parts.append("\n\n".join(b for b in blocks if b) + "\n")
            continue
        # the header names the latest invocation among the main table's rows (the other tables say their own)
        main = [r for r in data["runs"] if not _own_table(r) and r.get("command") and r.get("invocation")]
        latest = max(main, key=lambda r: r["invocation"], default=None)
        command = latest["command"] if latest else data.get("command", "python benchmarks/bench_classification.py " + name)
        machine, date = (latest["machine"], latest["date"]) if latest else (data["machine"], data["date"])
        blocks = [f"## {name}", SUBSETS.get(name, ""),
                  (f"Command (latest invocation; each row's own is in the JSON): `{command}` · "
                   f"machine: {machine} · date: {date}"),
                  table(data), adapters_note(data), backbone_table(data), zero_shot_table(data), few_shot_table(data),
                  RUN_NOTES.get(name, "")]
        parts.append("\n\n".join(b for b in blocks if b) + "\n")
    parts.append(defaults_section())
    parts.append(choice_section())
    parts.append(startup_section())
    parts.append(speed_section())
    parts.append(averaging_section())
    parts.append(smoothing_section())
    parts.append(lora_targets_section())
    parts.append(width_section())
    parts.append(bitfit_section())
    parts.append(targets_section())
    parts.append(ensemble_section())
    parts.append(sweep_section())
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(parts))


if __name__ == "__main__":
    write_docs()
