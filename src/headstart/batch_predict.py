"""Batch inference over files of any length: `headstart predict RUN --file big.csv --output preds.jsonl`.

The input is read in chunks (never whole), each chunk predicted and appended to the output as JSON lines
(one per input row, in input order, with its row number), so memory stays flat over millions of rows.
Killed and started again with the same command, it continues after the last complete line (a half-written
last line is dropped). Under `accelerate launch` / `torchrun` each process takes every n-th chunk into its
own part file, and the main process joins the parts in row order once all are done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

from headstart.errors import DataError, HeadstartError
from headstart.runs.ranks import world_size

__all__ = ["predict_file", "predictions", "prediction_rows", "CHUNK_ROWS"]

CHUNK_ROWS = 2048


def predict_file(model, source: str | Path, output: str | Path, *, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Predict every row of `source` (CSV / TSV / JSONL) with a loaded classification, pairs, NER or QA model
    (a QA file has `question` and `context` columns) into the JSON lines file `output`; returns {"rows":
    written in all, "resumed_after": rows found done}."""
    if model.task not in ("classification", "pairs", "ner", "qa"):
        raise HeadstartError(f"a {model.task} run does not predict rows of a file.", expected="a classification, "
                             "pairs, NER or QA run", found=f"task {model.task!r}",
                             fix="a generation run: headstart predict RUN PROMPT")
    source, output = Path(source), Path(output)
    rank, world = int(os.environ.get("RANK", "0")), world_size()
    part = output if world == 1 else output.with_name(f"{output.name}.part-{rank}-of-{world}")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.touch()  # every process has its part, even one that owns no chunk
    done = _complete_lines(part)
    written = done
    for index, start, frame in _chunks(source, chunk_rows):
        if index % world != rank:
            continue
        rows = list(range(start, start + len(frame)))
        keep = [i for i, row in enumerate(rows) if row >= _first_todo(done, index, world, chunk_rows)]
        if not keep:
            continue
        frame = frame.iloc[keep]
        lines = [json.dumps({"row": rows[i], **item})
                 for i, item in zip(keep, _predict(model, frame, source), strict=True)]
        with open(part, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        written += len(lines)
    if world > 1:
        _join(output, world, rank, chunk_rows)
    return {"rows": written, "resumed_after": done}


def predictions(model, source: str | Path, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[dict]:
    """The rows `predict_file` writes, one at a time, read and predicted `chunk_rows` at a time (what
    `headstart predict RUN --file F` prints)."""
    for _, start, frame in _chunks(Path(source), chunk_rows):
        for i, item in enumerate(_predict(model, frame, Path(source))):
            yield {"row": start + i, **item}


def _first_todo(done_lines: int, chunk_index: int, world: int, chunk_rows: int) -> int:
    """The first row still to predict in chunk `chunk_index`: this process wrote `done_lines` lines, the
    complete chunks it owns first."""
    own_before = chunk_index // world  # chunks of this process before this one
    left = done_lines - own_before * chunk_rows
    return chunk_index * chunk_rows + max(0, left) if left < chunk_rows else (chunk_index + 1) * chunk_rows


def _complete_lines(path: Path) -> int:
    """Lines finished in `path`; a half-written last line (a kill mid-write) is cut off."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
    return data[:cut].count(b"\n")


def _chunks(source: Path, chunk_rows: int) -> Iterator[tuple[int, int, object]]:
    """(chunk index, first row, DataFrame) over the file, `chunk_rows` rows at a time."""
    import pandas as pd

    if not source.is_file():
        raise DataError(f"no file {source}.", expected="a CSV / TSV / JSONL file", found="no such file",
                        fix="check the path given to --file")
    suffix = source.suffix.lower()
    if suffix in (".jsonl", ".json"):
        reader = pd.read_json(source, lines=True, chunksize=chunk_rows, dtype=False)
    else:
        reader = pd.read_csv(source, sep="\t" if suffix == ".tsv" else ",", chunksize=chunk_rows,
                             keep_default_na=False, dtype=str)
    start, index = 0, 0
    with reader:
        while True:
            try:
                frame = next(reader)
            except StopIteration:
                return
            except ValueError as exc:  # pandas' ParserError and JSON errors are ValueErrors
                raise DataError(f"cannot read {source} after row {start:,}.", expected="one record per line "
                                "(CSV / TSV with a header, or JSON lines)", found=str(exc).splitlines()[0][:200],
                                file=source, fix="fix the file there; rows predicted so far are kept") from None
            yield index, start, frame.reset_index(drop=True)
            start, index = start + len(frame), index + 1


def _predict(model, frame, source: Path) -> list[dict]:
    if model.task == "qa":
        return _answers(model, frame, source)
    texts = model._texts(frame)
    if model.task == "ner":
        return [{"text": t, "entities": e} for t, e in zip(texts, model.predict(texts), strict=True)]
    return prediction_rows(model, texts)


def _answers(model, frame, source: Path) -> list[dict]:
    """One answer per question: its text, character offsets in the row's context, and score (the server's
    /v1/qa shape), with the question and, when the file has one, the row's id."""
    missing = [c for c in ("question", "context") if c not in frame.columns]
    if missing:
        raise DataError(f"{source} has no {' or '.join(missing)} column.", expected="a question and a context "
                        "column (one question per row, with the passage it is answered from)",
                        found=f"columns {', '.join(map(str, frame.columns))}", file=source,
                        fix="name the columns question and context")
    records = [{"id": str(i), "question": str(q), "context": str(c)}
               for i, (q, c) in enumerate(zip(frame["question"], frame["context"], strict=True))]
    ids = frame["id"].tolist() if "id" in frame.columns else [None] * len(frame)
    out = []
    for record, answer, given in zip(records, model.predict(records), ids, strict=True):
        row = {"question": record["question"], "answer": answer["text"], "start": answer["start"],
               "end": answer["start"] + len(answer["text"]), "score": round(float(answer["score"]), 4)}
        out.append(row if given is None else {"id": given, **row})
    return out


def prediction_rows(model, texts: list) -> list[dict]:
    """One row per text, as `predict --json` prints and `--output` writes it: the text (or pair), the label
    (a list for multi-label: every label at probability >= 0.5) and the five highest scores."""
    out = []
    for text, p in zip(texts, model.predict_proba(texts), strict=True):
        order = p.argsort()[::-1]
        label = [model.labels_[i] for i in order if p[i] >= 0.5] if model.multilabel_ else model.labels_[order[0]]
        shown = {"text_a": text.a, "text_b": text.b} if hasattr(text, "b") else {"text": text}  # a pair
        out.append({**shown, "label": label, "scores": {model.labels_[i]: round(float(p[i]), 4) for i in order[:5]}})
    return out


def _join(output: Path, world: int, rank: int, chunk_rows: int) -> None:
    """Every process's part, in row order, into `output` (the main process, once all parts are done)."""
    import torch.distributed as dist
    from accelerate import PartialState

    PartialState()  # joins the launcher's process group
    dist.barrier()
    if rank == 0:  # chunk c is in part c % world, in order: interleave the parts chunk by chunk, streaming
        tmp = output.with_name(output.name + ".tmp")
        with contextlib.ExitStack() as stack, open(tmp, "w", encoding="utf-8") as out:
            parts = [stack.enter_context(open(output.with_name(f"{output.name}.part-{r}-of-{world}"),
                                              encoding="utf-8")) for r in range(world)]
            for c in itertools.count():
                lines = list(itertools.islice(parts[c % world], chunk_rows))
                if not lines:
                    break
                out.writelines(lines)
        tmp.replace(output)
    dist.barrier()
