"""The comparison's scheduler on fake candidates of known costs and scores: halving, protection, resume of
survivors, budget accounting and refusal. No model is trained here: a fake clock advances by each job's
true cost."""

from __future__ import annotations

import re

import pytest

from headstart.choice.compare.scheduler import Arm, Scheduler, rung_targets


class FakeRun:
    """Runs the scheduler to the end against a fake clock. `truth[name]` = (seconds per epoch, overhead,
    score after epoch t as a function of t); the arms' own estimates may differ from the truth."""

    def __init__(self, scheduler: Scheduler, truth: dict) -> None:
        self.s, self.truth, self.clock, self.jobs = scheduler, truth, 0.0, []

    def run(self) -> list[tuple[str, int, int]]:
        while (job := self.s.next_job(self.clock)) is not None:
            arm, target = job
            per_epoch, overhead, score = self.truth[arm.name]
            seconds = overhead + (target - arm.done) * per_epoch
            self.jobs.append((arm.name, arm.done, target))
            self.clock += seconds
            state = "finished" if target >= arm.epochs else "paused"
            self.s.report(arm, state=state, done=target, score=score(target), seconds=seconds)
        return self.jobs


def arms(**specs) -> list[Arm]:
    return [Arm(name, epochs=e, seconds_per_epoch=c, overhead=o, protected=p) for name, (e, c, o, p) in specs.items()]


@pytest.mark.parametrize(("epochs", "targets"), [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (4, [1, 2, 4]),
                                                   (5, [1, 2, 4, 5]), (8, [1, 2, 4, 8])])
def test_rung_targets(epochs: int, targets: list[int]) -> None:
    assert rung_targets(epochs) == targets


def test_the_worse_half_is_dropped_at_each_rung_and_the_best_runs_its_whole_schedule() -> None:
    a = arms(a=(4, 10, 0, False), b=(4, 10, 0, False), c=(4, 10, 0, False), d=(4, 10, 0, False))
    quality = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    truth = {n: (10, 0, lambda t, q=q: q + 0.01 * t) for n, q in quality.items()}
    jobs = FakeRun(Scheduler(a, budget=10_000), truth).run()
    state = {arm.name: arm.state for arm in a}
    assert state == {"a": "finished", "b": "dropped", "c": "dropped", "d": "dropped"}
    done = {arm.name: arm.done for arm in a}
    assert done == {"a": 4, "b": 2, "c": 1, "d": 1}  # rung 1: all four; rung 2: the better half; rung 3: one
    assert "worse half" in next(arm.note for arm in a if arm.name == "c")
    assert sum(j[2] - j[1] for j in jobs) == 4 + 2 + 1 + 1  # 8 epochs instead of 16 for all four


def test_survivors_resume_from_where_they_stopped_never_restart() -> None:
    a = arms(a=(8, 5, 1, False), b=(8, 5, 1, False), c=(8, 5, 1, False))
    truth = {n: (5, 1, lambda t, q=q: q) for n, q in {"a": 0.5, "b": 0.9, "c": 0.7}.items()}
    jobs = FakeRun(Scheduler(a, budget=10_000), truth).run()
    for name in "abc":
        mine = [(start, end) for n, start, end in jobs if n == name]
        assert mine[0][0] == 0
        assert all(prev[1] == nxt[0] for prev, nxt in zip(mine, mine[1:], strict=False)), mine  # contiguous
    assert [end for n, _, end in jobs if n == "b"] == [1, 2, 4, 8]


def test_protected_arms_are_never_dropped_and_run_first_in_each_rung() -> None:
    a = arms(fast=(4, 1, 0, False), good=(4, 1, 0, False), default=(4, 50, 0, True))
    truth = {"fast": (1, 0, lambda t: 0.8), "good": (1, 0, lambda t: 0.9), "default": (50, 0, lambda t: 0.1)}
    jobs = FakeRun(Scheduler(a, budget=10_000), truth).run()
    assert {arm.name: arm.state for arm in a}["default"] == "finished"
    first_of_rung = [j for j in jobs if j[1] == 0][0]
    assert first_of_rung[0] == "default"  # protected first, even though it is the dearest


