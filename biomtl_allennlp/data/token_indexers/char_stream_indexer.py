from typing import Dict, List

import torch
from allennlp.data.token_indexers.token_indexer import IndexedTokenList, TokenIndexer
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary


@TokenIndexer.register("char_stream")
class CharStreamIndexer(TokenIndexer):
    """
    Indexes a sentence as one stream of characters, words joined by a separator, for
    `CharStreamEmbedder` (the character layer of LM-LSTM-CRF and of Wang et al. 2019).

    The stream of `["IL", "-", "2"]` is `<sep> I L <sep> - <sep> 2 <sep>`. Besides the
    character ids it records, per word, the stream positions of its first and last
    character, and a word-level `mask` (so `util.get_text_field_mask` finds the word mask
    even though the character stream is longer than the sentence).

    Output keys (the embedder's `forward` arguments): `chars` (stream length),
    `word_starts`, `word_ends` and `mask` (number of words).

    Registered as a `TokenIndexer` with name "char_stream".

    # Parameters

    namespace : `str`, optional (default = `"char_stream"`)
        Vocabulary namespace of the characters.
    separator : `str`, optional (default = `" "`)
        The separator between words (a vocabulary entry of its own).
    lowercase_characters : `bool`, optional (default = `False`)
    token_min_padding_length : `int`, optional (default = `0`)
        See `TokenIndexer`.
    """

    def __init__(
        self,
        namespace: str = "char_stream",
        separator: str = " ",
        lowercase_characters: bool = False,
        token_min_padding_length: int = 0,
    ) -> None:
        super().__init__(token_min_padding_length)
        self._namespace = namespace
        self._separator = separator
        self._lowercase = lowercase_characters

    def _text(self, token: Token) -> str:
        text = token.text
        if not text:
            raise ValueError("char_stream: tokens must not be empty")
        return text.lower() if self._lowercase else text

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        for character in self._text(token):
            counter[self._namespace][character] += 1
        counter[self._namespace][self._separator] += 1

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> IndexedTokenList:
        index = vocabulary.get_token_index
        separator = index(self._separator, self._namespace)
        chars = [separator]
        word_starts: List[int] = []
        word_ends: List[int] = []
        for token in tokens:
            text = self._text(token)
            word_starts.append(len(chars))
            chars.extend(index(character, self._namespace) for character in text)
            word_ends.append(len(chars) - 1)
            chars.append(separator)
        return {
            "chars": chars,
            "word_starts": word_starts,
            "word_ends": word_ends,
            "mask": [True] * len(tokens),
        }

    def get_empty_token_list(self) -> IndexedTokenList:
        return {"chars": [], "word_starts": [], "word_ends": [], "mask": []}

    def as_padded_tensor_dict(
        self, tokens: IndexedTokenList, padding_lengths: Dict[str, int]
    ) -> Dict[str, torch.Tensor]:
        tensors = {}
        for key, values in tokens.items():
            length = padding_lengths[key]
            padded = values[:length] + [False if key == "mask" else 0] * (length - len(values))
            tensors[key] = torch.tensor(padded, dtype=torch.bool if key == "mask" else torch.long)
        return tensors
