"""
A fast, offset-exact, regex-based tokenizer that reproduces the tokenization of the
Crichton et al. (2017) token-level corpora (BC5CDR, NCBI-disease, BC2GM, ...).

The rules found in those corpora are simple: a token is either a maximal run of letters and
digits (`FK506`, `17beta`, `99mTc`, `BRCA1`) or one single other character, so
punctuation, hyphens, slashes, brackets, quotes, `+`, `%`, `=`, `<`, ... are split off and
`endo-beta-1,4-glucanase` becomes `endo - beta - 1 , 4 - glucanase`, `2.5` becomes
`2 . 5`, `Parkinson's` becomes `Parkinson ' s` and `+/-` becomes `+ / -`. Non-ASCII
letters and digits (Greek, accented letters, ...) count as letters; combining marks and
emoji modifiers stay attached to the character they follow.
"""
import re
import sys
import unicodedata
from functools import lru_cache
from typing import List, Tuple

from allennlp.data.tokenizers.token_class import Token
from allennlp.data.tokenizers.tokenizer import Tokenizer

# Characters that separate tokens and are never part of one: everything `str.isspace()`
# accepts (which is what `\s` matches in a `str` pattern: ASCII whitespace, NBSP, all
# Unicode Zs/Zl/Zp, U+001C..U+001F, U+0085, ...), all C0/C1 control characters (Cc) and the
# invisible zero-width "spaces" U+180E, U+200B, U+2060 and U+FEFF.
SEPARATOR_CLASS_BODY = r"\s\x00-\x1f\x7f-\x9f\u180e\u200b\u2060\ufeff"
_SEPARATOR_RE = re.compile(f"[{SEPARATOR_CLASS_BODY}]")

# The corpora's word characters: Unicode letters and digits (`str.isalnum()`), not `_`. A
# word is a maximal run of them; this class is the one definition of that rule, used by the
# tokenizer, the sentence splitter and `split_term`.
ALNUM_CLASS = r"[^\W_]"
# The rule on its own: words, and every other non-whitespace character as a token.
_TERM_RE = re.compile(rf"{ALNUM_CLASS}+|\S")


def split_term(text: str) -> List[str]:
    """
    Splits `text` with the corpora's rule in its plain form (maximal runs of letters and
    digits; every other non-whitespace character on its own), e.g.
    `"endo-beta-1,4-glucanase"` -> `["endo", "-", "beta", "-", "1", ",", "4", "-", "glucanase"]`.

    This is how dictionary terms and the corpus tokens looked up in a dictionary are
    compared (`biomtl_allennlp.dictionary`). Unlike `BiomedicalTokenizer` it has no offsets,
    keeps no combining mark with its letter, cuts no long token and treats only `\\s` as
    whitespace.
    """
    return _TERM_RE.findall(text)


def is_separator(char: str) -> bool:
    """
    Whether `char` (one character) separates tokens, i.e. is whitespace, a control
    character or an invisible zero-width space. Such characters are never part of a token;
    every other character of a text is part of exactly one token.
    """
    return _SEPARATOR_RE.match(char) is not None


def _ranges_to_class(codepoints: List[int]) -> str:
    """Turns a sorted list of code points into the body of a regex character class."""
    parts: List[str] = []
    start = prev = None
    for cp in codepoints + [-2]:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:  # type: ignore[operator]
            prev = cp
        else:
            if start == prev:
                parts.append(re.escape(chr(start)))  # type: ignore[arg-type]
            else:
                parts.append(f"{re.escape(chr(start))}-{re.escape(chr(prev))}")  # type: ignore
            start = prev = cp
    return "".join(parts)


@lru_cache(maxsize=None)
def _extender_class_body() -> str:
    """
    Characters that stay attached to the character before them: all combining marks
    (Unicode categories Mn, Mc, Me, which include the variation selectors), the emoji skin
    tone modifiers U+1F3FB..U+1F3FF and the emoji tag characters U+E0020..U+E007F.
    """
    marks = [
        cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("M")
    ]
    return _ranges_to_class(marks) + "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"


