"""
The Crichton et al. (2017) token-level corpus format, read in one place for the dataset
reader (`multitask_ner`) and the dictionary builder (`biomtl_allennlp.dictionary`):

    token<TAB>label
    token<TAB>label
    <blank line between sentences>

`-DOCSTART-` lines are skipped; labels are IOBES or BIO tags. The same two-column line
rule (`two_column_lines`) reads the `term<TAB>type` dictionary files.

Bad input raises `InputFormatError` naming the file and line (`path:line: message`).
"""
import logging
from typing import Iterator, List, Optional, Tuple

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.tags import (
    ENCODINGS,
    detect_encoding,
    spans_to_bioul,
    split_tag,
    tags_to_spans,
)
from biomtl_allennlp.data.text_lines import PathLike, open_lines

logger = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"


def two_column_lines(
    path: PathLike, expected: str, skip_comments: bool = False
) -> Iterator[Tuple[int, Optional[Tuple[str, str]]]]:
    """
    The line rule of the project's TSV files: yields `(line number, (first, second))` for
    each line of exactly two tab-separated fields (line end removed) and `(line number,
    None)` for a blank or whitespace-only line.

    # Parameters

    path : `str` or `os.PathLike`
        A local path or URL (see `biomtl_allennlp.data.text_lines.open_lines`: a leading
        byte-order mark is removed).
    expected : `str`
        How the error message names the format, e.g. `"token<TAB>label"`.
    skip_comments : `bool`, optional (default = `False`)
        Skip lines whose first non-blank character is `#` (dictionary files; never in a
        corpus, where `#` is a token).

    Raises `InputFormatError` naming the file and line for a line with another number of
    fields.
    """
    name = str(path)
    for line_number, line in enumerate(open_lines(path), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            yield line_number, None
            continue
        if skip_comments and line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputFormatError(
                f"expected '{expected}', found {len(fields)} tab-separated field(s): "
                f"{line[:80]!r}",
                name,
                line_number,
            )
        yield line_number, (fields[0], fields[1])


def read_raw_sentences(path: PathLike) -> Iterator[Tuple[int, List[str], List[str]]]:
    """
    Yields `(first line number, words, raw tags)` per sentence of a corpus file, checking
    the line format, the tokens and the tag syntax (not the scheme).
    """
    name = str(path)
    words: List[str] = []
    tags: List[str] = []
    first_line = 0
    any_sentence = False
    for line_number, fields in two_column_lines(path, "token<TAB>label"):
        if fields is None:
            if words:
                any_sentence = True
                yield first_line, words, tags
                words, tags = [], []
            continue
        word, tag = fields
        if word == DOCSTART:
            continue
        if not word or word != word.strip():
            raise InputFormatError(
                f"empty token or token with surrounding whitespace: {word!r}", name, line_number
            )
        try:
            split_tag(tag)
        except ValueError as error:
            raise InputFormatError(str(error), name, line_number) from None
        if not words:
            first_line = line_number
        words.append(word)
        tags.append(tag)
    if words:
        any_sentence = True
        yield first_line, words, tags
    if not any_sentence:
        raise InputFormatError("no sentences (empty file)", name)


def read_sentences(
    path: PathLike, label_encoding: str = "auto", max_tokens: Optional[int] = None
) -> Iterator[Tuple[List[str], List[str]]]:
    """
    Yields `(words, bioul_tags)` for each sentence of a Crichton-format file.

    Raises `InputFormatError` naming the file and line for a line that is not
    `token<TAB>label`, an unknown tag prefix, an empty or missing file, a sentence of more
    than `max_tokens` tokens (its first line). Tag sequences that
    break the scheme are repaired (see `biomtl_allennlp.common.tags`) and the number of
    repairs is logged as a warning.

    # Parameters

    path : `str` or `os.PathLike`
        A local path or URL.
    label_encoding : `str`, optional (default = `"auto"`)
        `"IOBES"`, `"BIO"`, or `"auto"` to detect it from the whole file (IOBES if any
        `E-`/`S-` tag occurs).
    max_tokens : `int`, optional (default = `None`: no limit)
        The longest sentence accepted: a longer one (often a missing blank line between
        sentences) would cost memory in proportion to its length in training (a
        10,000-token sentence took 6.8 GB), so it is an error, not a silent cost.
    """
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be positive or None, got {max_tokens!r}")
    if label_encoding not in ("auto",) + ENCODINGS:
        raise ValueError(f"unknown label encoding {label_encoding!r} (auto, IOBES or BIO)")
    name = str(path)
    raw = read_raw_sentences(path)
    if label_encoding == "auto":
        # Detection needs the whole file's tags; files are small enough to hold.
        raw_list = list(raw)
        label_encoding = detect_encoding([tag for _, _, tags in raw_list for tag in tags])
        raw = iter(raw_list)
    repairs = 0
    for first_line, words, tags in raw:
        if max_tokens is not None and len(words) > max_tokens:
            raise InputFormatError(
                f"sentence of {len(words)} tokens (lines {first_line}-"
                f"{first_line + len(words) - 1}), over the limit of {max_tokens} "
                "(max_sentence_tokens); a missing blank line between sentences? Split it, "
                "or raise the limit",
                name,
                first_line,
            )
        try:
            spans, repaired = tags_to_spans(tags, label_encoding)
        except ValueError as error:
            # Find the offending line for the message.
            for offset, tag in enumerate(tags):
                try:
                    tags_to_spans([tag], label_encoding)
                except ValueError:
                    raise InputFormatError(str(error), name, first_line + offset) from None
            raise InputFormatError(str(error), name, first_line) from None
        if repaired:
            repairs += repaired
            logger.debug("%s:%d: repaired %d tag(s)", name, first_line, repaired)
        yield words, spans_to_bioul(spans, len(words))
    if repairs:
        logger.warning(
            "%s: %d %s tag sequence(s) did not follow the scheme and were repaired by the "
            "conlleval rule (a continuation without a start begins a new entity; an "
            "unclosed entity ends at the next tag); the entity count is that of conlleval",
            name,
            repairs,
            label_encoding,
        )
