import pytest
import torch
from allennlp.data import Batch, Instance, Token, Vocabulary
from allennlp.data.fields import TextField

from biomtl_allennlp.data.token_indexers.char_stream_indexer import CharStreamIndexer
from biomtl_allennlp.modules.token_embedders.char_stream_embedder import CharStreamEmbedder

SENTENCES = [["IL", "-", "2"], ["a"], ["p53", "binds", "x", "DNA"]]


def index(sentences, indexer=None):
    indexer = indexer or CharStreamIndexer()
    instances = [
        Instance({"tokens": TextField([Token(w) for w in words], {"chars": indexer})})
        for words in sentences
    ]
    vocab = Vocabulary.from_instances(instances)
    batch = Batch(instances)
    batch.index_instances(vocab)
    return vocab, batch.as_tensor_dict()["tokens"]["chars"]


def test_indexer_builds_the_stream_and_positions():
    vocab, tensors = index(SENTENCES)
    sep = vocab.get_token_index(" ", "char_stream")
    ids = {c: vocab.get_token_index(c, "char_stream") for c in "IL-2"}
    assert tensors["chars"][0, :9].tolist() == [
        sep, ids["I"], ids["L"], sep, ids["-"], sep, ids["2"], sep, 0
    ]
    assert tensors["word_starts"][0].tolist() == [1, 4, 6, 0]
    assert tensors["word_ends"][0].tolist() == [2, 4, 6, 0]
    assert tensors["mask"].tolist() == [
        [True, True, True, False], [True, False, False, False], [True, True, True, True]
    ]
    # A one-word sentence of one character: the word starts and ends at position 1.
    assert tensors["word_starts"][1, 0] == tensors["word_ends"][1, 0] == 1
    assert (tensors["chars"][1, 3:] == 0).all()


def hand_computed(embedder, chars, starts, ends):
    """One sentence at a time, no padding: run both LSTMs step by step."""
    embedding = embedder._embedding
    outputs = []
    for row in range(chars.size(0)):
        stream = chars[row][chars[row] != 0]
        x = embedding(stream).unsqueeze(0)
        forward_states, _ = embedder._forward_lstm(x)
        backward_states, _ = embedder._backward_lstm(x.flip(1))
        backward_states = backward_states.flip(1)  # back to stream order
        words = []
        for start, end in zip(starts[row].tolist(), ends[row].tolist()):
            words.append(torch.cat([forward_states[0, end], backward_states[0, start]]))
        outputs.append(torch.stack(words))
    return outputs


def test_embedder_matches_a_hand_computation():
    torch.manual_seed(0)
    vocab, tensors = index(SENTENCES)
    embedder = CharStreamEmbedder(embedding_dim=4, hidden_size=3, vocab=vocab)
    embedder.eval()
    output = embedder(**tensors)
    assert output.shape == (3, 4, 6)
    expected = hand_computed(embedder, tensors["chars"], tensors["word_starts"], tensors["word_ends"])
    for row, words in enumerate(SENTENCES):
        n = len(words)
        torch.testing.assert_close(output[row, :n], expected[row][:n])
        # Padding words are zero.
        assert (output[row, n:] == 0).all()


def test_padding_does_not_change_a_sentence():
    torch.manual_seed(0)
    vocab, tensors = index(SENTENCES)
    embedder = CharStreamEmbedder(embedding_dim=4, hidden_size=3, vocab=vocab)
    embedder.eval()
    batched = embedder(**tensors)
    for row, words in enumerate(SENTENCES):
        single = {key: value[row : row + 1] for key, value in tensors.items()}
        length = int((single["chars"] != 0).sum())
        single["chars"] = single["chars"][:, :length]
        single = {k: (v[:, : len(words)] if k != "chars" else v) for k, v in single.items()}
        torch.testing.assert_close(embedder(**single)[0], batched[row, : len(words)])


def test_output_dim_and_vocab_requirement():
    assert CharStreamEmbedder(5, 7, num_embeddings=10).get_output_dim() == 14
    with pytest.raises(ValueError, match="num_embeddings or a vocabulary"):
        CharStreamEmbedder(5, 7)


def test_lowercase_and_empty_token():
    indexer = CharStreamIndexer(lowercase_characters=True)
    vocab, tensors = index([["AB", "ab"]], indexer)
    assert tensors["chars"][0, 1:3].tolist() == tensors["chars"][0, 4:6].tolist()
    with pytest.raises(ValueError, match="must not be empty"):
        index([["a", ""]])


def test_drops_into_allennlp_models_crf_tagger(tmp_path, demo_data_root):
    """The indexer/embedder pair works in any tagger config, e.g. allennlp-models' crf_tagger."""
    from allennlp.commands.train import train_model_from_file
    from allennlp.models.archival import load_archive
    import allennlp_models.tagging  # noqa: F401

    from tests.conftest import FIXTURES

    train_model_from_file(FIXTURES / "configs" / "crf_tagger_char_stream.jsonnet", tmp_path / "run")
    archive = load_archive(tmp_path / "run" / "model.tar.gz")
    embedders = archive.model.text_field_embedder._token_embedders
    assert isinstance(embedders["chars"], CharStreamEmbedder)
    instance = next(iter(archive.dataset_reader.read("test")))
    output = archive.model.forward_on_instance(instance)
    assert len(output["tags"]) == len(instance["tokens"])
