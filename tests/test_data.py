"""Reading, checking, splitting and describing data: every user mistake gets a DataError with file, line, fix."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from headstart.data import DataStats, Split, TaskData, load_task, read_split
from headstart.data.split import stratified_split
from headstart.data.stats import compute_stats
from headstart.data.validate import check_known_labels, check_min_per_class, check_train_labels
from headstart.errors import ConfigError, DataError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


def balanced_csv(n_per_class: int = 10, classes: tuple[str, ...] = ("pos", "neg")) -> str:
    rows = [f"text number {i} about {c},{c}" for c in classes for i in range(n_per_class)]
    return "text,label\n" + "\n".join(rows) + "\n"


# --- reading --------------------------------------------------------------------------------------------


def test_csv_keeps_na_like_texts_and_counts_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", 'text,label\nnull,a\n"two\nlines",b\nnan,1\nNA,a\n')
    split = read_split(path)
    assert split.texts == ["null", "two\nlines", "nan", "NA"]
    assert split.labels == ["a", "b", "1", "a"]
    assert split.lines == [2, 3, 5, 6]
    assert split.source == str(path)


def test_tsv_and_tab(tmp_path: Path) -> None:
    for name in ("train.tsv", "train.tab"):
        split = read_split(write(tmp_path, name, "text\tlabel\ngood, really\tpos\nbad\tneg\n"))
        assert split.texts == ["good, really", "bad"]
        assert split.labels == ["pos", "neg"]


def test_jsonl_with_list_labels_is_multilabel(tmp_path: Path) -> None:
    content = (
        '{"text": "a", "label": ["x", "y"]}\n\n{"text": "b", "label": "x"}\n{"text": "c", "label": []}\n'
    )
    split = read_split(write(tmp_path, "train.jsonl", content))
    assert split.labels == [("x", "y"), ("x",), ()]
    assert split.lines == [1, 3, 4]


def test_jsonl_int_labels_become_strings(tmp_path: Path) -> None:
    split = read_split(
        write(tmp_path, "train.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n')
    )
    assert split.labels == ["1", "0"]


def test_json_array_file(tmp_path: Path) -> None:
    split = read_split(
        write(tmp_path, "train.json", '[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]')
    )
    assert split.texts == ["a", "b"]
    assert split.lines is None


def test_csv_label_sep_splits_into_tuples(tmp_path: Path) -> None:
    split = read_split(write(tmp_path, "train.csv", "text,label\na,x|y\nb,y\nc, x | z |\n"), label_sep="|")
    assert split.labels == [("x", "y"), ("y",), ("x", "z")]


def test_dataframe_single_and_multi_label() -> None:
    split = read_split(pd.DataFrame({"text": ["a", "b"], "label": [1, 0]}))
    assert split.labels == ["1", "0"]
    assert split.source == "DataFrame"
    multi = read_split(pd.DataFrame({"text": ["a", "b"], "label": [["x", "y"], ["y"]]}))
    assert multi.labels == [("x", "y"), ("y",)]


def test_dataframe_missing_text_names_row() -> None:
    frame = pd.DataFrame({"text": ["a", None], "label": ["x", "y"]})
    with pytest.raises(DataError, match=match("DataFrame, column text: row 1: the text is empty", "fix:")):
        read_split(frame)


def test_datasets_dataset_maps_class_label_names() -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    ds = datasets.Dataset.from_dict({"sentence": ["bad", "good"], "label": [0, 1]}, features=features)
    split = read_split(ds, text_column="sentence")
    assert split.texts == ["bad", "good"]
    assert split.labels == ["neg", "pos"]


def test_datasets_dataset_dict_says_select_train() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]})
    with pytest.raises(DataError, match=re.escape("Did you mean to select dataset['train']?")):
        read_split(datasets.DatasetDict({"train": ds, "test": ds}))


def test_unknown_source_type() -> None:
    with pytest.raises(DataError, match=match("cannot read data from a dict", "fix:", "DataFrame")):
        read_split({"text": ["a"]})


def test_prediction_input_may_lack_labels(tmp_path: Path) -> None:
    split = read_split(write(tmp_path, "new.csv", "text\nhello\nworld\n"), require_labels=False)
    assert split.texts == ["hello", "world"]
    assert split.labels == []


# --- file errors ----------------------------------------------------------------------------------------


def test_missing_file_lists_similar_files(tmp_path: Path) -> None:
    write(tmp_path, "train.csv", balanced_csv())
    with pytest.raises(
        DataError, match=match("trian.csv: the data file does not exist", "similar", "train.csv")
    ):
        read_split(tmp_path / "trian.csv")


def test_unsupported_extension_lists_supported(tmp_path: Path) -> None:
    path = write(tmp_path, "train.xlsx", "x")
    with pytest.raises(DataError, match=match("train.xlsx", ".csv, .tsv, .tab, .jsonl, .json", "fix:")):
        read_split(path)


def test_undecodable_bytes_give_line_byte_and_iconv(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "text,label\ngood,pos\ncaf\xe9 au lait,neg\n".encode("latin1"))
    with pytest.raises(
        DataError, match=match("train.csv, line 3, column 4", "not UTF-8", "0xe9", "iconv -f latin1")
    ):
        read_split(path)


def test_malformed_jsonl_line_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "train.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": "y",}\n')
    with pytest.raises(DataError, match=match("train.jsonl, line 2, column 28", "not valid JSON", "fix:")):
        read_split(path)


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "train.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n')
    with pytest.raises(DataError, match=match("train.jsonl, line 2", "expected a JSON object", "fix:")):
        read_split(path)


def test_jsonl_row_without_label_key(tmp_path: Path) -> None:
    path = write(tmp_path, "train.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(
        DataError, match=match("train.jsonl, line 2, column label", "no 'label' field", "fix:")
    ):
        read_split(path)


def test_header_only_file_has_no_data_rows(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match("train.csv: the file has no data rows", "fix:")):
        read_split(write(tmp_path, "train.csv", "text,label\n"))


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match("train.csv: the file is empty", "fix:")):
        read_split(write(tmp_path, "train.csv", "\n  \n"))


def test_row_with_extra_field_says_quote_it(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "text,label\ngood,pos\ngood, but slow,neg\n")
    with pytest.raises(
        DataError, match=match("train.csv, line 3", "3 fields but the header has 2", "double quotes")
    ):
        read_split(path)


# --- column errors --------------------------------------------------------------------------------------


def test_missing_columns_suggest_column_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "sentence,category\na long sentence here,x\nanother long one,y\n")
    with pytest.raises(
        DataError,
        match=match(
            "train.csv, line 1: there is no text column 'text'",
            "'sentence', 'category'",
            "--text-column sentence --label-column category",
        ),
    ):
        read_split(path)


def test_missing_label_column_only(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "text,category\na long sentence here,x\nanother long one,y\n")
    with pytest.raises(DataError, match=match("no label column 'label'", "fix:", "--label-column category")):
        read_split(path)


def test_first_row_is_data_not_header(tmp_path: Path) -> None:
    path = write(
        tmp_path, "train.csv", "Free entry in a weekly competition now,spam\nsee you at noon,ham\nok,spam\n"
    )
    with pytest.raises(
        DataError, match=match("line 1", "no text column", "looks like a data row", "'text,label'")
    ):
        read_split(path)


def test_swapped_text_and_label_columns(tmp_path: Path) -> None:
    rows = [f"{lab},this is a fairly long message number {i}" for i, lab in enumerate(["ham", "spam"] * 3)]
    path = write(tmp_path, "train.csv", "text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=match("train.csv, line 1", "look swapped", "--text-column label")):
        read_split(path)


def test_semicolon_separated_file(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "text;label\nhello;x\n")
    with pytest.raises(DataError, match=match("no text column", "separate columns with semicolons")):
        read_split(path)


# --- value errors ---------------------------------------------------------------------------------------


def test_whitespace_text_names_file_line_column_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", 'text,label\n"a\nb",x\n   ,y\n')
    with pytest.raises(DataError, match=match("train.csv, line 4, column text: the text is empty", "fix:")):
        read_split(path)


def test_empty_label(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "text,label\nhello,x\nworld,\n")
    with pytest.raises(DataError, match=match("train.csv, line 3, column label: the label is empty", "fix:")):
        read_split(path)


def test_list_label_in_single_label_data(tmp_path: Path) -> None:
    path = write(tmp_path, "dev.jsonl", '{"text": "a", "label": ["x", "y"]}\n')
    with pytest.raises(DataError, match=match("dev.jsonl, line 1", "list of labels", "multilabel=True")):
        read_split(path, multilabel=False)


# --- split-level checks ---------------------------------------------------------------------------------


def test_one_class_only() -> None:
    split = Split(["a", "b"], ["x", "x"], "train.csv", [2, 3])
    with pytest.raises(
        DataError, match=match("train.csv", "at least two classes", "only 'x'", "fix:", "zero-shot")
    ):
        check_train_labels(split)


def test_class_with_one_example_is_listed() -> None:
    split = Split(["a", "b", "c"], ["x", "x", "y"], "train.csv", [2, 3, 4])
    with pytest.raises(DataError, match=match("train.csv, line 4", "'y' (1, line 4)", "fix:", "remove")):
        check_min_per_class(split)


def test_unseen_labels_in_test_name_first_line() -> None:
    split = Split(["a", "b", "c"], ["x", "zz", "zz"], "test.csv", [2, 3, 4])
    with pytest.raises(
        DataError, match=match("test.csv, line 3", "'zz' (first at line 3)", "fix:", "spelling")
    ):
        check_known_labels(split, ["x", "y"])
    check_known_labels(Split(["a"], [("x",)], "t"), ["x"])  # multi-label labels known: no error


# --- splitting ------------------------------------------------------------------------------------------


def test_stratified_split_is_deterministic_and_keeps_proportions() -> None:
    labels = ["a"] * 80 + ["b"] * 20
    split = Split([f"t{i}" for i in range(100)], labels, "train.csv", list(range(2, 102)))
    train, dev = stratified_split(split, fraction=0.1, seed=3)
    again_train, again_dev = stratified_split(split, fraction=0.1, seed=3)
    assert dev.texts == again_dev.texts and train.texts == again_train.texts
    assert Counter(dev.labels) == {"a": 8, "b": 2}
    assert len(train) == 90 and not set(train.texts) & set(dev.texts)
    assert dev.lines == [int(t[1:]) + 2 for t in dev.texts]  # line numbers follow their rows
    assert stratified_split(split, fraction=0.1, seed=4)[1].texts != dev.texts


def test_stratified_split_puts_every_class_in_dev() -> None:
    labels = ["a"] * 96 + ["b", "b", "c", "c"]
    split = Split([f"t{i}" for i in range(100)], labels)
    train, dev = stratified_split(split, fraction=0.05, seed=0)
    assert set(dev.labels) == {"a", "b", "c"} and set(train.labels) == {"a", "b", "c"}


def test_stratified_split_multilabel() -> None:
    labels = [("x", "y"), ("y",), ("x",), ("y", "z")] * 10
    split = Split([f"t{i}" for i in range(40)], labels)
    train, dev = stratified_split(split, fraction=0.25, seed=0)
    assert len(dev) == 10 and len(train) == 30
    assert {label[0] for label in dev.labels} == {"x", "y"}


def test_stratified_split_rejects_bad_fraction() -> None:
    with pytest.raises(ConfigError, match=match("dev fraction", "between 0 and 1", "1.5")):
        stratified_split(Split(["a", "b"], ["x", "y"]), fraction=1.5)


# --- stats ----------------------------------------------------------------------------------------------


def test_stats_counts_lengths_and_warnings() -> None:
    texts = ["word " * 300] * 10 + ["short text here"] * 90
    train = Split(texts, ["rare"] * 10 + ["common"] * 90)
    dev = Split(["short text here"], ["common"])
    stats = compute_stats(train, dev, None, ["common", "rare"], multilabel=False)
    assert isinstance(stats, DataStats)
    assert stats.class_counts == {"common": 90, "rare": 10}
    assert stats.imbalance_ratio == 9.0
    assert stats.length_words["median"] == 3 and stats.length_words["max"] == 300
    assert (stats.n_train, stats.n_dev, stats.n_test, stats.n_classes) == (100, 1, 0, 2)
    text = "\n".join(stats.warnings)
    assert "imbalanced: largest/smallest class = 9.0" in text
    assert "very short texts" in text
    assert "long texts: p95 300 words" in text and "max_length=512" in text
    assert "1 of 1 dev texts also occur in train" in text


def test_stats_multilabel_labels_per_row() -> None:
    train = Split(["a b c d", "e f g h"], [("x", "y"), ("x",)])
    stats = compute_stats(train, train, None, ["x", "y"], multilabel=True)
    assert stats.labels_per_row == 1.5 and stats.class_counts == {"x": 2, "y": 1}


# --- load_task ------------------------------------------------------------------------------------------


def test_load_task_holds_out_dev_and_sorts_labels(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", balanced_csv(10, ("pos", "neg", "mixed")))
    test = write(tmp_path, "test.csv", "text,label\nfine,pos\nawful,neg\n")
    task = load_task(train, test=test, dev_fraction=0.2, seed=1)
    assert isinstance(task, TaskData)
    assert task.labels == ["mixed", "neg", "pos"] and not task.multilabel and task.dev_from_train
    assert (len(task.train), len(task.dev), len(task.test)) == (24, 6, 2)
    assert task.stats.n_dev == 6 and set(task.dev.labels) == set(task.labels)


def test_load_task_multilabel_with_given_dev(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", "text,label\na,x|y\nb,x\nc,y\nd,y|x\n")
    dev = write(tmp_path, "dev.csv", "text,label\ne,x\n")
    task = load_task(train, dev, label_sep="|")
    assert task.multilabel and task.labels == ["x", "y"] and task.dev.labels == [("x",)]
    assert not task.dev_from_train and task.stats.labels_per_row == 1.5


def test_load_task_rejects_unseen_test_label(tmp_path: Path) -> None:
    train = write(tmp_path, "train.csv", balanced_csv(3))
    test = write(tmp_path, "test.csv", "text,label\nok,pos\nmeh,neutral\n")
    with pytest.raises(DataError, match=match("test.csv, line 3", "'neutral'", "fix:")):
        load_task(train, test=test)


def test_load_task_rejects_single_class(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match("train.csv", "only 'pos'", "fix:")):
        load_task(write(tmp_path, "train.csv", balanced_csv(3, ("pos",))))


def test_load_task_from_dataframe() -> None:
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(20)], "label": ["a", "b"] * 10})
    task = load_task(frame, dev_fraction=0.2)
    assert task.labels == ["a", "b"] and len(task.dev) == 4 and task.train.lines is None


def test_real_sms_spam_file() -> None:
    path = SHARED_DATA / "sms_spam" / "train.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    split = read_split(path)
    assert set(split.labels) == {"ham", "spam"}
    assert len(split) > 1000 and split.lines is not None and split.lines[0] == 2
