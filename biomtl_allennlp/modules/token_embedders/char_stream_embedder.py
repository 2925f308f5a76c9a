import torch
from allennlp.data.vocabulary import Vocabulary
from allennlp.modules.token_embedders.token_embedder import TokenEmbedder

from biomtl_allennlp.nn.autocast import run_lstm
from biomtl_allennlp.nn.padded import gather_rows, reversal_indices


@TokenEmbedder.register("char_stream")
class CharStreamEmbedder(TokenEmbedder):
    """
    The character layer of LM-LSTM-CRF (Liu et al. 2018) used by Wang et al. 2019: one
    bidirectional LSTM over the sentence's whole character stream (words joined by a
    separator, see `CharStreamIndexer`). A word's feature is the forward hidden state at
    its last character concatenated with the backward hidden state at its first character.

    The two directions are two unidirectional LSTMs over right-padded tensors: the forward
    one reads the stream, the backward one reads each sentence's reversed stream, so every
    real position is computed before any padding. This takes the fused (unpacked) LSTM
    path, which on CPU is several times faster than a packed sequence, and is exact:
    padding never reaches a real position's state.

    Registered as a `TokenEmbedder` with name "char_stream".

    # Parameters

    embedding_dim : `int`
        Character embedding size (30 in the paper).
    hidden_size : `int`
        Hidden size of each direction (the output is `2 * hidden_size`).
    num_layers : `int`, optional (default = `1`)
    dropout : `float`, optional (default = `0.0`)
        Dropout on the character embeddings and between LSTM layers.
    vocab_namespace : `str`, optional (default = `"char_stream"`)
    num_embeddings : `int`, optional
        Number of characters; read from the vocabulary when not given.
    vocab : `Vocabulary`, optional
    """

    def __init__(
        self,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        vocab_namespace: str = "char_stream",
        num_embeddings: int = None,
        vocab: Vocabulary = None,
    ) -> None:
        super().__init__()
        if num_embeddings is None:
            if vocab is None:
                raise ValueError("char_stream embedder needs num_embeddings or a vocabulary")
            num_embeddings = vocab.get_vocab_size(vocab_namespace)
        self._hidden_size = hidden_size
        self._embedding = torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=0)
        lstm_dropout = dropout if num_layers > 1 else 0.0
        self._forward_lstm = torch.nn.LSTM(
            embedding_dim, hidden_size, num_layers, batch_first=True, dropout=lstm_dropout
        )
        self._backward_lstm = torch.nn.LSTM(
            embedding_dim, hidden_size, num_layers, batch_first=True, dropout=lstm_dropout
        )
        self._dropout = torch.nn.Dropout(dropout)

    def get_output_dim(self) -> int:
        return 2 * self._hidden_size

    def forward(
        self,
        chars: torch.LongTensor,
        word_starts: torch.LongTensor,
        word_ends: torch.LongTensor,
        mask: torch.BoolTensor,
    ) -> torch.Tensor:
        """
        # Parameters

        chars : `torch.LongTensor`
            Shape: (batch_size, num_chars), 0 is padding.
        word_starts, word_ends : `torch.LongTensor`
            Shape: (batch_size, num_words), stream positions of each word's first and last
            character.
        mask : `torch.BoolTensor`
            Shape: (batch_size, num_words).

        # Returns

        `torch.Tensor`
            Shape: (batch_size, num_words, 2 * hidden_size), zeros at padded words.
        """
        # Shape: (batch_size,)
        lengths = (chars != 0).sum(dim=1)
        # Shape: (batch_size, num_chars): the reversed stream, padding left at the end.
        reverse = reversal_indices(lengths, chars.size(1))
        # Shape: (batch_size, num_chars, embedding_dim)
        embedded = self._dropout(self._embedding(chars))
        reversed_embedded = gather_rows(embedded, reverse)
        # Shape: (batch_size, num_chars, hidden_size)
        forward_states, _ = run_lstm(self._forward_lstm, embedded)
        backward_states, _ = run_lstm(self._backward_lstm, reversed_embedded)

        # The backward state at stream position p sits at reversed position length-1-p.
        reversed_starts = (lengths.unsqueeze(1) - 1 - word_starts).clamp(min=0)
        # Shape: (batch_size, num_words, hidden_size)
        forward_features = gather_rows(forward_states, word_ends)
        backward_features = gather_rows(backward_states, reversed_starts)
        # Shape: (batch_size, num_words, 2 * hidden_size)
        features = torch.cat([forward_features, backward_features], dim=-1)
        return features * mask.unsqueeze(-1)
