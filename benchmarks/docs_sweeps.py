"""The sections of docs/benchmarks.md on the sweeps behind the defaults: checkpoint averaging, label smoothing,
LoRA targets, a wider backbone, BitFit, adapter targets over seeds, ensembles, the multi-seed sweep."""

from __future__ import annotations

import json
from pathlib import Path

from common import RESULTS
from docs_common import ADAPTER_TARGETS, NOTES, RUN_NOTES, _mean_sd
from seed_spread import table as seed_table

SWEEP_NOTE = NOTES["sweep"]


def sweep_section() -> str:
    sweeps = RESULTS / "sweeps"
    files = {name: sweeps / f"{name}-seeds.jsonl" for name in ("sst2", "banking77")}
    if not all(f.exists() for f in files.values()):
        return ""
    return SWEEP_NOTE.format(**{name: seed_table(str(f)) for name, f in files.items()})


ENSEMBLE_NOTE = NOTES["ensembles"]


def _full_and_chosen(run: dict) -> tuple[dict, dict]:
    """The rows of `full` alone and of the ensemble chosen on dev, in one seed's record."""
    by_name = {r["ensemble"].split(": ")[-1]: r for r in run["rows"]}
    return by_name["full"], by_name["+".join(run["chosen"])]


def _jsonl(path: Path) -> list[dict]:
    """The rows of a sweep file (`benchmarks/sweep.py` output), or none when it was not run."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _seed_block(title: str, path: Path) -> str:
    """A sweep file's settings over seeds (seed_spread's table), under a title naming its machine and date."""
    first = _jsonl(path)[0]
    return f"**{title}** ({first['machine']}, {first['date']})\n\n{seed_table(str(path))}"


def _sweep_runs(name: str, kind: str) -> list[dict]:
    """The runs of results/sweeps/<name>-<kind>.json (ensemble, averaging), or none when it was not run."""
    path = RESULTS / "sweeps" / f"{name}-{kind}.json"
    return json.loads(path.read_text())["runs"] if path.exists() else []


LORA_TARGETS_NOTE = NOTES["lora_targets"]


def lora_targets_section() -> str:
    """Query/value against all-linear LoRA, per seed: dev ROC-AUC and test accuracy."""
    linear = _sweep_rows("sst2", "lora-targets", "lora all lr2e-3 e5")
    if not linear:
        return ""
    attention = {}
    for run in _sweep_runs("sst2", "averaging"):
        if run["strategy"] == "lora" and run["seed"] in linear:
            best = next(r for r in run["rows"] if r["weights"].startswith("best epoch"))
            attention[run["seed"]] = (best, run["train_seconds"])
    seeds = sorted(set(linear) & set(attention))
    lines = ["| seed | query/value: dev AUC | test | train s | all-linear: dev AUC | test | train s | test gain |",
             "|---|---|---|---|---|---|---|---|"]
    gains, dev_gains = [], []
    for seed in seeds:
        (qv, qv_s), al = attention[seed], linear[seed]
        gains.append(al["test_accuracy"] - qv["test_accuracy"])
        dev_gains.append(al["dev_auc"] - qv["dev_auc"])
        lines.append(f"| {seed} | {qv['dev_auc']:.4f} | {qv['test_accuracy']:.4f} | {qv_s:.0f} | "
                     f"{al['dev_auc']:.4f} | {al['test_accuracy']:.4f} | {al['seconds']:.0f} | {gains[-1]:+.4f} |")
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    qv_test = mean([attention[s][0]["test_accuracy"] for s in seeds])
    al_test = mean([linear[s]["test_accuracy"] for s in seeds])
    return (LORA_TARGETS_NOTE + "\n" + "\n".join(lines) + "\n\n" + NOTES["lora_targets_verdict"].format(
        seeds=", ".join(map(str, seeds)), before=f"{qv_test:.4f}", after=f"{al_test:.4f}", gain=f"{mean(gains):+.4f}",
        ahead=sum(g > 0 for g in gains), n=len(gains), dev=f"{mean(dev_gains):+.4f}")
        + f" {RUN_NOTES.get('lora-targets', '')}\n")


WIDTH_NOTE = NOTES["width"]


def width_section() -> str:
    """`full`'s rate on a wider backbone: dev and test per rate, and which one dev picks."""
    path = RESULTS / "sweeps" / "sst2-mpnet-full-lr.jsonl"
    if not path.exists():
        return ""
    rows = _jsonl(path)
    lines = ["| setting | backbone | dev AUC | dev accuracy | test accuracy | train s | machine | date |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["label"]):
        lines.append(f"| {r['label']} | {r['backbone']} | {r['dev_auc']:.4f} | {r['dev_accuracy']:.4f} | "
                     f"{r['test_accuracy']:.4f} | {r['seconds']:.0f} | {r['machine']} | {r['date']} |")
    best = max(rows, key=lambda r: r["dev_auc"])
    return (WIDTH_NOTE + "\n" + "\n".join(lines) + "\n\n"
            + NOTES["width_verdict"].format(label=best["label"], test=f"{best['test_accuracy']:.4f}")
            + f" {RUN_NOTES.get('width', '')}\n")


def ensemble_section() -> str:
    blocks = []
    for name in ("sst2", "banking77"):
        runs = _sweep_runs(name, "ensemble")
        if not runs:
            continue
        summary = ["| seed | members | chosen on dev | full alone (test) | chosen ensemble (test) | ensemble train s |",
                   "|---|---|---|---|---|---|"]
        pairs = [_full_and_chosen(run) for run in runs]
        for run, (alone, chosen) in zip(runs, pairs, strict=True):
            members = [r["ensemble"] for r in run["rows"] if ":" not in r["ensemble"]]
            summary.append(f"| {run['seed']} | {', '.join(members)} | {' + '.join(run['chosen'])} | "
                           f"{alone['test_accuracy']:.4f} | {chosen['test_accuracy']:.4f} | "
                           f"{chosen['train_seconds']:,.1f} |")
        if len(runs) > 1:
            summary.append(f"| mean ± sd ({len(runs)} seeds) | | | "
                           f"{_mean_sd([a['test_accuracy'] for a, _ in pairs])} | "
                           f"{_mean_sd([c['test_accuracy'] for _, c in pairs])} | |")
        first = runs[0]
        metric = first["metric"]
        detail = [NOTES["ensemble_detail"].format(seed=first["seed"], command=first["command"],
                                                  machine=first["machine"], date=first["date"]), "",
                  f"| members | dev {metric} | dev accuracy | test accuracy | train s |", "|---|---|---|---|---|"]
        detail += [f"| {r['ensemble']} | {r[f'dev_{metric}']:.4f} | {r['dev_accuracy']:.4f} | "
                   f"{r['test_accuracy']:.4f} | {r['train_seconds']:,.1f} |" for r in first["rows"]]
        blocks.append(f"**{name}**\n\n" + "\n".join(summary) + "\n\n" + "\n".join(detail))
    if not blocks:
        return ""
    return ENSEMBLE_NOTE + "\n" + "\n\n".join(blocks) + "\n\n" + RUN_NOTES.get("ensembles", "") + "\n"


AVERAGING_NOTE = NOTES["averaging"]


def averaging_section() -> str:
    blocks = []
    for name in ("sst2", "banking77"):
        every = [r for r in _sweep_runs(name, "averaging") if r["average_epochs"] == 2]
        for strategy in sorted({r["strategy"] for r in every}, key=lambda s: s != "full"):  # full first
            blocks.append(_averaging_block(name, [r for r in every if r["strategy"] == strategy]))
    if not blocks:
        return ""
    return AVERAGING_NOTE + "\n" + "\n\n".join(blocks) + "\n\n" + RUN_NOTES.get("averaging", "") + "\n"


def _averaging_block(name: str, runs: list[dict]) -> str:
    """One data set and strategy: each seed's best epoch against the weights kept, and the tail means."""
    metric = runs[0]["metric"]
    lines = [f"| seed | best epoch | weights kept | dev {metric}: best epoch → kept | test accuracy: best epoch | "
             "test accuracy: kept | train s | date |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        best, kept = run["rows"][0], run["rows"][1]
        what = ("mean of epochs " + ", ".join(map(str, run["averaged_epochs"])) if run["averaged_epochs"]
                else "the best epoch's")
        lines.append(f"| {run['seed']} | {run['best_epoch']} | {what} | {best[f'dev_{metric}']:.4f} → "
                     f"{kept[f'dev_{metric}']:.4f} | {best['test_accuracy']:.4f} | {kept['test_accuracy']:.4f} | "
                     f"{run['train_seconds']:,.1f} | {run['date']} |")
    pairs = [(r["rows"][0]["test_accuracy"], r["rows"][1]["test_accuracy"]) for r in runs]
    gains = [k - b for b, k in pairs]
    spread = f", sd {_mean_sd(gains).split(' ± ')[1]}" if len(gains) > 1 else ""
    if len(runs) > 1:
        lines.append(f"| mean ± sd ({len(runs)} seeds) | | | | {_mean_sd([b for b, _ in pairs])} | "
                     f"{_mean_sd([k for _, k in pairs])} | | |")
    tails: dict[int, list[float]] = {}
    for run in runs:
        for r in run["rows"][2:]:
            tails.setdefault(len(r["epochs"]), []).append(r["test_accuracy"])
    tail_text = "; ".join(f"last {k} epochs {_mean_sd(v)}" for k, v in sorted(tails.items()))
    return (f"**{name}, `{runs[0]['strategy']}`** (`{runs[0]['command'].replace('--seed 0', '--seed N')}`, N = "
            f"{', '.join(str(r['seed']) for r in runs)}; {runs[0]['machine']})\n\n" + "\n".join(lines) + "\n\n"
            + NOTES["averaging_verdict"].format(gains=", ".join(f"{g:+.4f}" for g in gains),
                                                mean=f"{sum(gains) / len(gains):+.4f}", spread=spread,
                                                better=sum(g > 0 for g in gains), n=len(gains), tails=tail_text))


SMOOTHING_NOTE = NOTES["smoothing"]


def smoothing_section() -> str:
    blocks = []
    for name in ("banking77", "sst2"):
        path = RESULTS / "sweeps" / f"{name}-smoothing.jsonl"
        if path.exists():
            blocks.append(_seed_block(name, path))
    if not blocks:
        return ""
    return SMOOTHING_NOTE + "\n" + "\n\n".join(blocks) + "\n\n" + RUN_NOTES.get("smoothing", "") + "\n"


BITFIT_NOTE = NOTES["bitfit"]


def bitfit_section() -> str:
    """BitFit's settings over seeds (their gap to `full` per seed is in the targets section)."""
    path = RESULTS / "sweeps" / "sst2-bitfit.jsonl"
    if not path.exists():
        return ""
    return BITFIT_NOTE + f"\n{_seed_block('settings', path)}\n\n{RUN_NOTES.get('bitfit', '')}\n"


# where each method's per-seed rows at its defaults are: dataset -> method -> (sweep grid file, label)
TARGET_ROWS = {
    "sst2": {"full": ("smoothing", "full"), "lora": ("lora-targets", "lora all lr2e-3 e5"),
             "bitfit": ("bitfit", "bitfit")},
    "banking77": {"full": ("smoothing", "full ls0.1"), "lora": ("adapters-seeds", "lora"),
                  "bitfit": ("adapters-seeds", "bitfit")},
}

TARGETS_NOTE = NOTES["targets"]


def _sweep_rows(dataset: str, grid: str, label: str) -> dict[int, dict]:
    return {r["seed"]: r for r in _jsonl(RESULTS / "sweeps" / f"{dataset}-{grid}.jsonl") if r["label"] == label}


def targets_section() -> str:
    blocks = []
    for dataset, sources in TARGET_ROWS.items():
        rows = {method: _sweep_rows(dataset, *where) for method, where in sources.items()}
        seeds = sorted(set.intersection(*(set(r) for r in rows.values())))
        if not seeds:
            continue
        head = "| seed | `full` | " + " | ".join(f"`{m}` | gap" for m, _, _ in ADAPTER_TARGETS) + " |"
        lines = [head, "|---" * (2 + 2 * len(ADAPTER_TARGETS)) + "|"]
        gaps = {m: [] for m, _, _ in ADAPTER_TARGETS}
        for seed in seeds:
            full = rows["full"][seed]["test_accuracy"]
            cells = []
            for method, _, _ in ADAPTER_TARGETS:
                acc = rows[method][seed]["test_accuracy"]
                gaps[method].append(100 * (full - acc))
                cells.append(f"{acc:.4f} | {gaps[method][-1]:.1f}")
            lines.append(f"| {seed} | {full:.4f} | " + " | ".join(cells) + " |")
        verdicts = []
        for method, name, target in ADAPTER_TARGETS:
            g = gaps[method]
            inside = sum(x <= target for x in g)
            verdicts.append(NOTES["targets_verdict"].format(name=name, mean=f"{sum(g) / len(g):.1f}",
                                                            target=f"{target:g}", inside=inside, n=len(g)))
        blocks.append(f"**{dataset}**\n\n" + "\n".join(lines) + "\n\n" + "; ".join(verdicts) + ".")
    if not blocks:
        return ""
    return (TARGETS_NOTE + "\n" + "\n\n".join(blocks) + "\n\n" + RUN_NOTES.get("targets", "") + " "
            + _longer_lora() + "\n")


def _longer_lora() -> str:
    """SST-2 LoRA at 8 epochs against its 5-epoch default, seed by seed (the same dev split per seed)."""
    five = _sweep_rows("sst2", "lora-targets", "lora all lr2e-3 e5")
    eight = _sweep_rows("sst2", "lora-epochs", "lora e8")
    seeds = sorted(set(five) & set(eight))
    if not seeds:
        return ""
    ahead = sum(eight[s]["dev_auc"] > five[s]["dev_auc"] for s in seeds)  # LoRA keeps its best epoch
    pairs = ", ".join(f"{five[s]['test_accuracy']:.4f} -> {eight[s]['test_accuracy']:.4f}" for s in seeds)
    return NOTES["longer_lora"].format(ahead=ahead, n=len(seeds), pairs=pairs, seeds=", ".join(map(str, seeds)))
