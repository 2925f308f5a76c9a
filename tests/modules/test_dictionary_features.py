import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, Instance, Token, TokenIndexer, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer
from allennlp.modules.text_field_embedders import BasicTextFieldEmbedder
from allennlp.modules.token_embedders import Embedding, TokenEmbedder
from allennlp.nn import util

from biomtl_allennlp.data.token_indexers.dictionary_features_indexer import (
    DictionaryFeaturesIndexer,
)
from biomtl_allennlp.modules.token_embedders.dictionary_features_embedder import (
    DictionaryFeaturesEmbedder,
)

SENTENCE = "loss of p53 in breast cancer".split()


@pytest.fixture
def dictionary_path(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("breast cancer\tDisease\np53\tGENE\n")
    return str(path)


def _tokens(words):
    return [Token(word) for word in words]


def _ones(row):
    return [index for index, value in enumerate(row) if value == 1.0]


def test_features_match_hand_computation(dictionary_path):
    indexer = DictionaryFeaturesIndexer(dictionary_path)
    assert indexer.entity_types == ["Disease", "GENE"]
    assert indexer.get_output_dim() == 42
    features = indexer.tokens_to_indices(_tokens(SENTENCE), Vocabulary())["dictionary_features"]
    assert len(features) == 6 and all(len(row) == 42 for row in features)
    assert all(value in (0.0, 1.0) for row in features for value in row)
    # Block 0 is Disease, block 1 (offset 21) is GENE; inside a block, feature
    # n * (n - 1) / 2 + p is "the window of length n where the word is at position p".
    assert _ones(features[0]) == []  # loss
    assert _ones(features[1]) == []  # of
    assert _ones(features[2]) == [21 + 0]  # p53: the 1-word GENE window
    assert _ones(features[3]) == []  # in
    assert _ones(features[4]) == [1]  # breast: first word of a 2-word Disease window
    assert _ones(features[5]) == [2]  # cancer: second word of a 2-word Disease window


def test_longer_windows_types_and_case(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("tumour suppressor gene\tGENE\np53\tGENE\nP53\tChemical\n")
    indexer = DictionaryFeaturesIndexer(str(path), entity_types=["GENE"])
    assert indexer.get_output_dim() == 21
    words = "the P53 tumour suppressor gene".split()
    features = indexer.tokens_to_indices(_tokens(words), Vocabulary())["dictionary_features"]
    assert [_ones(row) for row in features] == [[], [0], [3], [4], [5]]

    case_sensitive = DictionaryFeaturesIndexer(str(path), lowercase=False)
    assert case_sensitive.entity_types == ["Chemical", "GENE"]
    features = case_sensitive.tokens_to_indices(_tokens(words), Vocabulary())
    assert _ones(features["dictionary_features"][1]) == [0]  # "P53" is only a Chemical

    small = DictionaryFeaturesIndexer(str(path), max_window=2)
    assert small.get_output_dim() == 3 * 2
    with pytest.raises(ConfigurationError):
        DictionaryFeaturesIndexer(str(path), entity_types=["GENE", "GENE"])


def test_padding(dictionary_path):
    indexer = DictionaryFeaturesIndexer(dictionary_path)
    indexed = indexer.tokens_to_indices(_tokens(SENTENCE), Vocabulary())
    assert indexer.get_padding_lengths(indexed) == {"dictionary_features": 6}
    padded = indexer.as_padded_tensor_dict(indexed, {"dictionary_features": 8})
    tensor = padded["dictionary_features"]
    assert tensor.dtype == torch.float32 and tensor.shape == (8, 42)
    assert tensor[:6].tolist() == indexed["dictionary_features"]
    assert not tensor[6:].any()
    empty_list = indexer.get_empty_token_list()
    empty = indexer.as_padded_tensor_dict(empty_list, {"dictionary_features": 3})
    assert empty["dictionary_features"].shape == (3, 42) and not empty["dictionary_features"].any()


def test_from_params_and_text_field_embedder(dictionary_path):
    indexer = TokenIndexer.from_params(
        Params({"type": "dictionary_features", "dictionary_path": dictionary_path})
    )
    assert isinstance(indexer, DictionaryFeaturesIndexer)
    indexers = {"tokens": SingleIdTokenIndexer(), "dictionary": indexer}
    sentences = [SENTENCE, "p53 mutation".split()]
    instances = [Instance({"text": TextField(_tokens(s), indexers)}) for s in sentences]
    vocab = Vocabulary.from_instances(instances)
    batch = Batch(instances)
    batch.index_instances(vocab)
    text = batch.as_tensor_dict()["text"]
    features = text["dictionary"]["dictionary_features"]
    assert features.shape == (2, 6, 42)

    embedder = BasicTextFieldEmbedder(
        {
            "tokens": Embedding(embedding_dim=5, num_embeddings=vocab.get_vocab_size("tokens")),
            "dictionary": TokenEmbedder.from_params(
                Params({"type": "dictionary_features", "num_features": 42})
            ),
        }
    )
    assert embedder.get_output_dim() == 47
    embedded = embedder(text)
    assert embedded.shape == (2, 6, 47)
    # BasicTextFieldEmbedder concatenates in sorted key order: "dictionary" before "tokens".
    assert torch.equal(embedded[..., :42], features)
    assert embedded[1, 0, 21] == 1.0  # p53 in the second sentence
    assert not embedded[1, 2:, :42].any()  # padding rows are zero
    mask = util.get_text_field_mask(text)
    assert mask.tolist() == [[True] * 6, [True, True] + [False] * 4]


def test_embedder_projection_and_checks():
    embedder = DictionaryFeaturesEmbedder(num_features=42, projection_dim=7)
    assert embedder.get_output_dim() == 7
    # Shape: (batch_size, num_tokens, num_features)
    features = torch.zeros(2, 3, 42, dtype=torch.long)
    assert embedder(features).shape == (2, 3, 7)
    plain = DictionaryFeaturesEmbedder(num_features=42)
    assert plain(features).dtype == torch.float32
    with pytest.raises(ConfigurationError, match="21"):
        plain(torch.zeros(2, 3, 21))


def test_any_max_window(tmp_path):
    # max_window = 3: 1 + 2 + 3 = 6 features per type, 12 for two types.
    path = tmp_path / "dict.tsv"
    path.write_text("tumour suppressor gene\tGENE\np53\tGENE\nbreast cancer\tDisease\n")
    indexer = DictionaryFeaturesIndexer(str(path), max_window=3)
    assert indexer.get_output_dim() == 12
    words = "p53 tumour suppressor gene in breast cancer".split()
    instance = Instance({"text": TextField(_tokens(words), {"dictionary": indexer})})
    batch = Batch([instance])
    batch.index_instances(Vocabulary())
    text = batch.as_tensor_dict()["text"]
    embedder = DictionaryFeaturesEmbedder(num_features=indexer.get_output_dim())
    embedded = embedder(**text["dictionary"])
    assert embedded.shape == (1, 7, 12)
    # Disease block 0..5, GENE block 6..11; inside a block, n * (n - 1) / 2 + p.
    assert [_ones(row) for row in embedded[0].tolist()] == [
        [6 + 0], [6 + 3], [6 + 4], [6 + 5], [], [1], [2]
    ]
    with pytest.raises(ConfigurationError, match=r"max_window \* \(max_window \+ 1\) / 2") as caught:
        DictionaryFeaturesEmbedder(num_features=42)(embedded)
    # 12 features read as 2 types with max_window 3, 4 types with max_window 2, ...
    assert "2 type(s) with max_window 3" in str(caught.value)
    assert "21" not in str(caught.value).split(";")[1]
