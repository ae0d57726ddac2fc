"""Evidence-based `recommend` and `headstart auto`: the pick's arithmetic on known numbers, the evidence
path on the tiny BERT, and auto end to end (evidence, comparison, final fit, a run folder that loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from headstart.choice.advise import GAIN_MIN, advise, expectations, expected_scores, pick
from headstart.choice.data import read_task
from headstart.choice.recommend import recommend
from headstart.cli import app

pytestmark = pytest.mark.xdist_group("compare")  # trains in child processes: one worker

TABLE = {"full": {"q10": 0.1, "q50": 0.3, "q90": 0.5}, "lora": {"q10": 0.08, "q50": 0.2, "q90": 0.4}}


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "OMP_NUM_THREADS": "1"})


def test_expected_scores_close_a_share_of_the_probes_headroom() -> None:
    e = expected_scores(0.8, TABLE)
    assert e["features"] == (0.8, 0.8, 0.8)
    assert e["full"] == pytest.approx((0.82, 0.86, 0.90))  # 0.8 + q * 0.2
    low = expected_scores(0.3, TABLE, greater_is_better=False)  # a loss: lower is better
    assert low["full"][1] == pytest.approx(0.3 - 0.3 * 0.3)


def test_pick_takes_the_best_expectation_that_fits_the_budget() -> None:
    e = expected_scores(0.8, TABLE)
    assert pick(e, {"features": 10, "full": 300, "lora": 200}, 1200, ["features", "full", "lora"])[0] == "full"
    chosen, why = pick(e, {"features": 10, "full": 3000, "lora": 200}, 1200, ["features", "full", "lora"])
    assert chosen == "lora" and any("full would take about 50m00s" in w and "--budget" in w for w in why)
    chosen, why = pick(e, {"features": 2000, "full": 3000, "lora": 2000}, 60, ["features", "full", "lora"])
    assert chosen == "features" and any("nothing else fits" in w for w in why)


def test_pick_keeps_the_probe_when_fine_tuning_cannot_close_a_share_of_its_headroom() -> None:
    timid = {"full": {"q10": GAIN_MIN / 2, "q50": 0.3, "q90": 0.6}}  # at worst closes 2.5% of the headroom
    chosen, why = pick(expected_scores(0.8, timid), {"features": 10, "full": 300}, 1200, ["features", "full"])
    assert chosen == "features" and any("as good and cheapest" in w for w in why)
    # the gain is a share of the headroom, not points: near the ceiling a sure gain still counts
    sure = {"full": {"q10": 0.5, "q50": 0.6, "q90": 0.7}}
    assert pick(expected_scores(0.995, sure), {"features": 10, "full": 300}, 1200, ["features", "full"])[0] == "full"


def test_pick_judges_the_worst_case_not_the_middle() -> None:
    table = {"full": {"q10": 0.2, "q50": 0.3, "q90": 0.4}, "top-n": {"q10": 0.05, "q50": 0.4, "q90": 0.8}}
    assert pick(expected_scores(0.8, table), {"features": 10, "full": 300, "top-n": 200}, 1200,
                ["features", "full", "top-n"])[0] == "full"
    loss = expected_scores(0.3, table, greater_is_better=False)  # lower is better: the same order
    assert pick(loss, {"features": 10, "full": 300, "top-n": 200}, 1200, ["features", "full", "top-n"],
                greater_is_better=False)[0] == "full"


def test_near_ties_go_to_the_cheaper() -> None:
    e = expected_scores(0.8, {"full": {"q10": 0.2, "q50": 0.3, "q90": 0.4}, "lora": {"q10": 0.205, "q50": 0.31, "q90": 0.4}})
    chosen, why = pick(e, {"features": 10, "full": 300, "lora": 600}, 1200, ["features", "full", "lora"])
    assert chosen == "full" and any("cheapest of them" in w for w in why)  # lora +0.1 point at worst: a tie
    wide = expected_scores(0.8, {"full": {"q10": 0.2, "q50": 0.3, "q90": 0.4}, "lora": {"q10": 0.25, "q50": 0.3, "q90": 0.4}})
    assert pick(wide, {"features": 10, "full": 300, "lora": 600}, 1200, ["features", "full", "lora"])[0] == "lora"


def test_the_shipped_expectations_are_fitted_on_several_sets() -> None:
    table = expectations()
    assert {"full", "lora", "top-n"} <= set(table)
    for q in table.values():
        assert q["q10"] <= q["q50"] <= q["q90"] and q["sets"] >= 3


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory, toy_data) -> Path:
    texts, labels = toy_data
    path = tmp_path_factory.mktemp("auto") / "reviews.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


def test_advise_measures_on_the_data(data_csv: Path, tiny_bert: Path) -> None:
    task = read_task(data_csv)
    plan = recommend(task.stats, compute="low", data_path=str(data_csv), held_out=True)
    assert "80 labelled rows (72 train + 8 held out for dev" in plan.reasons[0]
    advice = advise(task, plan, budget_seconds=600, backbone=str(tiny_bert), max_length=16,
                    data_path=str(data_csv), candidates=("features", "head", "full", "lora"))
    assert advice.strategy in ("features", "full", "lora")
    assert set(advice.seconds) == {"features", "head", "full", "lora"} and all(s > 0 for s in advice.seconds.values())
    for lo, mid, hi in advice.expected.values():
        assert 0 <= lo <= mid <= hi <= 1
    assert advice.evidence.curve and advice.evidence.probe == advice.expected["features"][1]
    assert advice.why[0].startswith("frozen-feature probe: dev")
    assert f"--strategy {advice.strategy}" in advice.command
    text = advice.to_text()
    assert "expected dev" in text and "Measured here" in text and "The table's view" in text


def test_recommend_cli_with_and_without_the_probe(data_csv: Path, tiny_bert: Path) -> None:
    quick = invoke("recommend", data_csv, "--no-probe", "--compute", "low")
    assert quick.exit_code == 0, quick.output
    assert "Recommended:" in quick.output and "Measured here" not in quick.output
    measured = invoke("recommend", data_csv, "--json", "--backbone", tiny_bert, "--max-length", 16, "--budget", "10m")
    assert measured.exit_code == 0, measured.output
    advice = json.loads(measured.stdout)
    assert advice["evidence"]["probe"] is not None and advice["budget_seconds"] == 600
    assert advice["strategy"] in advice["expected"]


def test_auto_ends_with_a_run_folder_and_says_how_it_chose(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    out = tmp_path / "auto"
    result = invoke("auto", data_csv, "--budget", "6m", "--out", out, "--backbone", tiny_bert, "--max-length", 16)
    assert result.exit_code == 0, result.output
    how = json.loads((out / "how-chosen.json").read_text())
    assert how["strategy"] in ("features", "full", "lora", "top-n", "head")
    assert how["seconds"] <= 6 * 60 * 1.1
    assert {"evidence_seconds", "compare_seconds", "final_seconds"} <= set(how["steps"])
    assert (out / "how-chosen.md").read_text().startswith(f"# How {how['strategy']} was chosen")
    marker = json.loads((out / "headstart-run.json").read_text())
    assert {"choice", "how-chosen.md", "model", "metrics.json"} <= set(marker["files"])
    assert how["final"]["dev"] and "run saved" in result.output

    from headstart.tasks.registry import load

    model = load(out / "model")
    assert len(model.predict(["a lovely wonderful film"])) == 1
    again = invoke("auto", data_csv, "--budget", "6m", "--out", out, "--backbone", tiny_bert)
    assert again.exit_code == 1 and "already holds a finished run" in " ".join(again.output.split())


def test_a_cut_probe_sample_is_carried_up_its_learning_curve_never_down() -> None:
    from headstart.choice.evidence import SAMPLE_ROWS, at_reference_rows

    curve = [(250, 0.50), (500, 0.56)]  # +6 points per doubling; 500 -> 2,000 rows is two more doublings
    assert at_reference_rows(0.56, curve, n_train=10_000) == pytest.approx(0.56 + 2 * 0.06)
    assert at_reference_rows(0.56, curve, n_train=1_000) == pytest.approx(0.62)  # only as far as the rows go
    assert at_reference_rows(0.56, [(250, 0.60), (500, 0.56)], n_train=10_000) == 0.56  # a falling curve: as is
    assert at_reference_rows(0.9, [(SAMPLE_ROWS // 2, 0.8), (SAMPLE_ROWS, 0.9)], n_train=10_000) == 0.9
