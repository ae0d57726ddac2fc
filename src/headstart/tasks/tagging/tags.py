"""Entity tag schemes: check a tag, tell IOB2 from IOB1 and BIOES, and convert everything to IOB2.

A tag is `O` or `<prefix>-<type>`. The type may itself hold hyphens (`B-creative-work`): only the first
hyphen separates. Prefixes: `B`/`I` (IOB2, IOB1), plus `S`/`E` (BIOES, also called IOBES) and their BILOU
spellings `U`/`L`. Training and evaluation always see IOB2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from headstart.errors import ConfigError

__all__ = ["SCHEMES", "TAG_PATTERN", "detect_scheme", "to_iob2", "entity_type", "tag_hint"]

SCHEMES = ("IOB2", "IOB1", "BIOES")
_ALIASES = {"BIO": "IOB2", "IOB": "IOB1", "IOBES": "BIOES", "BILOU": "BIOES"}
TAG_PATTERN = re.compile(r"O|[BIESUL]-\S+")
_SINGLE, _END = {"S", "U"}, {"E", "L"}


def entity_type(tag: str) -> str | None:
    """The entity type of a tag (`"B-creative-work"` -> `"creative-work"`), None for `O`."""
    return None if tag == "O" else tag.split("-", 1)[1]


def tag_hint(tag: str) -> str:
    """A suggestion for a malformed tag, for the `fix` of a DataError."""
    m = re.fullmatch(r"([BIESULbiesul])[_:.](\S+)", tag) or re.fullmatch(r"([biesul])-(\S+)", tag)
    if m:  # B_PER, b-PER
        return f"write {m[1].upper()}-{m[2]}: a capital B/I/E/S prefix, then a hyphen, then the type"
    if tag.lower() in {"o", "0", "-", "outside", "none"}:
        return "write O (the capital letter) for words outside any entity"
    if re.fullmatch(r"[BIESUL]-?", tag):  # B, B-
        return f"add the entity type after the prefix, e.g. {tag[0]}-PER"
    m = re.fullmatch(r"([^\W\d_])-(\S+)", tag)
    if m:  # X-PER
        return f"{m[1]}- is not a tag prefix: write B-{m[2]} on an entity's first word, I-{m[2]} after it"
    if re.fullmatch(r"\w[\w-]*", tag):  # PER
        return (
            f"prefix the type: B-{tag} on an entity's first word, I-{tag} on the words after it; "
            "O on words outside entities"
        )
    return "use B-<type> on an entity's first word, I-<type> on the following ones, O elsewhere"


def detect_scheme(all_tags: Iterable[Sequence[str]] | Sequence[str]) -> str:
    """Name the tagging scheme of some tag sequences: "BIOES", "IOB1" or "IOB2".

    Any `S-`/`E-` (or `U-`/`L-`) tag means BIOES. Otherwise an `I-X` that opens an entity (at the start,
    after `O`, or after another type) means IOB1, where `B-` only separates two touching entities.

    Args:
        all_tags: the tag sequences of a data set (one list per sentence), or one sequence.

    Example:
        >>> detect_scheme([["I-PER", "I-PER", "O"], ["B-LOC", "I-LOC"]])
        'IOB1'
    """
    one_sequence = isinstance(all_tags, Sequence) and bool(all_tags) and isinstance(all_tags[0], str)
    sequences = [all_tags] if one_sequence else all_tags
    iob1 = False
    for tags in sequences:
        previous = "O"
        for tag in tags:
            prefix = tag[0]
            if prefix in _SINGLE or prefix in _END:
                return "BIOES"
            if prefix == "I" and (previous == "O" or entity_type(previous) != entity_type(tag)):
                iob1 = True
            previous = tag
    return "IOB1" if iob1 else "IOB2"


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Rewrite one sentence's tags as IOB2.

    BIOES: `S-X` becomes `B-X` and `E-X` becomes `I-X`. IOB1 (and, leniently, any scheme): an `I-X` that
    opens an entity becomes `B-X`.

    Args:
        tags: the tags of one sentence.
        scheme: "IOB2" (or "BIO"), "IOB1" (or "IOB"), "BIOES" (or "IOBES", "BILOU").

    Example:
        >>> to_iob2(["S-PER", "O", "B-LOC", "E-LOC"], "BIOES")
        ['B-PER', 'O', 'B-LOC', 'I-LOC']
    """
    name = _ALIASES.get(scheme.upper(), scheme.upper())
    if name not in SCHEMES:
        raise ConfigError(
            f"unknown tagging scheme {scheme!r}",
            expected=f"one of {', '.join(SCHEMES)} (or BIO, IOB, IOBES, BILOU)",
            found=repr(scheme),
            fix="pass scheme=None to detect it from the tags",
        )
    out: list[str] = []
    for tag in tags:
        prefix = tag[0]
        if prefix in _SINGLE:
            tag = "B" + tag[1:]
        elif prefix in _END:
            tag = "I" + tag[1:]
        if tag[0] == "I" and (not out or entity_type(out[-1]) != entity_type(tag)):
            tag = "B" + tag[1:]
        out.append(tag)
    return out
