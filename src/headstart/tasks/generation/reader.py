"""Instruction-tuning data: JSON lines of instructions and their answers, or of chat conversations.

Two row shapes, which may be mixed in one file:

    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}   # input optional
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}

A chat row's target is its last message, which must come from the assistant; the messages before it are the
prompt (a system message included). Every mistake is a DataError naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from headstart.data._sources import _check_path, _decode, _json_error, _json_lines
from headstart.errors import DataError

__all__ = ["Instruction", "InstructionSet", "read_instructions", "instructions_from_records", "ROLES"]

ROLES = ("system", "user", "assistant")
_EXAMPLE = '{"instruction": "Name a colour.", "input": "", "output": "Blue."}'


@dataclass(frozen=True)
class Instruction:
    """One example: the conversation that forms the prompt, and the answer to learn.

    Attributes:
        messages: the prompt as chat messages ({"role", "content"}), last one from the user. An
            instruction row becomes one user message (the instruction, then its input after a blank line)
            unless it is formatted with the plain template, which keeps the two apart.
        output: the reference answer (the training target).
        instruction, input: the fields of an instruction row (None for a chat row).
    """

    messages: tuple[dict, ...]
    output: str
    instruction: str | None = None
    input: str | None = None


@dataclass
class InstructionSet:
    """The examples of one file (or list of records), with each one's source line."""

    examples: list[Instruction]
    source: str = "<memory>"
    lines: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def subset(self, idx: Iterable[int]) -> InstructionSet:
        idx = list(idx)
        return InstructionSet([self.examples[i] for i in idx], self.source, [self.lines[i] for i in idx])


def read_instructions(path: str | Path) -> InstructionSet:
    """Read an instruction / chat JSON-lines file (`.jsonl`, or `.json` holding a list of rows).

    Raises:
        DataError: missing file, bad JSON (line and column), a row without `instruction`/`output` or
            `messages`, a field of the wrong type, an empty output, or a file with no rows.
    """
    path = Path(path)
    _check_path(path)
    text = _decode(path, path.read_bytes())
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise _json_error(path, e, text.splitlines()[e.lineno - 1] if text else "", e.lineno, _EXAMPLE) from None
        return instructions_from_records(rows, source=str(path), lines=[None] * len(rows))
    rows, lines = _json_lines(path, text, _EXAMPLE)
    return instructions_from_records(rows, source=str(path), lines=lines)


def instructions_from_records(rows: list, *, source: str = "<memory>", lines: list[int | None] | None = None
                              ) -> InstructionSet:
    """Validate rows (dicts) of either shape into an InstructionSet; `lines` are their file lines."""
    rows = list(rows)
    lines = list(lines) if lines is not None else [None] * len(rows)
    file = None if source == "<memory>" else source
    if not rows:
        raise DataError("there are no instruction rows.", expected=f"one JSON object per line, like {_EXAMPLE}",
                        found="an empty file" if file else "an empty list", fix="pass a file with examples in it",
                        file=file)
    examples = []
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        where = {"file": file, "line": line if file else None}
        label = "" if file else f" (row {i})"
        if not isinstance(row, dict):
            raise DataError(f"a row is not a JSON object{label}.", expected=_EXAMPLE,
                            found=f"{type(row).__name__}: {str(row)[:60]!r}", fix="write one object per line",
                            **where)
        examples.append(_chat_row(row, where, label) if "messages" in row else _instruction_row(row, where, label))
    return InstructionSet(examples, source, lines)


def _field_error(name: str, problem: str, expected: str, found: str, where: dict, label: str) -> DataError:
    return DataError(f"field {name!r} {problem}{label}.", expected=expected, found=found,
                     fix=f"give every row a {name!r} that is {expected}", column=name, **where)


def _text(row: dict, name: str, where: dict, label: str, *, required: bool, allow_empty: bool) -> str | None:
    if name not in row or row[name] is None:
        if required:
            keys = ", ".join(sorted(map(str, row))) or "none"
            raise DataError(f"the row has no {name!r} field{label}.",
                            expected=f"keys 'instruction', 'output' (and optional 'input'), or 'messages'; {_EXAMPLE}",
                            found=f"keys: {keys}", fix=f"add {name!r} to the row, or rename the key that holds it",
                            column=name, **where)
        return None
    value = row[name]
    if not isinstance(value, str):
        raise _field_error(name, "is not a string", "a JSON string", f"{type(value).__name__}: {value!r:.60}",
                           where, label)
    if not allow_empty and not value.strip():
        raise _field_error(name, "is empty", "a non-empty string", repr(value), where, label)
    return value


def _instruction_row(row: dict, where: dict, label: str) -> Instruction:
    instruction = _text(row, "instruction", where, label, required=True, allow_empty=False)
    extra = _text(row, "input", where, label, required=False, allow_empty=True) or ""
    output = _text(row, "output", where, label, required=True, allow_empty=False)
    content = instruction.strip() + ("\n\n" + extra.strip() if extra.strip() else "")
    return Instruction(({"role": "user", "content": content},), output.strip(), instruction.strip(), extra.strip())


def _chat_row(row: dict, where: dict, label: str) -> Instruction:
    messages = row["messages"]
    expected = 'a list like [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]'
    if not isinstance(messages, list) or len(messages) < 2:
        found = f"{type(messages).__name__} of {len(messages)}" if isinstance(messages, list) else type(messages).__name__
        raise _field_error("messages", "is not a conversation", expected + " (at least two messages)", found,
                           where, label)
    clean = []
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
            raise _field_error(f"messages[{k}]", "is not a chat message",
                               f"an object with 'role' (one of {', '.join(ROLES)}) and a string 'content'",
                               f"{m!r:.80}", where, label)
        clean.append({"role": m["role"], "content": m["content"]})
    if clean[-1]["role"] != "assistant":
        raise _field_error(f"messages[{len(clean) - 1}]", "is not the assistant's answer",
                           "the last message from role 'assistant' (the target to learn)",
                           f"role {clean[-1]['role']!r}", where, label)
    if not clean[-1]["content"].strip():
        raise _field_error(f"messages[{len(clean) - 1}]", "has empty content", "a non-empty answer", "''", where,
                           label)
    return Instruction(tuple(clean[:-1]), clean[-1]["content"].strip())
