"""Sentence-pair classification (tasks/pairs): reading, pair encoding, every strategy, runs, detection."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA
from headstart.cli import app
from headstart.errors import ConfigError, DataError
from headstart.runs import train_run
from headstart.tasks.pairs.estimator import HeadstartPairClassifier
from headstart.tasks.pairs.reader import PairText, read_pairs
from headstart.tasks.registry import detect_task, load

pytestmark = pytest.mark.xdist_group("pairs")
FAST = {"epochs": 2, "batch_size": 8, "max_length": 24, "patience": 0}
_WORDS = ("good", "great", "movie", "film", "bad", "awful", "show", "book", "the", "really")


def make_pairs(n: int, seed: int = 0) -> tuple[list[tuple[str, str]], list[str]]:
    """"same" when the second text repeats the first's key word, "different" otherwise: learnable only from
    the two texts together (neither alone says the label)."""
    rng = random.Random(seed)
    pairs, labels = [], []
    for i in range(n):
        a, b = rng.sample(_WORDS, 2)
        same = i % 2 == 0
        pairs.append((f"the {a} was here", f"a {a if same else b} there"))
        labels.append("same" if same else "different")
    return pairs, labels


def _csv(path: Path, pairs, labels, names=("text_a", "text_b")) -> Path:
    pd.DataFrame({names[0]: [a for a, _ in pairs], names[1]: [b for _, b in pairs], "label": labels}).to_csv(
        path, index=False)
    return path


def test_pair_text_is_a_string_with_its_parts() -> None:
    t = PairText("A man plays.", "Someone plays.")
    assert t == "A man plays. [SEP] Someone plays." and (t.a, t.b) == ("A man plays.", "Someone plays.")
    assert len(t.split()) == 6  # statistics and the TF-IDF baseline read it as text


def test_read_pairs_checks_each_column_with_its_line(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("text_a,text_b,label\nfirst,second,yes\nthird,,no\n")
    with pytest.raises(DataError, match=r"p.csv, line 3, column text_b: the text is empty"):
        read_pairs(path)
    path.write_text("text_a,label\nfirst,yes\n")
    with pytest.raises(DataError, match="text_b"):
        read_pairs(path)
    with pytest.raises(ConfigError, match="two text columns"):
        read_pairs(path, text_column="text_a")


def test_the_tokenizer_pair_encoding_and_segments_reach_the_model(tiny_bert) -> None:
    pairs, labels = make_pairs(40)
    clf = HeadstartPairClassifier(backbone=str(tiny_bert), strategy="head", **FAST).fit(pairs, labels)
    examples = clf._examples(clf._memory_texts(pairs[:2]), None)
    sep = clf.tokenizer_.sep_token_id
    ids, segments = examples.inputs[0], examples.segments[0]
    assert ids.count(sep) == 2 and segments[0] == 0 and segments[-1] == 1  # [CLS] a [SEP] b [SEP]
    assert clf.predict_proba(pairs[:5]).shape == (5, 2)
    assert set(clf.predict(pairs[:5])) <= {"same", "different"}


@pytest.mark.parametrize("strategy", ["features", "head", "top-n", "full", "lora", "bitfit"])
def test_every_strategy_trains_saves_and_reloads_on_pairs(strategy, tiny_bert, tmp_path) -> None:
    pairs, labels = make_pairs(48)
    clf = HeadstartPairClassifier(backbone=str(tiny_bert), strategy=strategy, **FAST).fit(pairs, labels)
    before = clf.predict_proba(pairs[:6])
    clf.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, HeadstartPairClassifier)
    np.testing.assert_allclose(again.predict_proba(pairs[:6]), before, atol=1e-5)


def test_the_prefix_cache_trains_pairs_exactly_as_without_it(tiny_bert) -> None:
    """Segment ids go into the cache: cached and uncached top-n end with the same weights."""
    pairs, labels = make_pairs(32)
    runs = {flag: HeadstartPairClassifier(backbone=str(tiny_bert), strategy="top-n", top_n=1, prefix_cache=flag,
                                          **FAST).fit(pairs, labels) for flag in (True, False)}
    assert runs[True].fit_result_.cache_depth is not None and runs[False].fit_result_.cache_depth is None
    np.testing.assert_allclose(runs[True].predict_proba(pairs), runs[False].predict_proba(pairs), atol=1e-5)


def test_a_pairs_run_from_the_cli_detects_columns_and_predicts(tmp_path, tiny_bert) -> None:
    pairs, labels = make_pairs(40)
    train = _csv(tmp_path / "train.csv", pairs, labels, names=("sentence1", "sentence2"))
    test = _csv(tmp_path / "test.csv", *make_pairs(12, seed=1), names=("sentence1", "sentence2"))
    assert detect_task(train) == "pairs"
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(train), "--test", str(test), "--backbone", str(tiny_bert),
                                      "--strategy", "head", "--epochs", "2", "--out", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "pairs" and set(metrics["baselines"]) == {"majority", "tfidf"}
    assert json.loads((run / "config.json").read_text())["data"]["text_column"] == "sentence1,sentence2"
    evaluated = CliRunner().invoke(app, ["evaluate", str(run), str(test)])
    assert evaluated.exit_code == 0, evaluated.output
    predicted = CliRunner().invoke(app, ["predict", str(run), "--file", str(test), "--json"])
    assert predicted.exit_code == 0, predicted.output
    rows = [json.loads(line[line.index("{"):]) for line in predicted.output.splitlines() if '"label"' in line]
    assert len(rows) == 12 and set(rows[0]) == {"text_a", "text_b", "label", "scores"}


def test_pairs_of_the_shared_sick_set_read_as_pairs() -> None:
    path = SHARED_DATA / "sick" / "dev.csv"
    if not path.exists():
        pytest.skip("../shared/data is not here")
    assert detect_task(path) == "pairs"
    split = read_pairs(path)
    assert len(split) == 495 and set(split.labels) == {"entailment", "neutral", "contradiction"}


def test_a_pairs_run_trains_through_train_run(tmp_path, tiny_bert) -> None:
    pairs, labels = make_pairs(40)
    metrics = train_run(_csv(tmp_path / "t.csv", pairs, labels), tmp_path / "run", backbone=str(tiny_bert),
                        strategy="lora", **FAST)
    assert metrics["task"] == "pairs" and metrics["dev"]["accuracy"] is not None
