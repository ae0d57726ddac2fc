"""`headstart compare`: budget parsing, running order, the choice under constraints, the report, the
recommender's pointer to compare, and the bake-off end to end on the tiny BERT (in child processes)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from headstart.choice.compare import (
    MB,
    Candidate,
    Constraints,
    Leaderboard,
    check_strategies,
    choose,
    compare,
    parse_budget,
    parse_settings,
    settable_options,
)
from headstart.choice.compare.report import format_bytes, write_compare_report
from headstart.choice.recommend import recommend
from headstart.cli import app
from headstart.data.types import DataStats
from headstart.errors import ConfigError
from headstart.strategies import PLANNED, STRATEGIES
from headstart.strategies.head import HeadOnly

# module-scoped fixtures: keep this file's tests on one xdist worker
pytestmark = pytest.mark.xdist_group("compare")


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


def flat(text: str) -> str:
    """Output with line wrapping undone (rich wraps long lines at the terminal width)."""
    return " ".join(text.split())


# the children train with one thread: the tiny model gains nothing from more, and the machine is shared
def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "OMP_NUM_THREADS": "1"})


# 1) inputs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("20m", 1200), ("1h", 3600), ("1h30m", 5400),
                                           (" 2H 5s ", 7205), ("0.5m", 30)])
def test_parse_budget(text: str, seconds: float) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["20", "", "m", "0s", "20x", "30m1h", "1h1h", "-5m", "1h 30"])
def test_parse_budget_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ConfigError, match=match("cannot read the time budget", "expected: a positive duration",
                                                "found:", "fix:", "--budget 20m")):
        parse_budget(text)


def test_strategy_names_are_checked_against_the_registry(monkeypatch) -> None:
    assert check_strategies(" head,features,head, ") == ["head", "features"]
    monkeypatch.setitem(PLANNED, "warp", "warp tuning (issue 99)")
    with pytest.raises(ConfigError, match=match("'warp' is not built yet (warp tuning (issue 99))",
                                                "'nonsense' is not a strategy", "expected: comma-separated names",
                                                *STRATEGIES)):
        check_strategies("head,warp,nonsense")
    monkeypatch.setitem(STRATEGIES, "warp", HeadOnly)  # registered later: accepted, nothing else to change
    assert check_strategies(["warp", "head"]) == ["warp", "head"]
    with pytest.raises(ConfigError, match="no strategy to compare"):
        check_strategies(" , ")


def test_settings_are_typed_per_strategy() -> None:
    got = parse_settings(["lora.rank=16", "lora.lr=2e-3", "lora.target_modules=query, key", "top-n.top_n=3",
                          "top-n.gradual-unfreeze=yes", "full.schedule=slanted"], ["lora", "top-n", "full"])
    assert got == {"lora": {"rank": 16, "lr": 0.002, "target_modules": ["query", "key"]},
                   "top-n": {"top_n": 3, "gradual_unfreeze": True}, "full": {"schedule": "slanted"}}
    assert parse_settings([], ["lora"]) == {}
    assert "rank" in settable_options("lora") and "rank" not in settable_options("full")
    assert {"epochs", "lr"} <= set(settable_options("head")) and "seed" not in settable_options("head")


@pytest.mark.parametrize("item, words", [
    ("lora.rank", ("cannot read the setting 'lora.rank'", "expected: STRATEGY.OPTION=VALUE", "--set lora.rank=16")),
    ("rank=16", ("cannot read the setting 'rank=16'",)),
    ("bitfit.lr=1e-3", ("names 'bitfit', which is not a candidate", "expected: one of lora, full",
                        "add bitfit to --strategies")),
    ("full.rank=16", ("'full' has no setting 'rank'", "expected: one of train_embeddings, epochs, batch_size, lr")),
    ("lora.seed=1", ("'lora' has no setting 'seed'",)),
    ("lora.rank=big", ("cannot read the value of 'lora.rank=big'", "expected: rank: a whole number", "found:", "'big'")),
    ("lora.lr=fast", ("expected: lr: a number, e.g. 2e-3",)),
    ("full.warm_start=maybe", ("expected: warm_start: true or false",)),
    ("lora.rank=0", ("rank",)),  # the range check of the strategy's own options
    ("full.schedule=cosine", ("invalid value for schedule", "'linear', 'slanted'")),
])
def test_bad_settings_say_what_to_write(item: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match=match(*words)):
        parse_settings([item], ["lora", "full"])


def test_constraints_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=match("invalid value for max_seconds", "a positive number",
                                                "found:    0", "--max-seconds above 0")):
        Constraints(max_seconds=0)
    with pytest.raises(ConfigError, match="invalid value for max_adapter_mb"):
        Constraints(max_adapter_mb=float("nan"))


# 2) the choice, on synthetic rows ---------------------------------------------------------------------------


def row(strategy: str, metric: float, seconds: float, params: int = 66, memory: float = 400.0,
        adapter: int = 2_000) -> Candidate:
    return Candidate(strategy, "finished", dev_metric=metric, train_seconds=seconds, process_seconds=seconds + 5,
                     peak_memory_mb=memory, trainable_params=params, total_params=20_000_000,
                     adapter_bytes=adapter, run_dir=f"candidates/{strategy}")


ROWS = [row("features", 0.900, 2.0), row("head", 0.903, 8.0),
        row("lora", 0.927, 40.0, params=300_000, memory=1_200.0, adapter=int(1.2 * MB)),
        row("top-n", 0.930, 60.0, params=2_000_000, memory=1_500.0, adapter=8 * MB),
        Candidate("full", "stopped", "over budget (limit 10 s)", process_seconds=10.0, peak_memory_mb=900.0),
        Candidate("prefix", "failed", "RuntimeError: out of memory"), Candidate("ia3", "skipped", "budget spent")]


def test_choose_prefers_the_faster_of_two_near_ties() -> None:
    assert choose(ROWS, Constraints(), "macro_f1") == (
        "lora", "Best choice: lora, whose dev macro-F1 of 0.9270 is within 0.5 point of the best (top-n, "
                "0.9300) and which trains in 40.0 s instead of 60.0 s.")


def test_choose_the_best_when_no_other_is_close() -> None:
    assert choose(ROWS[:2] + ROWS[3:], Constraints(), "auc") == (
        "top-n", "Best choice: top-n, dev AUC 0.9300 with 60.0 s of training and 2,000,000 trainable parameters.")


@pytest.mark.parametrize("constraints, choice, words", [
    (Constraints(max_seconds=30), "features", ("under your constraints (train time <= 30 s)",
                                               "within 0.5 point of the best (head, 0.9030)", "2.0 s instead of 8.0 s")),
    (Constraints(max_memory_mb=1_300), "lora", ("(peak memory <= 1,300 MB): lora, dev macro-F1 0.9270",)),
    (Constraints(max_params=1_000_000, max_adapter_mb=1), "features", ("trainable parameters <= 1,000,000, "
                                                                       "adapter size <= 1 MB",)),
    (Constraints(max_adapter_mb=5), "lora", ("adapter size <= 5 MB",)),
    (Constraints(max_seconds=1), None, ("No finished candidate meets the constraints (train time <= 1 s)",
                                        "without them the best is top-n (dev macro-F1 0.9300", "--max-*")),
])
def test_choose_under_constraints(constraints: Constraints, choice: str | None, words: tuple[str, ...]) -> None:
    picked, sentence = choose(ROWS, constraints, "macro_f1")
    assert picked == choice
    assert all(w in sentence for w in words), sentence


def test_violations_name_the_measure_and_the_limit() -> None:
    limits = Constraints(max_seconds=30, max_memory_mb=1_000, max_params=1_000_000, max_adapter_mb=5)
    assert limits.violations(ROWS[3]) == ["train time 60 s > 30 s", "peak memory 1,500 MB > 1,000 MB",
                                          "trainable parameters 2,000,000 > 1,000,000", "adapter size 8 MB > 5 MB"]
    assert limits.violations(ROWS[0]) == []
    assert Constraints(max_adapter_mb=1).violations(Candidate("x", "finished")) == ["adapter size unknown"]


def test_nothing_finished_says_what_to_do() -> None:
    choice, sentence = choose(ROWS[4:], Constraints(), "auc")
    assert choice is None and "No candidate finished" in sentence and "--budget" in sentence


# 3) the report, from synthetic rows -------------------------------------------------------------------------


def synthetic_board() -> dict:
    rows = [*ROWS, Candidate("odd<b>", "failed", "ValueError: bad <script>")]
    constraints = Constraints(max_seconds=50)
    for r in rows:
        r.violations = constraints.violations(r) if r.status == "finished" else []
    choice, sentence = choose(rows, constraints, "macro_f1")
    files = {name: {"file": f"split/{name}.jsonl", "rows": n, "sha256": "ab" * 32}
             for name, n in (("train", 36), ("dev", 4), ("test", 10))}
    split = {"files": files, "dev": "held out from the training data: 4 of 40 rows, stratified, seed 0",
             "labels": ["neg", "pos"], "multilabel": False}
    return Leaderboard(rows, "macro_f1", choice, sentence, constraints, 1200.0, 321.0, split,
                       {"split": "test", "values": {"majority": 0.33, "tfidf": 0.81}},
                       {"backbone": "minilm", "seed": 0, "max_length": 128, "epochs": None,
                        "data": {"train": "data/reviews.csv", "dev": None, "test": "data/test.csv"}}).to_dict()


def test_report_files_from_synthetic_rows(tmp_path: Path) -> None:
    board = synthetic_board()
    md, page = write_compare_report(board, tmp_path)
    for name in ("leaderboard.json", "leaderboard.csv", "report.md", "report.html", "metric_vs_time.png",
                 "metric_vs_params.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "leaderboard.json").read_text()) == json.loads(json.dumps(board))
    frame = pd.read_csv(tmp_path / "leaderboard.csv", keep_default_na=False)
    assert list(frame.strategy) == [r["strategy"] for r in board["rows"]]
    assert {"dev_macro_f1", "test_macro_f1", "adapter_bytes", "violations"} <= set(frame.columns)
    assert frame.set_index("strategy").loc["top-n", "violations"] == "train time 60 s > 50 s"
    html = page.read_text()
    assert board["choice"] == "lora" and "Best choice under your constraints (train time &lt;= 50 s): lora" in html
    for words in ("stopped: over budget (limit 10 s)", "skipped: budget spent", "failed: RuntimeError: out of memory",
                  "Same split for every candidate", "split/train.jsonl", "TF-IDF + LR", "metric_vs_params.png",
                  "<strong>lora</strong>", "1.2 MB"):
        assert words in html, words
    assert "<script>" not in html and "bad &lt;script&gt;" in html  # user text is escaped
    assert "Test macro-F1" in md.read_text() and "| lora |" not in md.read_text()  # the choice is bold in md


def test_format_bytes() -> None:
    assert [format_bytes(n) for n in (None, 512, 98_765, 8 * MB)] == ["n/a", "512 B", "96.5 KB", "8.0 MB"]


# 4) the recommender points at compare when the table is a close call -------------------------------------


def stats(n_train: int, n_classes: int = 3, median: float = 12.0) -> DataStats:
    return DataStats(n_train=n_train, n_dev=n_train // 10, n_test=0, n_classes=n_classes, multilabel=False,
                     class_counts={f"c{i}": n_train // n_classes for i in range(n_classes)}, imbalance_ratio=1.5,
                     length_words={"mean": median, "median": median, "p95": 3 * median, "max": 5 * median})


def test_recommend_says_when_to_compare() -> None:
    medium = recommend(stats(20_000), compute="low", data_path="d.csv")
    assert medium.compare_command == "headstart compare d.csv --strategies top-n,features --budget 1h --out runs/compare"
    assert "Check it on your data (20,000 rows is mid-sized" in medium.to_text()
    # 4,500 rows: 20% more would be medium data, where the table picks top-n instead of head
    edge = recommend(stats(4_500, n_classes=10, median=100), compute="low", data_path="d.csv")
    assert edge.strategy == "head" and "near a boundary of the table, where it would pick top-n" in edge.compare_why
    assert edge.compare_command.startswith("headstart compare d.csv --strategies head,top-n,features --budget 20m")
    clear = recommend(stats(1_200), compute="low", data_path="d.csv")
    assert clear.compare_command is None and "headstart compare" not in clear.to_text()


# 5) end to end, on the tiny BERT ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_csv(reviews_csv) -> Path:
    return reviews_csv


def test_compare_end_to_end(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ("compare", data_csv, "--strategies", "head,features", "--budget", "5m", "--out", out, "--backbone",
            tiny_bert, "--epochs", 1, "--max-length", 16, "--text-column", "review", "--label-column", "y",
            "--max-params", 1_000_000)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    board = json.loads((out / "leaderboard.json").read_text())
    rows = [r for r in board["rows"] if r["strategy"] != "ensemble"]  # an ensemble row joins when it wins on dev
    assert [r["strategy"] for r in rows] == ["head", "features"]  # in the order given
    for r in rows:
        assert r["status"] == "finished" and r["meets_constraints"], r
        assert 0 <= r["dev_metric"] <= 1 and r["test_metric"] is None
        assert r["trainable_params"] == 32 * 2 + 2 and r["total_params"] > r["trainable_params"]
        assert 0 < r["adapter_bytes"] < 100_000  # head only: the frozen backbone is referenced, not copied
        assert r["peak_memory_mb"] > 50 and r["train_seconds"] >= 0
    assert board["choice"] in ("features", "head", "ensemble") and board["primary_metric"] == "auc"
    assert "Best choice under your constraints (trainable parameters <= 1,000,000)" in flat(result.output)
    assert "leaderboard" in result.output and "report.html" in result.output.replace("\n", "")  # a long tmp path wraps
    html = (out / "report.html").read_text()
    assert "headstart compare: 2 strategies on reviews.csv" in html and "Same split for every candidate" in html

    # the same rows for both: each run read the shared files, and they hold all 40 rows once
    split = {name: (out / "split" / f"{name}.jsonl").resolve() for name in ("train", "dev")}
    for r in rows:
        config = json.loads((out / r["run_dir"] / "config.json").read_text())
        assert config["data"]["train"] == str(split["train"]) and config["data"]["dev"] == str(split["dev"])
        metrics = json.loads((out / r["run_dir"] / "metrics.json").read_text())
        assert metrics["n_train"] == board["split"]["files"]["train"]["rows"] == 36
    shared = [json.loads(line)["text"] for name in ("train", "dev") for line in split[name].read_text().splitlines()]
    assert sorted(shared) == sorted(pd.read_csv(data_csv).review)

    again = invoke(*args)  # never replaces a comparison silently
    assert again.exit_code == 1 and "already holds a finished comparison" in flat(again.output)
    assert "--overwrite" in flat(again.output) and "Traceback" not in again.output


def test_compare_tries_an_ensemble_of_the_best_candidates(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    """The ensemble step ranks the candidates on dev, scores the mean of the top k from their saved dev
    probabilities, and builds the ensemble only when an average beats the best single one; an ensemble
    folder predicts the mean of its members, through `headstart predict`."""
    from sklearn.metrics import roc_auc_score

    from headstart.ensemble import EnsembleClassifier, save_ensemble
    from headstart.tasks.registry import load

    out = tmp_path / "cmp"
    result = invoke("compare", data_csv, "--strategies", "features,head,top-n", "--budget", "5m", "--out", out,
                    "--backbone", tiny_bert, "--epochs", 2, "--max-length", 16, "--text-column", "review",
                    "--label-column", "y")
    assert result.exit_code == 0, result.output
    board = json.loads((out / "leaderboard.json").read_text())
    runs = {r["strategy"]: r for r in board["rows"] if r["strategy"] != "ensemble"}
    labels = board["split"]["labels"]
    y = [labels.index(json.loads(line)["label"]) for line in (out / "split" / "dev.jsonl").read_text().splitlines()]
    dev = {name: np.load(out / r["run_dir"] / "predictions.npz")["dev"] for name, r in runs.items()}
    auc = {name: roc_auc_score(y, p[:, 1]) for name, p in dev.items()}
    for name, r in runs.items():  # the saved probabilities are the ones the leaderboard scored
        assert r["dev_metric"] == pytest.approx(auc[name], abs=1e-6)
    tried = board["ensemble"]
    ranked = sorted(runs, key=lambda n: -auc[n])
    assert tried["ranked_by_dev"] == ranked
    means = [roc_auc_score(y, np.mean([dev[n] for n in ranked[:k]], 0)[:, 1]) for k in (1, 2, 3)]
    assert tried["dev_by_k"] == pytest.approx(means, abs=1e-4)
    best_k = 1 + int(np.argmax(means))
    assert tried["members"] == ranked[:best_k] and tried["built"] is (best_k > 1)
    assert ("ensemble" in [r["strategy"] for r in board["rows"]]) is (best_k > 1)
    assert "Ensemble (mean of the probabilities of the top k candidates" in (out / "report.md").read_text()

    # an ensemble folder (here of the top two, whatever the rule chose) predicts the mean of its members
    folders = [out / runs[n]["run_dir"] / "model" for n in ranked[:2]]
    save_ensemble(tmp_path / "ens", folders, ranked[:2], labels, multilabel=False)
    texts = ["a great film", "dull and far too long"]
    mean = np.mean([load(f).predict_proba(texts) for f in folders], 0)
    ensemble = load(tmp_path / "ens")
    assert isinstance(ensemble, EnsembleClassifier) and ensemble.names == ranked[:2]
    np.testing.assert_allclose(ensemble.predict_proba(texts), mean, atol=1e-6)
    printed = invoke("predict", tmp_path / "ens", *texts, "--json")
    assert printed.exit_code == 0, printed.output
    lines = [line[line.index('{"text"'):] for line in printed.output.splitlines() if '{"text"' in line]  # after
    scores = [json.loads(line)["scores"] for line in lines]  # any progress bar on the same line (stderr is mixed in)
    assert [s[labels[1]] for s in scores] == pytest.approx(mean[:, 1], abs=1e-4)

    evaluated = invoke("evaluate", tmp_path / "ens", out / "split" / "dev.jsonl")  # columns: from the members' runs
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((tmp_path / "ens" / "eval-dev" / "metrics.json").read_text())
    assert metrics["strategy"] == "ensemble" and (tmp_path / "ens" / "eval-dev" / "report.html").is_file()
    assert metrics["metrics"]["auc"] == pytest.approx(means[1], abs=1e-4)  # the mean of the top two on dev

    shutil.rmtree(out / runs[ranked[0]]["run_dir"] / "model")  # a member gone: a clear error, no traceback
    broken = invoke("predict", tmp_path / "ens", "text")
    assert broken.exit_code == 1 and "points at members that are gone" in flat(broken.output)
    assert "Traceback" not in broken.output


def test_an_ensemble_needs_two_members_with_the_same_labels() -> None:
    from headstart.ensemble import EnsembleClassifier, select_top_k

    class Fixed:
        def __init__(self, labels, proba=None, multilabel=False):
            self.labels_, self.multilabel_, self.proba = labels, multilabel, proba

        def predict_proba(self, texts):
            return self.proba

        def _texts(self, X):
            return list(X)

    # multi-label: the mean of the members' independent probabilities, labels at >= 0.5
    tags = EnsembleClassifier([Fixed(["x", "y"], np.array([[.9, .2], [.4, .7]]), True),
                               Fixed(["x", "y"], np.array([[.3, .9], [.2, .4]]), True)])
    np.testing.assert_allclose(tags.predict_proba(["a", "b"]), [[.6, .55], [.3, .55]])
    assert [tuple(row) for row in tags.predict(["a", "b"])] == [("x", "y"), ("y",)]
    with pytest.raises(ConfigError, match="at least two members"):
        EnsembleClassifier([Fixed(["a", "b"])])
    with pytest.raises(ConfigError, match="trained for different labels"):
        EnsembleClassifier([Fixed(["a", "b"]), Fixed(["a", "c"])])
    # select_top_k: the smaller k on a tie, a larger one only when its average scores higher
    y = np.array([0, 0, 1, 1])
    accuracy = lambda p: float((p.argmax(1) == y).mean())  # noqa: E731
    a = np.array([[.9, .1], [.6, .4], [.4, .6], [.6, .4]])  # right on 3 rows, barely wrong on the last
    b = np.array([[.6, .4], [.4, .6], [.4, .6], [.1, .9]])  # right on 3 rows, barely wrong on the second
    assert select_top_k({"a": a, "b": b}, accuracy) == (["a", "b"], [0.75, 1.0])
    assert select_top_k({"a": a, "b": a.copy()}, accuracy)[0] == ["a"]


def test_each_candidate_gets_its_own_settings(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    result = invoke("compare", data_csv, "--strategies", "head,top-n", "--budget", "5m", "--out", tmp_path,
                    "--backbone", tiny_bert, "--epochs", 1, "--max-length", 16, "--text-column", "review",
                    "--label-column", "y", "--set", "top-n.top_n=1", "--set", "top-n.epochs=2",
                    "--set", "head.lr=0.01")
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    by_name = {r["strategy"]: r for r in board["rows"]}
    assert by_name["top-n"]["options"] == {"top_n": 1, "epochs": 2} and by_name["head"]["options"] == {"lr": 0.01}
    assert board["settings"]["per_strategy"] == {"top-n": {"top_n": 1, "epochs": 2}, "head": {"lr": 0.01}}
    top = json.loads((tmp_path / by_name["top-n"]["run_dir"] / "config.json").read_text())
    head = json.loads((tmp_path / by_name["head"]["run_dir"] / "config.json").read_text())
    assert top["resolved"]["strategy"]["options"]["top_n"] == 1  # what actually trained
    assert top["resolved"]["train"]["epochs"] == 2
    assert head["resolved"]["train"]["lr"] == 0.01 and head["resolved"]["train"]["epochs"] == 1  # shared --epochs
    assert by_name["top-n"]["label"] == "top-n (top_n=1, epochs=2)" and by_name["head"]["label"] == "head (lr=0.01)"
    # the terminal table may wrap or cut a cell (its width depends on the terminal): the sentence names it whole
    assert f"Best choice: {by_name[board['choice']]['label']}," in flat(result.output)
    html = (tmp_path / "report.html").read_text()
    assert "top-n (top_n=1, epochs=2)" in html and "head (lr=0.01)" in html

    bad = invoke("compare", data_csv, "--out", tmp_path / "x", "--strategies", "head", "--set", "lora.rank=4")
    assert bad.exit_code == 1 and "not a candidate here" in flat(bad.output) and "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()  # checked before anything is written


def test_over_budget_stops_and_skips(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    result = invoke("compare", data_csv, "--strategies", "full,head", "--budget", "1s", "--out", tmp_path,
                    "--backbone", tiny_bert, "--text-column", "review", "--label-column", "y")
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    assert all(r["status"] in ("stopped", "skipped") for r in board["rows"]), board["rows"]
    skipped = [r for r in board["rows"] if r["status"] == "skipped"]
    assert all("--budget" in r["note"] and "would cover it" in r["note"] for r in skipped), skipped
    assert board["choice"] is None and "No candidate finished" in flat(result.output)
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize("args, words", [
    (("--strategies", "head,nonsense"), ("'nonsense' is not a strategy", "expected: comma-separated names")),
    (("--budget", "20"), ("cannot read the time budget '20'", "--budget 20m")),
    (("--max-memory-mb", "-1"), ("invalid value for max_memory_mb",)),
])
def test_user_errors_exit_2_without_a_traceback(args: tuple[str, ...], words: tuple[str, ...], data_csv: Path,
                                                tmp_path: Path) -> None:
    result = invoke("compare", data_csv, "--out", tmp_path / "x", *args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all(w in flat(result.output) for w in words), result.output
    assert not (tmp_path / "x").exists()


def test_a_failed_candidate_is_listed_and_the_next_one_runs(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    events: list[str] = []
    board = compare(data_csv, tmp_path, "lora,head", 300, text_column="review", label_column="y",
                    backbone=str(tiny_bert), epochs=1, max_length=16, on_event=events.append,
                    settings=["lora.target_modules=no_such_projection"])
    by = {r.strategy: r for r in board.rows}
    assert by["lora"].status == "failed" and by["head"].status == "finished"  # the failure did not stop the next
    assert "no_such_projection" in by["lora"].note and "Traceback" not in by["lora"].note
    assert "Traceback" in (tmp_path / "candidates" / "lora" / "train.log").read_text()  # the details stay in the log
    assert any(e.startswith("lora: failed") for e in events) and board.choice == "head"


def test_a_backbone_that_cannot_load_is_refused_before_any_candidate(data_csv: Path, tmp_path: Path) -> None:
    from headstart.errors import BackboneError

    with pytest.raises(BackboneError, match="no-such-model"):
        compare(data_csv, tmp_path / "c", "features,head", 300, text_column="review", label_column="y",
                backbone=str(tmp_path / "no-such-model"))


