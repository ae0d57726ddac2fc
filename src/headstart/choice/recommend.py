"""Which strategy to use, as data: an ordered table of rules, and `recommend()` which reads it.

The situation is described by five things, each with documented buckets:

* data size, by labelled training rows: ``none`` (0), ``small`` (< 5,000), ``medium`` (< 50,000),
  ``large`` (>= 50,000); and rows per class (fewer than 20 is few-shot territory);
* compute level, from `headstart.machine.compute_level` or given: very-low, low, medium, high;
* task complexity: ``simple``, ``standard``, ``fine-grained``, ``domain-specific`` or ``sequence``.
  Inferred when not given: more than 20 classes is ``fine-grained``; at most 5 classes with a median text of
  at most 64 words is ``simple``; anything else ``standard``. ``domain-specific`` (legal, clinical, code...)
  and ``sequence`` (word order and long context decide the label) cannot be read off the data: say so;
* flags: an unlabelled in-domain corpus, API-only use, text + image inputs.

The first rule that matches wins. A rule may name a strategy that is not built yet: the plan then says so,
and its `config` and `command` are for the best built fallback (given by the rule, or else the next
matching rule with a built strategy), so that what it tells you to run always runs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from headstart.data.types import DataStats
from headstart.errors import ConfigError
from headstart.machine import COMPUTE_LEVELS, Machine, compute_level, detect_machine
from headstart.strategies import OWN_COMMANDS

__all__ = [
    "BUILT_STRATEGIES", "COMPLEXITIES", "DATA_SIZES", "NOT_BUILT", "RULES", "Plan", "Rule", "Situation",
    "data_size", "infer_complexity", "recommend", "rules_table",
]

from headstart.choice.table import (  # noqa: F401  (re-exported: the table is part of this API)
    _ANY,
    BUILT_STRATEGIES,
    COMPLEXITIES,
    DATA_SIZES,
    FEW_SHOT_MAX_ROWS_PER_CLASS,
    FINE_GRAINED_MIN_CLASSES,
    MEDIUM_MAX_ROWS,
    NEAR_BOUNDARY,
    NOT_BUILT,
    PRE_STEPS,
    RULES,
    SIMPLE_MAX_CLASSES,
    SIMPLE_MAX_MEDIAN_WORDS,
    SMALL_MAX_ROWS,
    Rule,
    Situation,
)


@dataclass
class Plan:
    """A recommendation. `config` and `command` are what to run now: for a strategy that is not built
    (`built=False`), they are for `fallback`.
    """

    strategy: str
    config: dict
    reasons: list[str]
    command: str
    built: bool
    fallback: str | None
    alternatives: list[str]
    matched_rule: str
    compare_why: str | None = None  # when set, measuring beats trusting the table: why, and how
    compare_command: str | None = None

    def to_text(self) -> str:
        """A short explanation: the choice, why, and the command to run."""
        if self.built and self.fallback:  # a step before training (masked-LM pretraining), then a strategy
            head = f"Recommended: {self.strategy}, then {self.fallback}"
        elif self.built:
            head = f"Recommended: {self.strategy}"
        else:
            head = f"Recommended: {self.strategy} ({_not_built(self.strategy)}); use {self.fallback} now"
        if self.config:
            head += " [" + ", ".join(f"{k}={v}" for k, v in self.config.items()) + "]"
        lines = [head, "Why:", *(f"  - {r}" for r in self.reasons), "Run:", f"  {self.command}"]
        if self.alternatives:
            lines.append("Also worth trying: " + ", ".join(self.alternatives))
        if self.compare_command:
            lines.append(f"Check it on your data ({self.compare_why}): {self.compare_command}")
        lines.append(f"(rule: {self.matched_rule})")
        return "\n".join(lines)


def _not_built(strategy: str) -> str:
    note = NOT_BUILT.get(strategy, "unknown")
    return "not built and not planned" if note == "not planned" else f"not built yet: {note}"


def data_size(n_train: int) -> str:
    """Bucket a count of labelled training rows: none / small (< 5,000) / medium (< 50,000) / large."""
    if n_train <= 0:
        return "none"
    return "small" if n_train < SMALL_MAX_ROWS else "medium" if n_train < MEDIUM_MAX_ROWS else "large"


def infer_complexity(stats: DataStats) -> tuple[str, str]:
    """Guess the task complexity from the data; returns (complexity, the reason in words)."""
    median = stats.length_words.get("median", stats.length_words.get("mean", 0.0))
    if stats.n_classes >= FINE_GRAINED_MIN_CLASSES:
        return "fine-grained", (f"complexity inferred 'fine-grained': {stats.n_classes} classes "
                                f"(> {FINE_GRAINED_MIN_CLASSES - 1}) need more than a linear probe")
    if stats.n_classes <= SIMPLE_MAX_CLASSES and median <= SIMPLE_MAX_MEDIAN_WORDS:
        return "simple", (f"complexity inferred 'simple': {stats.n_classes} classes (<= {SIMPLE_MAX_CLASSES})"
                          f", median text {median:g} words (<= {SIMPLE_MAX_MEDIAN_WORDS})")
    return "standard", (f"complexity inferred 'standard': {stats.n_classes} classes, median text "
                        f"{median:g} words; pass complexity='domain-specific' or 'sequence' if it is")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"Unknown {name} {value!r}.",
            expected="one of " + ", ".join(allowed),
            found=repr(value),
            fix=f"pass {name}= one of the allowed values, or leave it out to infer it",
        )


def _command(strategy: str, config: dict, data_path: str | None) -> str:
    data = shlex.quote(data_path) if data_path else "DATA"
    if strategy == "zero-shot" and config.get("method") == "api":
        return (f"headstart zero-shot-api {data} --labels LABEL1,LABEL2 --base-url https://api.example.com/v1 "
                "--model MODEL   (key in OPENAI_API_KEY)")
    if strategy in OWN_COMMANDS:
        return OWN_COMMANDS[strategy].format(data=data)
    parts = ["headstart", "train", shlex.quote(data_path) if data_path else "DATA",
             "--strategy", strategy, "--out", f"runs/{strategy}"]
    if "top_n" in config:
        parts += ["--top-n", str(config["top_n"])]
    if "epochs" in config:
        parts += ["--epochs", str(config["epochs"])]
    return " ".join(parts)


def _fallback(rule: Rule, situation: Situation) -> tuple[Rule, bool]:
    """The built rule to run now for an unbuilt one, and whether it was derived from the table.

    `rule.fallback` wins when set (its reason already explains it); otherwise the next matching built rule.
    """
    if rule.fallback is not None:
        return next(r for r in reversed(RULES) if r.strategy == rule.fallback), False
    later = RULES[RULES.index(rule) + 1:]
    return next(r for r in later if r.strategy in BUILT_STRATEGIES and r.matches(situation)), True


def _context(stats: DataStats | None, size: str, level: str, machine: Machine | None, given: bool,
             held_out: bool = False) -> list[str]:
    if stats is None or size == "none":
        lines = ["no labelled training rows (data size 'none')"]
    else:
        bucket = {"small": f"< {SMALL_MAX_ROWS:,}", "medium": f"< {MEDIUM_MAX_ROWS:,}",
                  "large": f">= {MEDIUM_MAX_ROWS:,}"}[size]
        median = stats.length_words.get("median", stats.length_words.get("mean", 0.0))
        rows = (f"{stats.n_train + stats.n_dev:,} labelled rows ({stats.n_train:,} train + {stats.n_dev:,} held "
                f"out for dev; {size}: {bucket} training rows)" if held_out
                else f"{stats.n_train:,} labelled training rows ({size}: {bucket})")
        lines = [f"{rows}, {stats.n_classes} classes "
                 f"(~{stats.n_train / max(stats.n_classes, 1):,.0f} rows per class), imbalance "
                 f"{stats.imbalance_ratio:.1f}:1 (largest/smallest class), median text {median:g} words"]
        if stats.imbalance_ratio >= 10:
            lines.append(f"classes are imbalanced ({stats.imbalance_ratio:.1f}:1): judge by macro-F1, "
                         "not accuracy, and consider class weights")
    where = f"machine: {machine.describe()}" if machine is not None else "machine not checked"
    lines.append(f"compute level '{level}' ({'given; ' if given else ''}{where})")
    return lines


def recommend(
    stats: DataStats | None,
    machine: Machine | None = None,
    *,
    complexity: str | None = None,
    compute: str | None = None,
    unlabelled_corpus: bool = False,
    api_only: bool = False,
    multimodal: bool = False,
    data_path: str | None = None,
    held_out: bool = False,
) -> Plan:
    """Pick a strategy for this data and machine from RULES.

    Args:
        stats: the training data's statistics; None (or n_train 0) means no labelled data.
        machine: the hardware; detected when both it and `compute` are left out.
        complexity: one of COMPLEXITIES; inferred from `stats` when None.
        compute: one of "very-low", "low", "medium", "high"; overrides the machine's level.
        unlabelled_corpus: an unlabelled in-domain text corpus is available.
        api_only: the user wants to call a hosted model, not train one.
        multimodal: the inputs are text + images.
        data_path: the data file, for the command; "DATA" when None.
        held_out: the dev rows in `stats` were held out of the user's one file (the summary counts both).

    Returns:
        the Plan, with the reasons citing the data's and the machine's numbers.

    Example:
        >>> plan = recommend(stats, compute="low", data_path="reviews.csv")
        >>> plan.command
        'headstart train reviews.csv --strategy features --out runs/features'
    """
    if compute is not None:
        _check_choice("compute", compute, COMPUTE_LEVELS)
    if complexity is not None:
        _check_choice("complexity", complexity, COMPLEXITIES)
    if compute is None:
        machine = machine if machine is not None else detect_machine()
        level = compute_level(machine)
    else:
        level = compute
    size = data_size(stats.n_train) if stats is not None else "none"
    infer = complexity is None
    reasons = _context(stats, size, level, machine, given=compute is not None, held_out=held_out)
    if complexity is None and stats is not None and size != "none":
        complexity, why = infer_complexity(stats)
        reasons.append(why)
    elif complexity is not None:
        reasons.append(f"complexity '{complexity}' (given)")
    n_train = stats.n_train if stats is not None else 0
    n_classes = stats.n_classes if stats is not None else 0
    situation = Situation(size, level, complexity or "standard", n_train / max(n_classes, 1),
                          unlabelled_corpus, api_only, multimodal)
    rule = next(r for r in RULES if r.matches(situation))
    facts = {"n_train": n_train, "n_classes": n_classes, "rows_per_class": situation.rows_per_class}
    reasons.append(rule.reason.format(**facts))
    run, fallback = rule, None
    if rule.strategy not in BUILT_STRATEGIES:
        run, derived = _fallback(rule, situation)
        fallback = run.strategy
        why = f" (rule {run.name}): " + run.reason.format(**facts) if derived else "."
        if rule.strategy in PRE_STEPS:
            reasons.append(f"then fine-tune the adapted backbone with '{fallback}'{why}")
        else:
            reasons.append(f"'{rule.strategy}' is {_not_built(rule.strategy)}; "
                           f"the best built choice now is '{fallback}'{why}")
    alternatives = [a for a in rule.alternatives if a != run.strategy]
    alternatives = [a if a in BUILT_STRATEGIES else f"{a} ({_not_built(a)})" for a in alternatives]
    hint = _compare_hint(stats, situation, rule, run.strategy, infer, data_path)
    command = _command(run.strategy, run.config, data_path)
    if rule.strategy in PRE_STEPS:
        command = f"{PRE_STEPS[rule.strategy]} && {command} --backbone domain"
    return Plan(rule.strategy, dict(run.config), reasons, command,
                rule.strategy in BUILT_STRATEGIES or rule.strategy in PRE_STEPS, fallback, alternatives, rule.name,
                *(hint or (None, None)))


def _built_choice(situation: Situation) -> str:
    """The built strategy the table runs in a situation (an unbuilt rule's fallback)."""
    rule = next(r for r in RULES if r.matches(situation))
    return rule.strategy if rule.strategy in BUILT_STRATEGIES else _fallback(rule, situation)[0].strategy


def _near_ties(stats: DataStats, situation: Situation, infer: bool) -> list[str]:
    """Built strategies the table would pick for slightly different data: NEAR_BOUNDARY more or fewer rows
    and, when the complexity is inferred, longer or shorter texts or one class more or fewer. A different
    pick means the data sits on a boundary of the table, where two rules nearly tie."""
    factors = (1 - NEAR_BOUNDARY, 1 + NEAR_BOUNDARY)
    variants = [replace(situation, data=data_size(n), rows_per_class=n / max(stats.n_classes, 1))
                for n in (round(stats.n_train * f) for f in factors)]
    if infer:
        median = stats.length_words.get("median", stats.length_words.get("mean", 0.0))
        changed = [replace(stats, length_words={**stats.length_words, "median": median * f}) for f in factors]
        changed += [replace(stats, n_classes=stats.n_classes + d) for d in (-1, 1) if stats.n_classes + d >= 2]
        variants += [replace(situation, complexity=infer_complexity(s)[0]) for s in changed]
    current = _built_choice(situation)
    return list(dict.fromkeys(s for s in map(_built_choice, variants) if s != current))


def _compare_hint(stats: DataStats | None, situation: Situation, rule: Rule, run: str, infer: bool,
                  data_path: str | None) -> tuple[str, str] | None:
    """(why, the `headstart compare` command) when the table's pick is a close call: mid-sized data, or a
    situation near a boundary of the table. None when the table is clear."""
    if stats is None or situation.data == "none" or situation.api_only or situation.multimodal:
        return None
    why = [f"{stats.n_train:,} rows is mid-sized, where strategies score close together"
           ] if situation.data == "medium" else []
    ties = _near_ties(stats, situation, infer)
    if ties:
        why.append("the data is near a boundary of the table, where it would pick " + " or ".join(ties))
    if not why:
        return None
    names = list(dict.fromkeys([run, *ties, *(a for a in rule.alternatives if a in BUILT_STRATEGIES)]))
    if len(names) < 2:
        names.append("head" if run == "features" else "features")
    budget = "20m" if situation.data == "small" else "1h"
    command = " ".join(["headstart", "compare", shlex.quote(data_path) if data_path else "DATA", "--strategies",
                        ",".join(names), "--budget", budget, "--out", "runs/compare"])
    return "; ".join(why), command


def rules_table() -> list[dict]:
    """RULES as plain dicts (order = priority), for docs and `headstart recommend --rules`."""
    return [
        {"rule": r.name, "when": r.when(), "strategy": r.strategy,
         "built": r.strategy in BUILT_STRATEGIES or r.strategy in PRE_STEPS,
         "not_built_because": NOT_BUILT.get(r.strategy), "config": dict(r.config), "reason": r.reason,
         "fallback": r.fallback, "alternatives": list(r.alternatives)}
        for r in RULES
    ]
