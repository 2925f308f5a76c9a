"""
Tag-scheme handling for the Crichton et al. corpora.

The corpora come in IOBES (`B-`, `I-`, `E-`, `S-`, `O`) or BIO (`B-`, `I-`, `O`). Everything
inside the plugin uses allennlp's BIOUL, which is IOBES with `E` spelled `L` and `S` spelled
`U`, so `SpanBasedF1Measure(label_encoding="BIOUL")` and `allowed_transitions("BIOUL", ...)`
work unchanged.

Ill-formed sequences (an `I-`/`E-` that does not continue an entity of its type, a `B-`
that is never closed in IOBES) are repaired by the conlleval rule: a continuation tag that
does not continue starts a new entity, and an entity ends where the next tag does not
continue it. The spans so obtained are exactly the ones conlleval would score; every
repair is counted so readers can report it.
"""
from typing import List, NamedTuple, Optional, Tuple

ENCODINGS = ("IOBES", "BIO")

_PREFIXES = {"IOBES": {"B", "I", "E", "S"}, "BIO": {"B", "I"}}


class TagSpan(NamedTuple):
    label: str
    start: int
    end: int  # inclusive


def split_tag(tag: str) -> Tuple[str, Optional[str]]:
    """`"B-GENE"` -> `("B", "GENE")`; `"O"` -> `("O", None)`. Raises `ValueError` otherwise."""
    if tag == "O":
        return "O", None
    prefix, sep, label = tag.partition("-")
    if not sep or not label or len(prefix) != 1:
        raise ValueError(f"malformed tag {tag!r} (expected 'O' or '<prefix>-<type>')")
    return prefix, label


def detect_encoding(tags: List[str]) -> str:
    """IOBES if any `E-`/`S-` prefix occurs, else BIO (a BIO file never has them)."""
    for tag in tags:
        if tag[:2] in ("E-", "S-"):
            return "IOBES"
    return "BIO"


def check_prefix(tag: str, encoding: str) -> None:
    """Raises `ValueError` if `tag` is not a valid tag of `encoding`."""
    prefix, _ = split_tag(tag)
    if prefix != "O" and prefix not in _PREFIXES[encoding]:
        allowed = ", ".join(sorted(_PREFIXES[encoding]))
        raise ValueError(
            f"unknown tag prefix {prefix!r} in {tag!r} for {encoding} (allowed: O, {allowed})"
        )


def tags_to_spans(tags: List[str], encoding: str) -> Tuple[List[TagSpan], int]:
    """
    Reads entity spans from IOBES or BIO `tags`.

    Returns the spans and the number of repairs made (see the module docstring).
    """
    spans: List[TagSpan] = []
    repairs = 0
    open_label: Optional[str] = None
    open_start = 0

    def close(end: int) -> None:
        nonlocal open_label
        if open_label is not None:
            spans.append(TagSpan(open_label, open_start, end))
            open_label = None

    for i, tag in enumerate(tags):
        check_prefix(tag, encoding)
        prefix, label = split_tag(tag)
        if prefix in ("I", "E") and open_label == label:
            if prefix == "E":
                close(i)
            continue
        # Anything else ends an open entity. In IOBES an entity must end with E-: one left
        # open is a repair.
        if open_label is not None:
            if encoding == "IOBES":
                repairs += 1
            close(i - 1)
        if prefix == "O":
            continue
        if prefix in ("I", "E"):
            repairs += 1  # continuation without a matching start: starts a new entity
        if prefix == "S" or (prefix == "E"):
            spans.append(TagSpan(label, i, i))
        else:
            open_label, open_start = label, i
    if open_label is not None:
        if encoding == "IOBES":
            repairs += 1
        close(len(tags) - 1)
    return spans, repairs


def write_bioul_span(tags: List[str], label: str, start: int, end: int) -> None:
    """Writes one entity (tokens `start..end`, inclusive) into `tags` as BIOUL."""
    if start == end:
        tags[start] = f"U-{label}"
        return
    tags[start] = f"B-{label}"
    for i in range(start + 1, end):
        tags[i] = f"I-{label}"
    tags[end] = f"L-{label}"


def spans_to_bioul(spans: List[TagSpan], length: int) -> List[str]:
    """Writes spans as BIOUL tags of a sentence of `length` tokens."""
    tags = ["O"] * length
    for label, start, end in spans:
        write_bioul_span(tags, label, start, end)
    return tags


def bioul_to_spans(tags: List[str]) -> List[TagSpan]:
    """
    Reads spans from BIOUL tags (as a constrained CRF decodes them). Lenient: BIO and IOBES
    tags are read too, and ill-formed sequences are repaired by the conlleval rule (see
    the module docstring) rather than rejected.
    """
    iobes = [
        f"E{tag[1:]}" if tag.startswith("L-") else f"S{tag[1:]}" if tag.startswith("U-") else tag
        for tag in tags
    ]
    spans, _ = tags_to_spans(iobes, "IOBES")
    return spans
