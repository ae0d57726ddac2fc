"""Runs saved by earlier versions still load and predict as they did (tests/fixtures/runs, written by
tests/fixtures/make_runs.py: one self-contained `full` run per task)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import headstart
from fixtures.make_runs import INPUTS, predictions

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"


@pytest.mark.parametrize("task", list(INPUTS))
def test_a_saved_run_of_each_task_loads_and_predicts_as_it_did(task) -> None:
    model = headstart.load(RUNS / task)
    expected = json.loads((RUNS / task / "expected.json").read_text())
    got = json.loads(json.dumps(predictions(task, model)))
    if task in ("classification", "pairs"):  # probabilities: equal to the printed digits
        assert [p for row in got for p in row] == pytest.approx([p for row in expected for p in row], abs=1e-4)
    else:
        assert got == expected
