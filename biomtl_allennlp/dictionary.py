"""
User entity dictionaries (paper Table 4): loading, building from a training corpus, longest-match
lookup, dictionary post-processing of predicted tags, and the window lookups behind the
dictionary features (see `DictionaryFeaturesIndexer`).

A dictionary file is a TSV with one `term<TAB>type` entry per line, e.g.
`breast cancer<TAB>Disease`. Blank lines and lines starting with `#` are skipped. Terms are
tokenized with the same split rule as the corpora (`split_term`: runs of letters and digits, every
other non-space character is a token of its own), and so are the corpus tokens looked up, so
`endo-beta-1,4-glucanase` and `endo - beta - 1 , 4 - glucanase` are the same term, whichever way
the sentence was split. A term may be listed with several types; its first listed type is its
preferred one (used by `match`). Lookups consider windows of at most `max_window` (default 6)
corpus tokens.

Command line (`biomtl_allennlp/commands/dictionary.py`):

    allennlp dictionary build --out dict.tsv [--label-encoding IOBES] \\
        [--min-count 1] [--case-sensitive] train.tsv [...]
"""
import logging
from collections import Counter, OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.tags import bioul_to_spans, write_bioul_span
from biomtl_allennlp.data.crichton_tsv import read_sentences, two_column_lines
from biomtl_allennlp.data.tokenizers.biomedical_tokenizer import split_term

logger = logging.getLogger(__name__)

Span = Tuple[int, int, str]
# A token: a plain string or anything with a `.text` (an allennlp `Token`).
TokenLike = Any

__all__ = [
    "EntityDictionary",
    "build_dictionary_from_corpus",
    "postprocess_tags",
    "split_term",
]


def _token_text(token: TokenLike) -> str:
    # Accepts plain strings as well as allennlp `Token`s (anything with a `.text`).
    text = token if isinstance(token, str) else getattr(token, "text", None)
    return text or ""


class EntityDictionary:
    """
    A set of entity terms with their types, looked up by token windows.

    # Parameters

    lowercase : `bool`, optional (default=`True`)
        Match terms case-insensitively.
    max_window : `int`, optional (default=`6`)
        The longest window, in corpus tokens, that `match` and `window_types` look up.
    """

    def __init__(self, lowercase: bool = True, max_window: int = 6) -> None:
        if max_window < 1:
            raise ValueError(f"max_window must be at least 1, got {max_window}")
        self.lowercase = lowercase
        self.max_window = max_window
        # Normalized term -> its types, preferred first.
        self._terms: Dict[Tuple[str, ...], List[str]] = {}
        # (term as written, type) entries, in insertion order, for `save`.
        self._entries: "OrderedDict[Tuple[str, str], None]" = OrderedDict()

    # ------------------------------------------------------------------ building

    def _normalize(self, text: str) -> Tuple[str, ...]:
        if self.lowercase:
            text = text.lower()
        return tuple(split_term(text))

    def add(self, term: Union[str, Sequence[str]], entity_type: str) -> None:
        """
        Adds `term` (a string, or a sequence of tokens joined by spaces) with `entity_type`.
        A type added later for an existing term ranks after the types it already has.
        """
        text = term if isinstance(term, str) else " ".join(term)
        key = self._normalize(text)
        entity_type = entity_type.strip()
        if not key:
            raise ValueError(f"empty dictionary term: {term!r}")
        if not entity_type:
            raise ValueError(f"empty entity type for term {term!r}")
        types = self._terms.setdefault(key, [])
        if entity_type not in types:
            types.append(entity_type)
        self._entries[(" ".join(split_term(text)), entity_type)] = None

    @classmethod
    def from_file(
        cls, path: str, lowercase: bool = True, max_window: int = 6
    ) -> "EntityDictionary":
        """
        Loads a `term<TAB>type` TSV (a local path or URL). Raises `InputFormatError` naming the
        file and line for a line that does not have exactly two non-empty tab-separated
        fields, or naming the file when it cannot be read.
        """
        dictionary = cls(lowercase=lowercase, max_window=max_window)
        for line_number, fields in two_column_lines(path, "term<TAB>type", skip_comments=True):
            if fields is None:
                continue
            term, entity_type = fields[0].strip(), fields[1].strip()
            if not split_term(term) or not entity_type:
                line = "\t".join(fields)
                raise InputFormatError(f"empty term or type: {line!r}", str(path), line_number)
            dictionary.add(term, entity_type)
        if not dictionary._terms:
            logger.warning("Dictionary file %s has no entries", path)
        return dictionary

    def save(self, path: str) -> None:
        """Writes a `term<TAB>type` TSV that `from_file` reads back to the same dictionary."""
        # Group entries by normalized term, and within a term follow its type preference, so that
        # reading the file back gives every term the same preferred type.
        def sort_key(entry: Tuple[str, str]) -> Tuple[Tuple[str, ...], int, str]:
            term, entity_type = entry
            key = self._normalize(term)
            return key, self._terms[key].index(entity_type), term

        with open(path, "w", encoding="utf-8") as handle:
            for term, entity_type in sorted(self._entries, key=sort_key):
                handle.write(f"{term}\t{entity_type}\n")

    # ------------------------------------------------------------------ lookup

    @property
    def entity_types(self) -> List[str]:
        """All entity types in the dictionary, sorted."""
        return sorted({t for types in self._terms.values() for t in types})

    def __len__(self) -> int:
        return len(self._terms)

    def terms_per_type(self) -> Dict[str, int]:
        """The number of terms of each type (a term with several types counts for each)."""
        return dict(Counter(t for types in self._terms.values() for t in types))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntityDictionary):
            return NotImplemented
        return (self.lowercase, self.max_window, self._terms) == (
            other.lowercase,
            other.max_window,
            other._terms,
        )

    def __contains__(self, term: object) -> bool:
        if isinstance(term, str):
            return self._normalize(term) in self._terms
        if isinstance(term, (list, tuple)):
            return self._normalize(" ".join(_token_text(t) for t in term)) in self._terms
        return False

    def types_of(self, term: Union[str, Sequence[str]]) -> List[str]:
        """The types of `term` (preferred first), or `[]` when it is not in the dictionary."""
        text = term if isinstance(term, str) else " ".join(_token_text(t) for t in term)
        return list(self._terms.get(self._normalize(text), []))

    def window_types(
        self, tokens: Sequence[TokenLike], max_window: Optional[int] = None
    ) -> Dict[Tuple[int, int], List[str]]:
        """
        Looks up every window of `tokens` of 1 to `max_window` tokens (default: the dictionary's).

        # Returns

        `Dict[(start, length), List[str]]` for the windows that are dictionary terms, with their
        types, preferred first.
        """
        max_window = self.max_window if max_window is None else max_window
        normalized: List[Tuple[str, ...]] = []
        for token in tokens:
            text = _token_text(token)
            # A token the split rule leaves empty stays a (never matching) piece of its own.
            normalized.append(self._normalize(text) or (text,))
        found: Dict[Tuple[int, int], List[str]] = {}
        for start in range(len(normalized)):
            key: Tuple[str, ...] = ()
            for length in range(1, min(max_window, len(normalized) - start) + 1):
                key = key + normalized[start + length - 1]
                types = self._terms.get(key)
                if types:
                    found[(start, length)] = types
        return found

    def match(
        self, tokens: Sequence[TokenLike], entity_types: Optional[Iterable[str]] = None
    ) -> List[Span]:
        """
        Greedy left-to-right longest-match lookup of windows of up to `max_window` tokens.

        # Parameters

        tokens : `Sequence[str]` (or allennlp `Token`s)
        entity_types : `Iterable[str]`, optional
            Only match terms of these types (default: all types).

        # Returns

        Non-overlapping `(start, end_inclusive, type)` matches, in order; a term with several
        types gets its preferred one (among `entity_types`).
        """
        allowed = None if entity_types is None else set(entity_types)
        windows = self.window_types(tokens)
        matches: List[Span] = []
        start = 0
        while start < len(tokens):
            step = 1
            for length in range(min(self.max_window, len(tokens) - start), 0, -1):
                types = windows.get((start, length), [])
                if allowed is not None:
                    types = [t for t in types if t in allowed]
                if types:
                    matches.append((start, start + length - 1, types[0]))
                    step = length
                    break
            start += step
        return matches


