import sys
import unicodedata
from typing import List, Tuple

import pytest
from allennlp.common import Params
from allennlp.data.tokenizers import SentenceSplitter, Token, Tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from biomtl_allennlp.data.tokenizers import (
    BiomedicalSentenceSplitter,
    BiomedicalTokenizer,
    is_separator,
    tokenize_document,
    window_spans,
    window_tokens,
)

ZERO_WIDTH_SEPARATORS = "\u180e\u200b\u2060\ufeff"


def reference_is_separator(char: str) -> bool:
    """The documented definition of a separator, independent of the implementation."""
    return (
        char.isspace()
        or unicodedata.category(char) in ("Cc", "Zs", "Zl", "Zp")
        or char in ZERO_WIDTH_SEPARATORS
    )


def texts(tokens: List[Token]) -> List[str]:
    return [t.text for t in tokens]


def spans(tokens: List[Token]) -> List[Tuple[int, int]]:
    return [(t.idx, t.idx_end) for t in tokens]


def check_tokens(text: str, tokens: List[Token]) -> None:
    """Exact offsets, non-empty, ordered, non-overlapping, no separators, full coverage."""
    covered = [0] * len(text)
    previous_end = 0
    for token in tokens:
        assert token.text
        assert token.idx is not None and token.idx_end is not None
        assert text[token.idx:token.idx_end] == token.text
        assert token.idx >= previous_end
        previous_end = token.idx_end
        assert not any(reference_is_separator(c) for c in token.text), repr(token.text)
        for i in range(token.idx, token.idx_end):
            covered[i] += 1
    for i, char in enumerate(text):
        expected = 0 if reference_is_separator(char) else 1
        assert covered[i] == expected, (i, repr(char), covered[i])


tokenizer = BiomedicalTokenizer()
jnlpba_tokenizer = BiomedicalTokenizer(split_hyphens=False)
splitter = BiomedicalSentenceSplitter()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("endo-beta-1,4-glucanase", ["endo", "-", "beta", "-", "1", ",", "4", "-", "glucanase"]),
        ("IL-2", ["IL", "-", "2"]),
        ("TNF-alpha", ["TNF", "-", "alpha"]),
        ("(p<0.05)", ["(", "p", "<", "0", ".", "05", ")"]),
        ("2.5 mg/kg", ["2", ".", "5", "mg", "/", "kg"]),
        ("Parkinson's disease", ["Parkinson", "'", "s", "disease"]),
        ("41.4 +/- 6.5", ["41", ".", "4", "+", "/", "-", "6", ".", "5"]),
        ("5mg FK506 17beta [3H]-naloxone", ["5mg", "FK506", "17beta", "[", "3H", "]", "-",
                                            "naloxone"]),
        ("Ca2+ 20% a=b; c: \"d\"", ["Ca2", "+", "20", "%", "a", "=", "b", ";", "c", ":", '"',
                                   "d", '"']),
        ("under_score", ["under", "_", "score"]),
        ("α-synuclein", ["α", "-", "synuclein"]),
        ("αB-crystallin", ["αB", "-", "crystallin"]),
        ("naïve Schrödinger café", ["naïve", "Schrödinger", "café"]),
        ("e\u0301te\u0301", ["e\u0301te\u0301"]),
        ("-\u0301x", ["-\u0301", "x"]),
        ("\u0301abc", ["\u0301", "abc"]),
        ("ok 👍🏽!", ["ok", "👍🏽", "!"]),
        ("👨\u200d👩\u200d👧 family", ["👨\u200d👩\u200d👧", "family"]),
        ("🇺🇸🇫🇷", ["🇺🇸", "🇫🇷"]),
        ("a\u200bb\u2060c\ufeffd", ["a", "b", "c", "d"]),
        ("a\tb\r\nc\u00a0d\u2028e\u3000f", ["a", "b", "c", "d", "e", "f"]),
        ("a\x00b\x07c\x1bd\x7fe\x85f\x9fg", ["a", "b", "c", "d", "e", "f", "g"]),
        ("soft\u00adhyphen", ["soft", "\u00ad", "hyphen"]),
        ("", []),
        ("   \t\r\n\u00a0\u200b ", []),
    ],
)
def test_tokens(text: str, expected: List[str]) -> None:
    tokens = tokenizer.tokenize(text)
    assert texts(tokens) == expected
    check_tokens(text, tokens)


def test_exact_offsets() -> None:
    text = "endo-beta-1,4-glucanase"
    assert spans(tokenizer.tokenize(text)) == [
        (0, 4), (4, 5), (5, 9), (9, 10), (10, 11), (11, 12), (12, 13), (13, 14), (14, 23)
    ]
    text = " \t(p<0.05)\r\n"
    assert spans(tokenizer.tokenize(text)) == [
        (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 9), (9, 10)
    ]
    text = "e\u0301 α-x\u200bz"
    assert spans(tokenizer.tokenize(text)) == [(0, 2), (3, 4), (4, 5), (5, 6), (7, 8)]


