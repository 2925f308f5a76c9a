from typing import Dict, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path
from allennlp.data.token_indexers.token_indexer import IndexedTokenList, TokenIndexer
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary

from biomtl_allennlp.common.archives import check_remote_allowed
from biomtl_allennlp.dictionary import EntityDictionary


def num_window_features(max_window: int) -> int:
    """Features per entity type: windows of length n contain a word at n positions, summed."""
    return max_window * (max_window + 1) // 2


@TokenIndexer.register("dictionary_features")
class DictionaryFeaturesIndexer(TokenIndexer):
    """
    Binary dictionary features of each word (paper Table 4, "dictionary feature"): for every entity
    type and every word window of length 1 to `max_window` that contains the word, whether that
    window is a dictionary term of that type. A window of length n contains a word at n positions,
    so there are 1 + 2 + ... + `max_window` features per type (21 for `max_window` = 6).

    Feature layout, per word: `entity_types` blocks in order, each block ordered by window length
    `n` and then by the word's position `p` (0-based) inside the window, i.e. feature
    `type_index * F + n * (n - 1) / 2 + p` with `F = max_window * (max_window + 1) / 2`; e.g. for
    `max_window` = 6, feature 0 is "the word alone is a term", 1 / 2 are "the word starts / ends a
    two-word term".

    Output key (the `DictionaryFeaturesEmbedder`'s `forward` argument): `dictionary_features`,
    `List[List[float]]` of shape (num_tokens, F * num_types), padded with zero rows. No `mask` is
    produced, so use this indexer next to a word-id indexer (whose ids give the text field mask).

    Registered as a `TokenIndexer` with name "dictionary_features".

    # Parameters

    dictionary_path : `str`
        A `term<TAB>type` TSV (see `biomtl_allennlp.dictionary.EntityDictionary.from_file`).
        A URL is fetched only when `$BIOMTL_ALLOW_REMOTE_FILES` is `1` (the indexer is
        built whenever its config is loaded, an archive's included, so fetching is
        opt-in); otherwise it is an error that says so.
    entity_types : `List[str]`, optional (default = all types in the file, sorted)
        The types to compute features for, in feature-block order. Types absent from the file give
        all-zero blocks.
    lowercase : `bool`, optional (default = `True`)
        Match terms case-insensitively.
    max_window : `int`, optional (default = `6`)
        The longest window looked up.
    token_min_padding_length : `int`, optional (default = `0`)
        See `TokenIndexer`.
    """

    def __init__(
        self,
        dictionary_path: str,
        entity_types: Optional[List[str]] = None,
        lowercase: bool = True,
        max_window: int = 6,
        token_min_padding_length: int = 0,
    ) -> None:
        super().__init__(token_min_padding_length)
        if max_window < 1:
            raise ConfigurationError(f"max_window must be at least 1, got {max_window}")
        self._dictionary_path = dictionary_path
        check_remote_allowed(dictionary_path, "dictionary_features: dictionary_path")
        self._dictionary = EntityDictionary.from_file(
            cached_path(dictionary_path), lowercase=lowercase, max_window=max_window
        )
        self._entity_types: List[str] = (
            list(entity_types) if entity_types is not None else self._dictionary.entity_types
        )
        if not self._entity_types:
            raise ConfigurationError(f"dictionary {dictionary_path} has no entity types")
        if len(set(self._entity_types)) != len(self._entity_types):
            raise ConfigurationError(f"duplicate entity types: {self._entity_types}")
        self._type_index: Dict[str, int] = {t: i for i, t in enumerate(self._entity_types)}
        self._max_window = max_window
        self._features_per_type = num_window_features(max_window)

    @property
    def entity_types(self) -> List[str]:
        return list(self._entity_types)

    def get_output_dim(self) -> int:
        """The number of features per token: `max_window * (max_window + 1) / 2` per entity type
        (21 per type for the default `max_window` = 6)."""
        return self._features_per_type * len(self._entity_types)

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        # Features come from the dictionary, not from a vocabulary.
        pass

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> IndexedTokenList:
        num_features = self.get_output_dim()
        features = [[0.0] * num_features for _ in tokens]
        windows = self._dictionary.window_types(tokens, self._max_window)
        for (start, length), types in windows.items():
            length_offset = length * (length - 1) // 2
            for entity_type in types:
                type_index = self._type_index.get(entity_type)
                if type_index is None:
                    continue
                base = type_index * self._features_per_type + length_offset
                # The word at `start + position` sits at `position` inside this window.
                for position in range(length):
                    features[start + position][base + position] = 1.0
        return {"dictionary_features": features}

    def get_empty_token_list(self) -> IndexedTokenList:
        return {"dictionary_features": []}

    def as_padded_tensor_dict(
        self, tokens: IndexedTokenList, padding_lengths: Dict[str, int]
    ) -> Dict[str, torch.Tensor]:
        features = tokens["dictionary_features"]
        num_tokens = padding_lengths["dictionary_features"]
        # Shape: (num_tokens, num_features); rows past the sentence stay zero.
        tensor = torch.zeros(num_tokens, self.get_output_dim())
        kept = features[:num_tokens]
        if kept:
            tensor[: len(kept)] = torch.tensor(kept, dtype=torch.float)
        return {"dictionary_features": tensor}
