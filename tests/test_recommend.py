"""The recommender's table, row by row, and the machine levels it is written against."""

from __future__ import annotations

import itertools

import pytest

from headstart.choice import recommend as rec
from headstart.choice.recommend import BUILT_STRATEGIES, NOT_BUILT, RULES, data_size, recommend, rules_table
from headstart.data.types import DataStats
from headstart.errors import ConfigError
from headstart.machine import COMPUTE_LEVELS, Machine, compute_level, detect_machine


def make_stats(n_train: int, n_classes: int = 3, median: float = 12.0, imbalance: float = 1.5) -> DataStats:
    counts = {f"c{i}": max(n_train // max(n_classes, 1), 1) for i in range(n_classes)}
    return DataStats(
        n_train=n_train, n_dev=n_train // 10, n_test=0, n_classes=n_classes, multilabel=False,
        class_counts=counts, imbalance_ratio=imbalance,
        length_words={"mean": median, "median": median, "p95": median * 3, "max": median * 5},
    )


CPU_LAPTOP = Machine(cpu_count=8, memory_gb=16.0)
GPU_16 = Machine(cpu_count=8, memory_gb=32.0, gpu=True, gpu_name="NVIDIA T4", gpu_memory_gb=16.0)


# 1) one case per table row: (stats, keyword arguments, rule, strategy, built, fallback, config subset)
ROW_CASES = [
    (make_stats(1_200), {"compute": "low"}, "small-cpu-simple", "features", True, None,
     {"classifier": "logreg"}),
    (make_stats(1_200, 12), {"compute": "low"}, "small-cpu", "head", True, None, {}),
    (make_stats(2_000, 8), {"compute": "medium", "complexity": "domain-specific"}, "small-gpu-domain",
     "top-n", True, None, {"top_n": 2}),
    (make_stats(2_000), {"compute": "high"}, "small-gpu-simple", "features", True, None, {}),
    (make_stats(2_000, 40), {"compute": "medium"}, "small-gpu", "top-n", True, None, {"top_n": 2}),
    (make_stats(1_200), {"compute": "very-low"}, "small-very-low", "lora", True, None, {}),
    (make_stats(1_200, 30), {"compute": "very-low"}, "small-very-low", "lora", True, None, {}),
    (make_stats(20_000, 8), {"compute": "medium", "complexity": "sequence"}, "medium-sequence", "top-n",
     True, None, {"top_n": 4}),
    (make_stats(20_000, 8), {"compute": "high"}, "medium-gpu", "top-n", True, None, {"top_n": 4}),
    (make_stats(200_000), {"compute": "high"}, "large-high", "full", True, None, {}),
    (make_stats(200_000), {"compute": "medium"}, "large-medium", "top-n", True, None, {"top_n": 4}),
    (make_stats(20_000), {"compute": "low"}, "cpu-cache", "top-n", True, None,
     {"top_n": 2, "prefix_cache": True}),
    (make_stats(200_000), {"compute": "very-low"}, "cpu-cache", "top-n", True, None, {"prefix_cache": True}),
    (None, {"compute": "low", "api_only": True}, "no-labels-api-only", "zero-shot", True, None,
     {"method": "api"}),
    (make_stats(0), {"compute": "high"}, "no-labels", "zero-shot", True, None, {}),
    (make_stats(3_000), {"compute": "low", "api_only": True}, "api-only", "zero-shot", True, None,
     {"method": "api"}),
    (make_stats(3_000, 8), {"compute": "medium", "unlabelled_corpus": True}, "unlabelled-texts", "distill", True,
     None, {}),
    (make_stats(3_000, 8), {"compute": "medium", "unlabelled_corpus": True, "complexity": "domain-specific"},
     "unlabelled-corpus", "mlm-pretrain", True, "top-n", {"top_n": 2}),
    (make_stats(20_000, 8), {"compute": "low", "unlabelled_corpus": True}, "unlabelled-corpus", "mlm-pretrain", True,
     "top-n", {"top_n": 2}),
    (make_stats(60, 6), {"compute": "high"}, "few-shot", "few-shot", True, None, {}),
    (make_stats(3_000), {"compute": "medium", "multimodal": True}, "text-and-image", "multimodal", False,
     "features", {}),
]


@pytest.mark.parametrize(("stats", "kwargs", "rule", "strategy", "built", "fallback", "config"), ROW_CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(ROW_CASES)])
def test_each_rule_row(stats, kwargs, rule, strategy, built, fallback, config):
    plan = recommend(stats, data_path="data.csv", **kwargs)
    assert (plan.matched_rule, plan.strategy, plan.built, plan.fallback) == (rule, strategy, built, fallback)
    assert config.items() <= plan.config.items()
    runs = fallback or strategy  # a pre-step (mlm-pretrain) is built and names the strategy that follows
    if runs in rec.OWN_COMMANDS:  # zero-shot and few-shot have commands of their own
        assert plan.command.startswith(f"headstart {runs}") or f"&& headstart {runs} data.csv" in plan.command
        assert "data.csv" in plan.command  # distill: after the teacher's `headstart train`
    else:
        assert f"--strategy {runs} --out runs/{runs}" in plan.command


def test_every_table_row_is_reachable_and_required_rows_exist():
    matched = {c[2] for c in ROW_CASES}
    assert matched == {r.name for r in RULES} - {"default"}
    assert len({r.name for r in RULES}) == len(RULES)


# 2) strategies that are not built are named, flagged, and given a built fallback that runs
_NAMED = {r.strategy for r in RULES} | {a for r in RULES for a in r.alternatives}


@pytest.mark.parametrize("unbuilt", sorted(_NAMED - set(BUILT_STRATEGIES) - set(rec.PRE_STEPS)))
def test_every_unbuilt_strategy_is_named_in_the_table(unbuilt):
    assert unbuilt in NOT_BUILT, f"{unbuilt} is in the table but not declared as not built"


def test_all_situations_give_a_runnable_plan():
    sizes = {"none": None, "small": make_stats(1_000), "medium": make_stats(10_000),
             "large": make_stats(80_000)}
    for (size, stats), level, complexity, flags in itertools.product(
        sizes.items(), COMPUTE_LEVELS, rec.COMPLEXITIES, itertools.product([False, True], repeat=3)
    ):
        corpus, api, mm = flags
        plan = recommend(stats, compute=level, complexity=complexity, unlabelled_corpus=corpus,
                         api_only=api, multimodal=mm)
        assert plan.matched_rule != "default", (size, level, complexity, flags)
        assert plan.built == (plan.strategy in BUILT_STRATEGIES or plan.strategy in rec.PRE_STEPS)
        runs = plan.fallback or plan.strategy
        assert runs in BUILT_STRATEGIES
        prefix = rec.PRE_STEPS[plan.strategy] + " && " if plan.strategy in rec.PRE_STEPS else ""
        if runs == "zero-shot":
            assert plan.command.startswith("headstart zero-shot-api DATA" if api else "headstart zero-shot DATA")
        elif runs == "few-shot":
            assert plan.command == "headstart few-shot DATA --out runs/few-shot"
        elif runs == "distill":  # the teacher's run, then the student's
            assert plan.command.startswith("headstart train DATA --backbone mpnet") and corpus and size == "small"
            assert "&& headstart distill DATA --teacher runs/teacher --unlabeled" in plan.command
        else:
            assert plan.command.startswith(f"{prefix}headstart train DATA --strategy {runs} --out runs/{runs}")
        if not plan.built:
            assert any("not built" in r for r in plan.reasons)


def test_unbuilt_plan_text_names_the_issue_and_the_fallback(monkeypatch):
    plan = recommend(make_stats(80, 10), compute="low", data_path="d.csv")
    text = plan.to_text()
    assert "Recommended: few-shot" in text and "headstart few-shot d.csv --out runs/few-shot" in text
    monkeypatch.setitem(rec.NOT_BUILT, "few-shot", "SetFit-style few-shot (issue 5)")
    monkeypatch.setattr(rec, "BUILT_STRATEGIES", tuple(s for s in rec.BUILT_STRATEGIES if s != "few-shot"))
    plan = recommend(make_stats(80, 10), compute="low", data_path="d.csv")
    text = plan.to_text()
    assert "few-shot (not built yet: SetFit-style few-shot (issue 5))" in text
    assert "headstart train d.csv --strategy" in text
    lora = recommend(make_stats(1_200), compute="very-low", data_path="d.csv").to_text()
    assert "Recommended: lora" in lora and "not built" not in lora
    mm = recommend(make_stats(1_200), compute="low", multimodal=True)
    assert "not built and not planned" in mm.to_text()


def test_mlm_pretrain_runs_first_then_what_the_table_says_without_the_corpus():
    stats = make_stats(20_000, 8)
    with_corpus = recommend(stats, compute="medium", complexity="sequence", unlabelled_corpus=True)
    without = recommend(stats, compute="medium", complexity="sequence")
    assert with_corpus.strategy == "mlm-pretrain" and with_corpus.built and with_corpus.fallback == "top-n"
    assert with_corpus.command == ("headstart pretrain CORPUS --out backbones/domain && " + without.command
                                   + " --backbone domain")
    assert with_corpus.config == without.config == {"top_n": 4}
    assert "Recommended: mlm-pretrain, then top-n" in with_corpus.to_text()


# 3) validation of overrides
def test_compute_override_is_validated():
    with pytest.raises(ConfigError, match=r"Unknown compute 'gpu'(.|\n)*very-low, low, medium, high"):
        recommend(make_stats(100), compute="gpu")


def test_complexity_is_validated():
    with pytest.raises(ConfigError, match=r"Unknown complexity 'hard'(.|\n)*domain-specific"):
        recommend(make_stats(100), compute="low", complexity="hard")


def test_compute_override_beats_the_machine():
    big = Machine(cpu_count=32, memory_gb=256.0, gpu=True, gpu_name="NVIDIA A100", gpu_memory_gb=80.0)
    plan = recommend(make_stats(1_200), big, compute="low")
    assert plan.strategy == "features"
    assert any("compute level 'low' (given; machine: 32 CPU cores" in r for r in plan.reasons)


def test_machine_is_detected_when_neither_machine_nor_compute_is_given(monkeypatch):
    monkeypatch.setattr(rec, "detect_machine", lambda: GPU_16)
    plan = recommend(make_stats(20_000, 8))
    assert plan.matched_rule == "medium-gpu"
    assert any("'medium'" in r and "NVIDIA T4 (16.0 GB)" in r for r in plan.reasons)


# 4) reasons cite numbers; the command is exact
def test_reasons_cite_data_and_machine_numbers():
    plan = recommend(make_stats(1_234, 4, median=20, imbalance=12.5), CPU_LAPTOP)
    text = "\n".join(plan.reasons)
    for expected in ("1,234 labelled training rows", "small: < 5,000", "4 classes", "~308 rows per class",
                     "imbalance 12.5:1", "median text 20 words", "macro-F1", "8 CPU cores, 16.0 GB RAM, no GPU",
                     "compute level 'low'", "complexity inferred 'simple'"):
        assert expected in text


def test_complexity_inference_is_explained():
    fine = recommend(make_stats(20_000, 50), GPU_16)
    assert any("inferred 'fine-grained': 50 classes" in r for r in fine.reasons)
    assert fine.strategy == "top-n"
    standard = recommend(make_stats(1_000, 3, median=300), CPU_LAPTOP)
    assert any("inferred 'standard'" in r and "300 words" in r for r in standard.reasons)
    assert standard.strategy == "head"


def test_command_string_is_exact():
    plan = recommend(make_stats(2_000, 8), GPU_16, complexity="domain-specific", data_path="data/tickets.csv")
    assert plan.command == "headstart train data/tickets.csv --strategy top-n --out runs/top-n --top-n 2"
    plain = recommend(make_stats(200_000), compute="high", data_path="my data.jsonl")
    assert plain.command == "headstart train 'my data.jsonl' --strategy full --out runs/full"
    assert recommend(make_stats(1_200), compute="low").command.startswith("headstart train DATA ")


def test_rules_table_for_docs():
    table = rules_table()
    assert [row["rule"] for row in table] == [r.name for r in RULES]
    by_name = {row["rule"]: row for row in table}
    assert by_name["small-very-low"]["built"] is True  # LoRA is built (issue 3)
    assert by_name["few-shot"]["built"] is True  # its own command (issue 5)
    assert by_name["text-and-image"]["built"] is False
    assert by_name["text-and-image"]["not_built_because"] == "not planned"
    assert by_name["small-cpu-simple"]["when"] == "data=small; compute=very-low|low; complexity=simple"
    assert by_name["default"]["when"] == "always"
    assert by_name["unlabelled-corpus"]["built"] is True  # `headstart pretrain` (issue 4), then the fallback
    assert all(row["strategy"] in BUILT_STRATEGIES or row["strategy"] in NOT_BUILT
               or row["strategy"] in rec.PRE_STEPS for row in table)


@pytest.mark.parametrize(("n", "bucket"), [(0, "none"), (1, "small"), (4_999, "small"), (5_000, "medium"),
                                           (49_999, "medium"), (50_000, "large")])
def test_data_size_thresholds(n, bucket):
    assert data_size(n) == bucket


# 5) the machine
@pytest.mark.parametrize(("machine", "level"), [
    (Machine(2, 4.0), "very-low"),
    (Machine(1, 7.9), "very-low"),
    (Machine(2, 8.0), "low"),
    (Machine(4, 4.0), "low"),
    (Machine(4, 16.0, True, "Apple MPS", None), "medium"),
    (Machine(8, 32.0, True, "NVIDIA T4", 16.0), "medium"),
    (Machine(8, 64.0, True, "NVIDIA A10G", 24.0), "high"),
])
def test_compute_level_thresholds(machine, level):
    assert compute_level(machine) == level


def test_machine_validation():
    with pytest.raises(ConfigError, match="cpu_count must be a positive"):
        Machine(cpu_count=0, memory_gb=8.0)
    with pytest.raises(ConfigError, match="cannot be negative"):
        Machine(cpu_count=2, memory_gb=-1.0)


def test_detect_machine_reads_this_machine():
    machine = detect_machine()
    assert machine.cpu_count >= 1 and machine.memory_gb > 0
    assert machine.gpu == (machine.gpu_name is not None)
    assert compute_level(machine) in COMPUTE_LEVELS