def postprocess_tags(
    tokens: Sequence[TokenLike],
    tags: Sequence[str],
    dictionary: EntityDictionary,
    entity_types: Optional[Iterable[str]] = None,
) -> List[str]:
    """
    Dictionary post-processing: labels dictionary matches (longest match, see
    `EntityDictionary.match`) found inside runs of `O`-tagged tokens with BIOUL tags (`U-type` for
    one token, `B-type I-type ... L-type` otherwise). Existing entity tags are never changed.

    # Returns

    A new tag list; `tags` is not modified.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    new_tags = list(tags)
    index = 0
    while index < len(tags):
        if tags[index] != "O":
            index += 1
            continue
        run_end = index
        while run_end < len(tags) and tags[run_end] == "O":
            run_end += 1
        for start, end, entity_type in dictionary.match(tokens[index:run_end], entity_types):
            write_bioul_span(new_tags, entity_type, start + index, end + index)
        index = run_end
    return new_tags


def build_dictionary_from_corpus(
    paths: Union[str, Sequence[str]],
    label_encoding: str = "auto",
    lowercase: bool = True,
    max_window: int = 6,
    min_count: int = 1,
) -> EntityDictionary:
    """
    Builds a dictionary from the entity mentions of Crichton-format training splits (read
    with `biomtl_allennlp.data.crichton_tsv.read_sentences`, which checks the format and
    raises `InputFormatError` naming the file and line). A term seen with several types
    prefers its most frequent type (ties: the type seen first).

    # Parameters

    paths : `str` or `Sequence[str]`
    label_encoding : `str`, optional (default=`"auto"`)
        "IOBES" (`B-/I-/E-/S-/O`), "BIO" (`B-/I-/O`) or "auto" (detected per file).
    lowercase : `bool`, optional (default=`True`)
        Passed to `EntityDictionary`; also decides which mentions count as the same term.
    max_window : `int`, optional (default=`6`)
    min_count : `int`, optional (default=`1`)
        Keep only (term, type) pairs seen at least this often.
    """
    if isinstance(paths, str):
        paths = [paths]
    dictionary = EntityDictionary(lowercase=lowercase, max_window=max_window)
    counts: Counter = Counter()
    first_seen: Dict[Tuple[Tuple[str, ...], str], int] = {}
    surface: Dict[Tuple[Tuple[str, ...], str], List[str]] = {}
    for path in paths:
        for tokens, labels in read_sentences(path, label_encoding):
            for entity_type, start, end in bioul_to_spans(labels):
                text = " ".join(tokens[start : end + 1])
                key = (dictionary._normalize(text), entity_type)
                counts[key] += 1
                first_seen.setdefault(key, len(first_seen))
                if text not in surface.setdefault(key, []):
                    surface[key].append(text)
    kept = [key for key in counts if counts[key] >= min_count and key[0]]
    # Most frequent type first for each term, so that `add` records it as the preferred one.
    kept.sort(key=lambda key: (key[0], -counts[key], first_seen[key]))
    for key in kept:
        for text in surface[key]:
            dictionary.add(text, key[1])
    return dictionary
