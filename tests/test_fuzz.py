"""Fuzzing every reader: each case either loads or raises headstart's own error naming the file; never
another exception (a bare traceback for a user's file). Seeded and bounded here (FUZZ_CASES per reader,
300 by default); `python benchmarks/fuzz.py` runs the long profile (10,000 per reader).

Inputs are structural mutations (lines dropped, duplicated, swapped or cut; bytes inserted, replaced or
deleted; a BOM, NULs, invalid UTF-8, another delimiter) of a valid seed file per format: the first rows of
the real sets in ../shared/data when they are there, else small built-in ones, so CI on a fresh clone fuzzes
the same formats.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headstart.errors import HeadstartError

CASES = int(os.environ.get("FUZZ_CASES", "300"))
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FUZZ = settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _real(relative: str, lines: int) -> bytes | None:
    path = SHARED / relative
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        return b"".join(fh.readline() for _ in range(lines))


def _squad_seed() -> bytes:
    real = SHARED / "squad_v1_dev_subset" / "train.json"
    if real.is_file():
        data = json.loads(real.read_text())
        data["data"] = [dict(data["data"][0], paragraphs=data["data"][0]["paragraphs"][:2])]
        return json.dumps(data).encode()
    ctx = "The Panthers defense gave up just 308 points."
    return json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": ctx, "qas": [
        {"id": "q1", "question": "How many points?", "answers": [{"text": "308", "answer_start": 37}]}]}]}]}).encode()


SEEDS = {
    "csv": _real("sst2/train.csv", 12) or b'text,label\n"a fine film",pos\n"dull, long",neg\nlovely,pos\nbad,neg\n',
    "tsv": b"text\tlabel\na fine film\tpos\ndull and long\tneg\nlovely\tpos\nbad\tneg\n",
    "jsonl": b'{"text": "a fine film", "label": "pos"}\n{"text": "dull", "label": "neg"}\n'
             b'{"text": "lovely", "label": "pos"}\n{"text": "bad", "label": "neg"}\n',
    "pairs": _real("sick/train.csv", 10) or b"text_a,text_b,label\na man runs,a person runs,entailment\n"
             b"a dog,a cat,neutral\nit rains,it is dry,contradiction\nhe sits,he is seated,entailment\n",
    "conll": _real("wnut17/train.txt", 40) or b"Empire\tB-location\nState\tI-location\n.\tO\n\nHi\tO\nBob\tB-person\n",
    "squad": _squad_seed(),
    "instructions": _real("self_instruct/train.jsonl", 4) or
    b'{"instruction": "Say hi", "input": "", "output": "hi"}\n{"instruction": "Add 1+1", "input": "", "output": "2"}\n',
}


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """The seed after 1-4 structural edits."""
    data = seed
    for _ in range(draw(st.integers(1, 4))):
        lines = data.split(b"\n")
        op = draw(st.sampled_from(["drop", "dup", "swap", "cut", "insert", "replace", "delete", "bom", "nul",
                                   "latin1", "delimiter", "quote", "empty", "huge"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        at = draw(st.integers(0, max(len(data), 0)))
        if op == "drop" and len(lines) > 1:
            del lines[i]
            data = b"\n".join(lines)
        elif op == "dup":
            lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == "cut":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif op == "replace":
            data = data[:at] + draw(st.sampled_from([b",", b"\t", b'"', b"{", b"}", b"[", b"\r", b"\n", b":", b" "])) \
                + data[at + 1:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 20)):]
        elif op == "bom":
            data = b"\xef\xbb\xbf" + data
        elif op == "nul":
            data = data[:at] + b"\x00" + data[at:]
        elif op == "latin1":
            data = data[:at] + b"\xe9\xff" + data[at:]
        elif op == "delimiter":
            data = data.replace(b",", b";") if draw(st.booleans()) else data.replace(b"\t", b",")
        elif op == "quote":
            data = data[:at] + b'"' + data[at:]
        elif op == "empty":
            data = b"" if draw(st.booleans()) else b"\n\n"
        elif op == "huge":
            data = data[:at] + b"x" * 200_000 + data[at:]
    return data


def _check(read, data: bytes, suffix: str) -> None:
    """`read(path)` on the bytes: success, or a HeadstartError that names the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            read(path)
        except HeadstartError as exc:
            assert "fuzzed" in str(exc), f"an error that does not name the file: {exc}"
        # anything else propagates and fails the case, with hypothesis' minimal example


def _reader(dotted: str):
    """`module:function`, imported when first called (the readers pull in pandas and friends)."""
    module, _, name = dotted.partition(":")

    def read(path: Path):
        import importlib

        return getattr(importlib.import_module(module), name)(path)

    return read


READERS = {  # name -> (reader, seed file, suffix)
    "classification-csv": (_reader("headstart.data:load_task"), "csv", ".csv"),
    "classification-tsv": (_reader("headstart.data:load_task"), "tsv", ".tsv"),
    "classification-jsonl": (_reader("headstart.data:load_task"), "jsonl", ".jsonl"),
    "pairs": (_reader("headstart.tasks.pairs.reader:read_pairs"), "pairs", ".csv"),
    "conll": (_reader("headstart.tasks.tagging.reader:read_token_file"), "conll", ".txt"),
    "squad": (_reader("headstart.tasks.extractive_qa.reader:read_squad"), "squad", ".json"),
    "instructions": (_reader("headstart.tasks.generation.reader:read_instructions"), "instructions", ".jsonl"),
    "detect-task": (_reader("headstart.tasks.registry:detect_task"), "conll", ".txt"),
}


@pytest.mark.parametrize("name", list(READERS))
def test_every_reader_loads_or_says_what_is_wrong(name: str) -> None:
    read, seed, suffix = READERS[name]
    read_ok = {"n": 0}

    @FUZZ
    @given(mutated(SEEDS[seed]))
    def case(data: bytes) -> None:
        _check(read, data, suffix)
        read_ok["n"] += 1

    case()
    assert read_ok["n"] >= min(CASES, 100)  # the cases really ran


def test_the_seeds_themselves_load() -> None:
    for name, (read, seed, suffix) in READERS.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"seed{suffix}"
            path.write_bytes(SEEDS[seed])
            assert read(path) is not None, name


@FUZZ
@given(st.text(max_size=30))
def test_budget_strings_parse_or_say_what_to_write(text: str) -> None:
    from headstart.choice.compare import parse_budget

    try:
        assert parse_budget(text) > 0
    except HeadstartError as exc:
        assert "--budget" in str(exc) or "budget" in str(exc)


@FUZZ
@given(st.lists(st.text(max_size=40), max_size=4))
def test_set_strings_parse_or_say_what_to_write(items: list[str]) -> None:
    from headstart.choice.compare import parse_settings

    try:
        parse_settings(items, ["full", "lora", "top-n"])
    except HeadstartError as exc:
        assert str(exc)