def test_split_hyphens_false() -> None:
    assert [t.text for t in jnlpba_tokenizer.tokenize("IL-2 NF-kappaB (c-fos) -induced")] == [
        "IL-2", "NF-kappaB", "(", "c-fos", ")", "-", "induced"
    ]
    tokens = jnlpba_tokenizer.tokenize("IL-2-mediated")
    assert [(t.text, t.idx, t.idx_end) for t in tokens] == [("IL-2-mediated", 0, 13)]


def test_long_token_is_cut_into_pieces() -> None:
    text = "x" * 1000
    tokens = tokenizer.tokenize(text)
    assert len(tokens) == 20
    assert all(len(t.text) == 50 for t in tokens)
    check_tokens(text, tokens)
    short = BiomedicalTokenizer(max_token_length=7).tokenize("  " + "ab" * 10 + "-")
    assert [t.text for t in short] == ["abababa", "bababab", "ababab", "-"]
    check_tokens("  " + "ab" * 10 + "-", short)


def test_long_token_is_not_cut_before_a_combining_mark() -> None:
    text = "x" * 49 + "e\u0301" + "y" * 10
    tokens = tokenizer.tokenize(text)
    assert spans(tokens) == [(0, 49), (49, 61)]
    # A run of marks longer than the limit is still cut.
    marks = "a" + "\u0301" * 120
    check_tokens(marks, BiomedicalTokenizer(max_token_length=50).tokenize(marks))
    assert max(len(t.text) for t in tokenizer.tokenize(marks)) <= 50


def test_invalid_max_token_length() -> None:
    with pytest.raises(ValueError):
        BiomedicalTokenizer(max_token_length=0)


def test_registered() -> None:
    assert Tokenizer.by_name("biomedical") is BiomedicalTokenizer
    built = Tokenizer.from_params(
        Params({"type": "biomedical", "split_hyphens": False, "max_token_length": 30})
    )
    assert isinstance(built, BiomedicalTokenizer)
    assert built.split_hyphens is False and built.max_token_length == 30
    assert SentenceSplitter.by_name("biomedical") is BiomedicalSentenceSplitter
    assert isinstance(
        SentenceSplitter.from_params(Params({"type": "biomedical"})), BiomedicalSentenceSplitter
    )


def test_is_separator_matches_its_definition_for_every_character() -> None:
    mismatches = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if is_separator(chr(cp)) != reference_is_separator(chr(cp))
    ]
    assert mismatches == []


# Random Unicode text, and random text built from pieces that exercise the rules.
text_strategy = st.text(max_size=300) | st.lists(
    st.sampled_from(
        list("aZ9é.,;:-()[]?!'\"  \t\n\r\u00a0\u200b\u0301\u200d👍🏽🇺")
        + ["e.g.", " Fig. ", "J. ", " et al. ", "2.5", ". The ", "? ", "\r\n", " (", ") "]
    ),
    max_size=80,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text_strategy)
def test_tokenizer_property(text: str) -> None:
    check_tokens(text, tokenizer.tokenize(text))
    check_tokens(text, jnlpba_tokenizer.tokenize(text))
    check_tokens(text, BiomedicalTokenizer(max_token_length=3).tokenize(text))


# --- sentence splitting ---


def sentences(text: str, **kwargs) -> List[str]:
    return [text[s:e] for s, e in splitter.split_spans(text, **kwargs)]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Doses were 2.5 mg (e.g. in rats). The effect, i.e. a drop, was seen. "
            "Smith et al. Showed it. See Fig. 2 and approx. 5 ca. 3 no. 4 vs. Dr. Who.",
            ["Doses were 2.5 mg (e.g. in rats).", "The effect, i.e. a drop, was seen.",
             "Smith et al. Showed it.", "See Fig. 2 and approx. 5 ca. 3 no. 4 vs. Dr. Who."],
        ),
        ("Was it? Yes! 3 patients died. (Results) were [good].",
         ["Was it?", "Yes!", "3 patients died.", "(Results) were [good]."]),
        ("It was done by J. R. Smith in 1990. Patients had hepatitis C. The end",
         ["It was done by J. R. Smith in 1990.", "Patients had hepatitis C.", "The end"]),
        ("Levels were 0. 968 and 1.5 (Gross, C. N., J. Biol. Chem. 1998). Next.",
         ["Levels were 0. 968 and 1.5 (Gross, C. N., J. Biol. Chem. 1998).", "Next."]),
        ("It rose. mRNA levels fell. the end.", ["It rose.", "mRNA levels fell. the end."]),
        ("Seen in al. METHODS: We did it.", ["Seen in al.", "METHODS: We did it."]),
        ("no sentence punctuation at all", ["no sentence punctuation at all"]),
        ("Title without punctuation\nAbstract one. Abstract two.",
         ["Title without punctuation", "Abstract one.", "Abstract two."]),
        ("  Title.\r\n\r\n Abstract one.  \r\n", ["Title.", "Abstract one."]),
        ("", []),
        (" \n\t\u200b ", []),
    ],
)
def test_sentences(text: str, expected: List[str]) -> None:
    assert sentences(text) == expected
    assert splitter.split_sentences(text) == expected


