"""
A rule-based sentence splitter for PubMed titles and abstracts with exact character spans,
and helpers to cut over-long sentences into windows of tokens.

Typical use on a raw document (e.g. a PubTator title + " " + abstract):

    splitter = BiomedicalSentenceSplitter()
    tokenizer = BiomedicalTokenizer()
    for sentence_tokens in tokenize_document(text, tokenizer, splitter,
                                             max_sentence_tokens=200,
                                             title_end=len(title)):
        ...  # a list of `Token`s with offsets into `text`, at most 200 of them
"""
import re
from typing import List, Optional, Sequence, Set, Tuple, TypeVar

from allennlp.data.tokenizers.sentence_splitter import SentenceSplitter
from allennlp.data.tokenizers.token_class import Token

from biomtl_allennlp.data.tokenizers.biomedical_tokenizer import (
    ALNUM_CLASS,
    SEPARATOR_CLASS_BODY,
    BiomedicalTokenizer,
)

T = TypeVar("T")

# Lower-cased words ending with "." after which a sentence never ends. A candidate
# boundary is checked against the whitespace-delimited word that ends with the full stop,
# with leading brackets and quotes removed; words longer than two characters match
# case-insensitively (`E.g.`, `FIG.`), single letters only in lower case (`c.`, `p.`),
# since `hepatitis C.` may end a sentence.
DEFAULT_ABBREVIATIONS: Tuple[str, ...] = (
    "e.g.", "i.e.", "al.", "vs.", "v.", "viz.", "cf.", "approx.", "ca.", "c.", "no.",
    "nos.", "fig.", "figs.", "tab.", "eq.", "eqs.", "ref.", "refs.", "dr.", "mr.", "mrs.",
    "ms.", "prof.", "st.", "jr.", "sr.", "resp.", "incl.", "spp.", "sp.", "subsp.", "var.",
    "vol.", "pp.", "p.", "suppl.", "inc.", "ltd.", "co.", "corp.", "dept.", "univ.",
)  # fmt: skip

_NEWLINE_RE = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_NON_SEPARATOR_RE = re.compile(f"[^{SEPARATOR_CLASS_BODY}]")
# A sentence-final punctuation run (plus closing quotes / brackets) followed by separators.
_CANDIDATE_RE = re.compile(
    rf"[.?!]+[\"'\u201d\u2019)\]}}]*(?P<gap>[{SEPARATOR_CLASS_BODY}]+)(?=[^{SEPARATOR_CLASS_BODY}])"
)
_SINGLE_INITIAL_RE = re.compile(r"^[A-Z]\.$")
_INITIAL_AHEAD_RE = re.compile(rf"[A-Z]\.[{SEPARATOR_CLASS_BODY}]")
_SECTION_HEADING_RE = re.compile(r"[A-Z][A-Z ]{2,}[A-Z]:")
_WORD_RE = re.compile(f"{ALNUM_CLASS}+")
# How far before a candidate boundary to look for an open bracket, and after it for the
# closing bracket.
_BRACKET_LOOKBEHIND = 1000
_BRACKET_LOOKAHEAD = 300
_OPENING_CHARS = "([{\"'\u201c\u2018<"
_STRIP_CHARS = "([{\"'\u201c\u2018"


