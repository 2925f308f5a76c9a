import numpy
import pytest
import torch
from allennlp.common import Params
from allennlp.data import Instance, Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer
from allennlp.modules.token_embedders import TokenEmbedder

from biomtl_allennlp.common.word2vec import is_word2vec_binary, iter_word2vec_binary

VECTORS = {
    "p53": [0.5, -1.0, 2.0],
    "rare": [1.5, 0.25, -0.5],
    "αβ": [3.0, 2.0, 1.0],
    "unused": [9.0, 9.0, 9.0],
}


def write_binary(path, vectors):
    with open(path, "wb") as handle:
        handle.write(f"{len(vectors)} 3\n".encode())
        for word, vector in vectors.items():
            handle.write(word.encode("utf-8") + b" ")
            handle.write(numpy.asarray(vector, dtype="<f4").tobytes())
            handle.write(b"\n")


def write_text(path, vectors):
    lines = [f"{len(vectors)} 3"] + [
        word + " " + " ".join(str(v) for v in vector) for word, vector in vectors.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def instances():
    # "p53" and "binds" are frequent (3 times); "rare" and "αβ" seen once; "other" once.
    sentences = [["p53", "binds", "rare"]] * 1 + [["p53", "binds"]] * 2 + [["αβ", "other"]]
    indexer = {"tokens": SingleIdTokenIndexer()}
    return [Instance({"tokens": TextField([Token(w) for w in s], indexer)}) for s in sentences]


@pytest.mark.parametrize("kind", ["bin", "txt"])
def test_rare_words_kept_only_when_pretrained_and_vectors_loaded(tmp_path, kind):
    path = tmp_path / f"vectors.{kind}"
    (write_binary if kind == "bin" else write_text)(path, VECTORS)
    assert is_word2vec_binary(str(path)) == (kind == "bin")
    vocab = Vocabulary.from_params(
        Params({"type": "from_instances_word2vec", "min_count": {"tokens": 2},
                "pretrained_files": {"tokens": str(path)}}),
        instances=instances(),
    )
    words = set(vocab.get_token_to_index_vocabulary("tokens"))
    # frequent words stay; rare words stay only with a vector; pretrained-only words don't enter
    assert {"p53", "binds", "rare", "αβ"} <= words
    assert "other" not in words and "unused" not in words
    embedder = TokenEmbedder.from_params(
        Params({"type": "word2vec", "embedding_dim": 3, "pretrained_file": str(path)}), vocab=vocab
    )
    for word in ("p53", "rare", "αβ"):
        torch.testing.assert_close(
            embedder.weight[vocab.get_token_index(word)], torch.tensor(VECTORS[word])
        )


def test_binary_reader_errors(tmp_path):
    path = tmp_path / "broken.bin"
    write_binary(path, VECTORS)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated at entry 4 of 4"):
        list(iter_word2vec_binary(str(path)))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a header\n")
    with pytest.raises(ValueError, match="bad.bin: not a word2vec binary file"):
        list(iter_word2vec_binary(str(bad)))


def test_dimension_mismatch_is_named(tmp_path):
    path = tmp_path / "vectors.bin"
    write_binary(path, VECTORS)
    vocab = Vocabulary.from_instances(instances())
    with pytest.raises(ValueError, match="vectors have 3 dimensions, embedding_dim is 5"):
        TokenEmbedder.from_params(
            Params({"type": "word2vec", "embedding_dim": 5, "pretrained_file": str(path)}),
            vocab=vocab,
        )


def test_other_embedding_options_pass_through(tmp_path):
    path = tmp_path / "vectors.bin"
    write_binary(path, VECTORS)
    vocab = Vocabulary.from_instances(instances())
    embedder = TokenEmbedder.from_params(
        Params({"type": "word2vec", "embedding_dim": 3, "pretrained_file": str(path),
                "trainable": False, "projection_dim": 2}),
        vocab=vocab,
    )
    assert not embedder.weight.requires_grad
    assert embedder.get_output_dim() == 2