@lru_cache(maxsize=None)
def _token_regex(split_hyphens: bool) -> "re.Pattern[str]":
    ext = f"[{_extender_class_body()}]"
    alnum = ALNUM_CLASS
    word = f"{alnum}(?:{alnum}|{ext})*"
    if not split_hyphens:
        # JNLPBA / GENIA style: `IL-2`, `NF-kappaB`, `c-fos` stay whole.
        word = f"{word}(?:-{word})*"
    not_sep = f"[^{SEPARATOR_CLASS_BODY}]"
    # A non-alphanumeric, non-separator character (`_` included).
    symbol = rf"(?:(?!{alnum}){not_sep})"
    # A flag emoji is a pair of regional indicator symbols.
    flag = "[\U0001f1e6-\U0001f1ff]{2}"
    # Any other character with its marks/modifiers; emoji ZWJ sequences stay together.
    other = f"{not_sep}{ext}*(?:\u200d(?:{symbol}{ext}*)?)*"
    return re.compile(f"{word}|{flag}{ext}*|{other}")


@lru_cache(maxsize=None)
def _extender_regex() -> "re.Pattern[str]":
    return re.compile(f"[{_extender_class_body()}\u200d]")


@Tokenizer.register("biomedical")
class BiomedicalTokenizer(Tokenizer):
    """
    A regex tokenizer for biomedical text that splits raw text the way the token-level
    biomedical NER corpora of Crichton et al. (2017) (BC5CDR, NCBI-disease, BC2GM, ...)
    are tokenized: maximal runs of letters and digits are tokens, and every other
    character (punctuation, hyphens, slashes, brackets, quotes, `+`, `%`, `=`, ...) is a
    token of its own, e.g. `endo-beta-1,4-glucanase` -> `endo - beta - 1 , 4 - glucanase`,
    `(p<0.05)` -> `( p < 0 . 05 )`, `Parkinson's` -> `Parkinson ' s`.

    Every returned token has exact character offsets: `text[token.idx:token.idx_end] ==
    token.text`. Whitespace of any kind (including NBSP and zero-width spaces) and control
    characters are never part of a token; all other characters are kept unchanged (nothing
    is normalised or dropped), and combining marks and emoji modifiers stay attached to the
    character before them. Tokens longer than `max_token_length` characters are cut into
    pieces of at most that length.

    Registered as a `Tokenizer` with name "biomedical".

    # Parameters

    split_hyphens : `bool`, optional (default = `True`)
        If `True` (the BC5CDR / NCBI-disease / BC2GM style), hyphens are tokens of their own
        (`IL-2` -> `IL - 2`). If `False` (the JNLPBA / GENIA style), a hyphen between letters
        or digits stays inside the token (`IL-2`, `NF-kappaB`).
    max_token_length : `int`, optional (default = `50`)
        Tokens longer than this are split into consecutive pieces of at most this many
        characters (never between a character and a combining mark following it, unless a
        run of marks is itself longer than the limit).
    """

    def __init__(self, split_hyphens: bool = True, max_token_length: int = 50) -> None:
        if max_token_length < 1:
            raise ValueError(f"max_token_length must be positive, got {max_token_length}")
        self.split_hyphens = split_hyphens
        self.max_token_length = max_token_length
        self._regex = _token_regex(split_hyphens)

    def tokenize_spans(self, text: str) -> List[Tuple[int, int]]:
        """
        Returns the `(start, end)` character offsets of the tokens of `text`, in order
        (`text[start:end]` is the token). This is what `tokenize` uses; it is cheaper when
        only offsets are needed.
        """
        max_len = self.max_token_length
        spans: List[Tuple[int, int]] = []
        for match in self._regex.finditer(text):
            start, end = match.span()
            if end - start <= max_len:
                spans.append((start, end))
            else:
                spans.extend(self._cut_long_token(text, start, end))
        return spans

    def tokenize(self, text: str) -> List[Token]:
        return [
            Token(text=text[start:end], idx=start, idx_end=end)
            for start, end in self.tokenize_spans(text)
        ]

    def _cut_long_token(self, text: str, start: int, end: int) -> List[Tuple[int, int]]:
        max_len = self.max_token_length
        extender = _extender_regex()
        pieces: List[Tuple[int, int]] = []
        while end - start > max_len:
            cut = start + max_len
            # Do not separate a combining mark / modifier from its base character.
            while cut > start + 1 and extender.match(text, cut):
                cut -= 1
            if cut == start + 1 and extender.match(text, cut):
                cut = start + max_len
            pieces.append((start, cut))
            start = cut
        pieces.append((start, end))
        return pieces