class _SentenceRules:
    """Decides whether a candidate boundary is a sentence boundary."""

    def __init__(self, abbreviations: Set[str]) -> None:
        self.abbreviations = abbreviations

    def is_boundary(
        self, text: str, sentence_start: int, punct_start: int, next_start: int, segment_end: int
    ) -> bool:
        """
        Whether the sentence-final punctuation at `punct_start`, followed by whitespace and
        then `text[next_start]`, ends a sentence that began at `sentence_start` (in a line
        ending at `segment_end`).
        """
        if _SECTION_HEADING_RE.match(text, next_start):
            return True  # `... et al. RESULTS: ...` in a structured abstract.
        next_char = text[next_start]
        if not (next_char.isupper() or next_char.isdigit() or next_char in _OPENING_CHARS):
            # A lower-case start is accepted only for words such as `mRNA`, `p53`, `cTnI`,
            # `beta2`, which PubMed sentences do start with.
            next_word = _WORD_RE.match(text, next_start)
            if next_word is None or not any(c.isupper() or c.isdigit() for c in next_word[0]):
                return False
        if self._inside_brackets(text, sentence_start, punct_start, next_start, segment_end):
            return False  # `(Smith, J. Biol. Chem. 1998)`, `(EC 1. 1. 1. 49)`
        if text[punct_start] != ".":
            return True
        if punct_start > 0 and text[punct_start - 1].isdigit() and next_char.isdigit():
            return False  # a decimal number with a space inserted: `0. 968`, `EC 1. 1. 1`
        previous_word = self._word_before(text, punct_start + 1)
        if previous_word in self.abbreviations or (
            len(previous_word) > 2 and previous_word.lower() in self.abbreviations
        ):
            return False
        if _SINGLE_INITIAL_RE.match(previous_word):
            # Initials in names (`J. R. Smith`, `Smith, J., Jones, K.`) do not end a sentence,
            # but a capital letter at the end of a sentence is common in abstracts
            # (`hepatitis C. The`, `in Group B. BUN`): an initial is a capital letter after
            # or before another initial, or after a word ending with a comma.
            before = self._word_before(text, punct_start - 1)
            if (
                _SINGLE_INITIAL_RE.match(before)
                or before.endswith(",")
                or _INITIAL_AHEAD_RE.match(text, next_start)
            ):
                return False
        return True

    @staticmethod
    def _inside_brackets(
        text: str, sentence_start: int, punct_start: int, next_start: int, segment_end: int
    ) -> bool:
        """Whether a bracket opened in the sentence is still open and closes soon after."""
        before = text[max(sentence_start, punct_start - _BRACKET_LOOKBEHIND):punct_start]
        depth = before.count("(") + before.count("[") - before.count(")") - before.count("]")
        if depth <= 0:
            return False
        after = text[next_start:min(segment_end, next_start + _BRACKET_LOOKAHEAD)]
        return ")" in after or "]" in after

    @staticmethod
    def _word_before(text: str, end: int) -> str:
        """The whitespace-delimited word ending at `end`, without leading brackets/quotes."""
        start = end
        while start > 0 and _NON_SEPARATOR_RE.match(text, start - 1):
            start -= 1
        if start == end:
            # `end` is just after separators: take the word before them.
            while start > 0 and not _NON_SEPARATOR_RE.match(text, start - 1):
                start -= 1
            end = start
            while start > 0 and _NON_SEPARATOR_RE.match(text, start - 1):
                start -= 1
        return text[start:end].lstrip(_STRIP_CHARS)


def _trim(text: str, start: int, end: int) -> Optional[Tuple[int, int]]:
    """Shrinks `(start, end)` to its first and last non-separator characters, if any."""
    match = _NON_SEPARATOR_RE.search(text, start, end)
    if match is None:
        return None
    start = match.start()
    while not _NON_SEPARATOR_RE.match(text, end - 1):
        end -= 1
    return start, end


@SentenceSplitter.register("biomedical")
class BiomedicalSentenceSplitter(SentenceSplitter):
    """
    A fast rule-based sentence splitter for PubMed titles and abstracts that also gives
    the exact character span of every sentence (`split_spans`).

    A sentence ends at every line break (`\\n`, `\\r\\n`, `\\r`, U+2028, ...), and after a
    run of `.`, `?` or `!` (optionally followed by closing quotes or brackets) that is
    followed by whitespace and then an upper-case letter, a digit, an opening bracket or
    quote, or a lower-case word containing an upper-case letter or a digit (`mRNA`,
    `p53`). It does not end after a known abbreviation (`e.g.`, `i.e.`, `et al.`, `vs.`,
    `Fig.`, `Dr.`, `approx.`, `ca.`, `no.`, ...), after a single capital initial that
    follows a capitalised word or another initial (`J. R. Smith`), or inside a number
    (`2.5`, since no whitespace follows the full stop). Spans never start or end with
    whitespace, so they never cut a token of `BiomedicalTokenizer`, and every
    non-whitespace character of the text is inside exactly one span. A text without
    sentence punctuation is one sentence; a whitespace-only text has none.

    Registered as a `SentenceSplitter` with name "biomedical".

    # Parameters

    extra_abbreviations : `List[str]`, optional (default = `None`)
        More words (ending with ".", matched case-insensitively) after which a sentence
        does not end, added to `DEFAULT_ABBREVIATIONS`.
    """

    def __init__(self, extra_abbreviations: Optional[List[str]] = None) -> None:
        abbreviations = set(DEFAULT_ABBREVIATIONS)
        abbreviations.update(a.lower() for a in extra_abbreviations or [])
        self._rules = _SentenceRules(abbreviations)

    def split_spans(self, text: str, title_end: Optional[int] = None) -> List[Tuple[int, int]]:
        """
        Returns the `(start, end)` character spans of the sentences of `text`, in order.

        # Parameters

        text : `str`
            The text to split.
        title_end : `int`, optional (default = `None`)
            If given, a sentence boundary is forced at this character offset, e.g.
            `len(title)` for a PubTator document whose text is title + " " + abstract, so
            that a title without final punctuation is its own sentence.
        """
        segments: List[Tuple[int, int]] = []
        if title_end is not None and 0 < title_end < len(text):
            bounds = [(0, title_end), (title_end, len(text))]
        else:
            bounds = [(0, len(text))]
        for seg_start, seg_end in bounds:
            line_start = seg_start
            for newline in _NEWLINE_RE.finditer(text, seg_start, seg_end):
                segments.append((line_start, newline.start()))
                line_start = newline.end()
            segments.append((line_start, seg_end))

        spans: List[Tuple[int, int]] = []
        for seg_start, seg_end in segments:
            sentence_start = seg_start
            for candidate in _CANDIDATE_RE.finditer(text, seg_start, seg_end):
                if self._rules.is_boundary(
                    text, sentence_start, candidate.start(), candidate.end(), seg_end
                ):
                    trimmed = _trim(text, sentence_start, candidate.start("gap"))
                    if trimmed is not None:
                        spans.append(trimmed)
                    sentence_start = candidate.end()
            trimmed = _trim(text, sentence_start, seg_end)
            if trimmed is not None:
                spans.append(trimmed)
        return spans

    def split_sentences(self, text: str) -> List[str]:
        return [text[start:end] for start, end in self.split_spans(text)]


