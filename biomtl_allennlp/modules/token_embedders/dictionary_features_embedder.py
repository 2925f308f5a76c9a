from typing import Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.token_embedders.token_embedder import TokenEmbedder

from biomtl_allennlp.data.token_indexers.dictionary_features_indexer import num_window_features

# The largest `max_window` that the error message below suggests.
_LARGEST_SUGGESTED_WINDOW = 10


@TokenEmbedder.register("dictionary_features")
class DictionaryFeaturesEmbedder(TokenEmbedder):
    """
    Embeds the binary dictionary features of `DictionaryFeaturesIndexer`: returns them as floats,
    optionally through a linear projection.

    Registered as a `TokenEmbedder` with name "dictionary_features".

    # Parameters

    num_features : `int`
        The number of features per token the indexer produces (its `get_output_dim()`): the
        number of entity types of the indexer times `1 + 2 + ... + max_window` =
        `max_window * (max_window + 1) / 2`, e.g. 42 for the types `Disease` and `GENE` with the
        default `max_window` = 6 (21 per type), 12 for the same types with `max_window` = 3.
    projection_dim : `int`, optional (default = `None`)
        If given, the features go through a `torch.nn.Linear(num_features, projection_dim)`.
    """

    def __init__(self, num_features: int, projection_dim: Optional[int] = None) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigurationError(f"num_features must be positive, got {num_features}")
        self._num_features = num_features
        self._projection: Optional[torch.nn.Linear] = None
        if projection_dim is not None:
            self._projection = torch.nn.Linear(num_features, projection_dim)
        self._output_dim = projection_dim if projection_dim is not None else num_features

    def get_output_dim(self) -> int:
        return self._output_dim

    def forward(self, dictionary_features: torch.Tensor) -> torch.Tensor:
        """
        # Parameters

        dictionary_features : `torch.Tensor`
            Shape: (batch_size, num_tokens, num_features), zeros or ones.

        # Returns

        `torch.Tensor`
            Shape: (batch_size, num_tokens, output_dim).
        """
        found = dictionary_features.size(-1)
        if found != self._num_features:
            readings = [
                f"{found // num_window_features(window)} type(s) with max_window {window}"
                for window in range(1, _LARGEST_SUGGESTED_WINDOW + 1)
                if found % num_window_features(window) == 0
            ]
            raise ConfigurationError(
                f"DictionaryFeaturesEmbedder expects {self._num_features} features per token, "
                f"got {found}; num_features must be the dictionary_features indexer's output "
                f"size: number of entity types * max_window * (max_window + 1) / 2"
                + (f" ({found} is e.g. {', '.join(readings[:3])})" if readings else "")
            )
        # Shape: (batch_size, num_tokens, num_features)
        features = dictionary_features.float()
        if self._projection is not None:
            # Shape: (batch_size, num_tokens, projection_dim)
            features = self._projection(features)
        return features