def test_a_closed_form_candidate_finishes_in_the_first_rung() -> None:
    a = arms(features=(1, 0, 30, False), full=(3, 20, 5, False))
    truth = {"features": (0, 30, lambda t: 0.7), "full": (20, 5, lambda t: 0.8 + 0.01 * t)}
    FakeRun(Scheduler(a, budget=10_000), truth).run()
    assert [(arm.name, arm.state, arm.done) for arm in a] == [("features", "finished", 1), ("full", "finished", 3)]


def test_a_job_the_budget_cannot_cover_is_not_started_and_names_the_budget_that_would() -> None:
    a = arms(cheap=(2, 10, 0, False), dear=(2, 500, 0, False))
    truth = {"cheap": (10, 0, lambda t: 0.5), "dear": (500, 0, lambda t: 0.9)}
    run = FakeRun(Scheduler(a, budget=120), truth)
    jobs = run.run()
    dear = next(arm for arm in a if arm.name == "dear")
    assert dear.state == "skipped" and all(n != "dear" for n, _, _ in jobs)
    assert run.clock <= 120
    suggested = re.search(r"--budget (\d+)m would cover it", dear.note)
    assert suggested and "needs about 500 s" in dear.note
    # and the budget it names does cover it
    a2 = arms(cheap=(2, 10, 0, False), dear=(2, 500, 0, False))
    FakeRun(Scheduler(a2, budget=60 * int(suggested.group(1))), truth).run()
    assert next(arm for arm in a2 if arm.name == "dear").done >= 1


def test_a_survivor_whose_next_rung_no_longer_fits_is_stopped_with_its_epochs_kept() -> None:
    a = arms(a=(4, 30, 0, False), b=(4, 30, 0, False))
    truth = {"a": (30, 0, lambda t: 0.9), "b": (30, 0, lambda t: 0.1)}
    run = FakeRun(Scheduler(a, budget=100), truth)  # rung 1: 60 s; a's rung 2 (one more epoch) fits, rung 3 not
    run.run()
    best = next(arm for arm in a if arm.name == "a")
    assert best.state == "stopped" and best.done == 2 and best.score == 0.9
    assert "epoch 4 of 4" in best.note
    assert run.clock <= 100


def test_budget_accounting_uses_what_the_jobs_really_took() -> None:
    # the arm's estimate (1 s per epoch) is ten times too low: after its first job the scheduler knows better
    a = arms(x=(4, 1, 0, False), y=(4, 1, 0, False))
    truth = {"x": (10, 0, lambda t: 0.9), "y": (10, 0, lambda t: 0.5)}
    run = FakeRun(Scheduler(a, budget=45), truth)
    run.run()
    x = next(arm for arm in a if arm.name == "x")
    assert x.seconds_per_epoch == pytest.approx(10)
    assert run.clock <= 45  # rung 1 = 20 s, rung 2 = 10 s; rung 3 (20 s) would pass the budget: not started
    assert x.done == 2 and x.state == "stopped"


def test_lower_is_better_metrics_keep_the_lowest() -> None:
    a = arms(a=(2, 1, 0, False), b=(2, 1, 0, False))
    truth = {"a": (1, 0, lambda t: 0.2), "b": (1, 0, lambda t: 0.7)}
    FakeRun(Scheduler(a, budget=100, greater_is_better=False), truth).run()
    assert {arm.name: arm.state for arm in a} == {"a": "finished", "b": "dropped"}


def test_a_failed_arm_is_left_out_of_the_halving() -> None:
    a = arms(a=(2, 1, 0, False), b=(2, 1, 0, False), c=(2, 1, 0, False))
    s = Scheduler(a, budget=100)
    clock = 0.0
    while (job := s.next_job(clock)) is not None:
        arm, target = job
        clock += 1
        if arm.name == "a":
            s.report(arm, state="failed", done=0, score=None, seconds=1, note="out of memory")
        else:
            s.report(arm, state="finished" if target >= 2 else "paused", done=target,
                     score={"b": 0.6, "c": 0.4}[arm.name], seconds=1)
    assert {arm.name: arm.state for arm in a} == {"a": "failed", "b": "finished", "c": "dropped"}