def window_spans(
    tokens: Sequence[T],
    max_sentence_tokens: int = 200,
    split_tokens: Sequence[str] = (";", ","),
    search_fraction: float = 0.25,
) -> List[Tuple[int, int]]:
    """
    Cuts a sequence of tokens into consecutive windows of at most `max_sentence_tokens`
    tokens and returns their `(start, end)` token indices. Nothing is lost or repeated: the
    windows cover `0 .. len(tokens)` exactly, in order. A window preferably ends just after
    a `;` token (else a `,` token, in the order of `split_tokens`) among its last
    `search_fraction * max_sentence_tokens` tokens; otherwise it is cut at the limit.

    # Parameters

    tokens : `Sequence[T]`
        `Token`s or strings (a `Token` is compared through its `text`).
    max_sentence_tokens : `int`, optional (default = `200`)
        The largest window.
    split_tokens : `Sequence[str]`, optional (default = `(";", ",")`)
        Preferred tokens to end a window with, most preferred first.
    search_fraction : `float`, optional (default = `0.25`)
        How far back from the limit (as a fraction of it) to look for a `split_tokens` token.
    """
    if max_sentence_tokens < 1:
        raise ValueError(f"max_sentence_tokens must be positive, got {max_sentence_tokens}")
    texts = [t.text if isinstance(t, Token) else str(t) for t in tokens]
    windows: List[Tuple[int, int]] = []
    start = 0
    n = len(texts)
    lookback = max(0, min(max_sentence_tokens - 1, int(max_sentence_tokens * search_fraction)))
    while n - start > max_sentence_tokens:
        limit = start + max_sentence_tokens  # exclusive end of the largest window
        end = limit
        for split_token in split_tokens:
            found = next(
                (
                    i + 1
                    for i in range(limit - 1, limit - 1 - lookback - 1, -1)
                    if i > start and texts[i] == split_token
                ),
                None,
            )
            if found is not None:
                end = found
                break
        windows.append((start, end))
        start = end
    if start < n:
        windows.append((start, n))
    return windows


def window_tokens(
    tokens: Sequence[T], max_sentence_tokens: int = 200, split_tokens: Sequence[str] = (";", ",")
) -> List[List[T]]:
    """
    Like `window_spans`, but returns the windows themselves (lists of the given tokens).
    """
    return [
        list(tokens[start:end])
        for start, end in window_spans(tokens, max_sentence_tokens, split_tokens)
    ]


def tokenize_document(
    text: str,
    tokenizer: Optional[BiomedicalTokenizer] = None,
    splitter: Optional[BiomedicalSentenceSplitter] = None,
    max_sentence_tokens: int = 200,
    title_end: Optional[int] = None,
) -> List[List[Token]]:
    """
    Splits `text` into sentences, tokenizes them and cuts sentences longer than
    `max_sentence_tokens` tokens into windows (see `window_spans`). Returns one list of
    `Token`s per sentence / window, with `idx` / `idx_end` relative to `text` (so
    `text[t.idx:t.idx_end] == t.text`). Every token of `tokenizer.tokenize(text)` is in
    exactly one list, in order.

    # Parameters

    text : `str`
        The raw document.
    tokenizer : `BiomedicalTokenizer`, optional (default = `BiomedicalTokenizer()`)
    splitter : `BiomedicalSentenceSplitter`, optional (default = `BiomedicalSentenceSplitter()`)
    max_sentence_tokens : `int`, optional (default = `200`)
    title_end : `int`, optional (default = `None`)
        Forces a sentence boundary at this offset (e.g. `len(title)`), see
        `BiomedicalSentenceSplitter.split_spans`.
    """
    tokenizer = tokenizer or BiomedicalTokenizer()
    splitter = splitter or BiomedicalSentenceSplitter()
    sentences: List[List[Token]] = []
    for start, end in splitter.split_spans(text, title_end=title_end):
        tokens = [
            Token(text=text[start + s:start + e], idx=start + s, idx_end=start + e)
            for s, e in tokenizer.tokenize_spans(text[start:end])
        ]
        for w_start, w_end in window_spans(tokens, max_sentence_tokens):
            sentences.append(tokens[w_start:w_end])
    return sentences