def test_title_end_forces_a_split() -> None:
    title, abstract = "Lithium toxicity in a newborn", "A newborn with lithium was seen."
    text = f"{title} {abstract}"
    assert sentences(text) == [text]
    assert splitter.split_spans(text, title_end=len(title)) == [(0, 29), (30, 62)]


def test_extra_abbreviations() -> None:
    text = "It was seen in Suppl. Table 2. Next."
    assert sentences(text) == ["It was seen in Suppl. Table 2.", "Next."]
    custom = BiomedicalSentenceSplitter(extra_abbreviations=["Tbl."])
    assert custom.split_sentences("See Tbl. Two. Next.") == ["See Tbl. Two.", "Next."]


def check_sentence_spans(text: str, sentence_spans: List[Tuple[int, int]]) -> None:
    previous_end = 0
    for start, end in sentence_spans:
        assert previous_end <= start < end <= len(text)
        assert not reference_is_separator(text[start])
        assert not reference_is_separator(text[end - 1])
        previous_end = end
    # Every token is inside exactly one sentence.
    for token in tokenizer.tokenize(text):
        containing = [
            (s, e) for s, e in sentence_spans if s <= token.idx and token.idx_end <= e
        ]
        assert len(containing) == 1, (token, sentence_spans)


@settings(max_examples=300, deadline=None)
@given(text_strategy)
def test_sentence_splitter_property(text: str) -> None:
    check_sentence_spans(text, splitter.split_spans(text))
    windows = tokenize_document(text, max_sentence_tokens=5)
    flat = [token for window in windows for token in window]
    assert spans(flat) == spans(tokenizer.tokenize(text))
    assert all(0 < len(window) <= 5 for window in windows)
    for token in flat:
        assert text[token.idx:token.idx_end] == token.text


@settings(max_examples=100, deadline=None)
@given(text_strategy, st.integers(min_value=0, max_value=300))
def test_sentence_splitter_property_with_title_end(text: str, title_end: int) -> None:
    if title_end < len(text) and reference_is_separator(text[title_end]):
        check_sentence_spans(text, splitter.split_spans(text, title_end=title_end))


# --- windows ---


def test_windows_of_a_20000_character_sentence() -> None:
    words = []
    for i in range(2500):
        words.append(f"w{i}")
        if i % 37 == 36:
            words.append(";")
        elif i % 11 == 10:
            words.append(",")
    text = " ".join(words)[:20000]
    tokens = tokenizer.tokenize(text)
    assert len(splitter.split_spans(text)) == 1
    windows = tokenize_document(text, max_sentence_tokens=200)
    assert len(windows) > 1
    assert all(0 < len(w) <= 200 for w in windows)
    assert spans([t for w in windows for t in w]) == spans(tokens)
    # Windows end at a ";" where there is one among the last 50 tokens.
    assert all(w[-1].text == ";" for w in windows[:-1])


def test_window_spans() -> None:
    tokens = [str(i) for i in range(10)]
    assert window_spans(tokens, 4) == [(0, 4), (4, 8), (8, 10)]
    assert window_spans(tokens, 10) == [(0, 10)]
    assert window_spans([], 3) == []
    assert window_spans(["a"] * 5, 1) == [(i, i + 1) for i in range(5)]
    with_comma = ["a", "b", ",", "c", "d", "e", "f", "g"]
    assert window_spans(with_comma, 4, search_fraction=0.5) == [(0, 3), (3, 7), (7, 8)]
    assert window_spans(with_comma, 4, search_fraction=0.0) == [(0, 4), (4, 8)]
    semicolon_first = ["a", ";", "b", ",", "c"]
    assert window_spans(semicolon_first, 4, search_fraction=1.0)[0] == (0, 2)
    as_tokens = [Token(t) for t in with_comma]
    assert [[t.text for t in w] for w in window_tokens(as_tokens, 4)] == [
        ["a", "b", ","], ["c", "d", "e", "f"], ["g"]
    ]
    with pytest.raises(ValueError):
        window_spans(tokens, 0)
