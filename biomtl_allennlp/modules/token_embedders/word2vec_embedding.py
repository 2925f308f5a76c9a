from allennlp.data.vocabulary import Vocabulary
from allennlp.modules.token_embedders.embedding import Embedding
from allennlp.modules.token_embedders.token_embedder import TokenEmbedder

from biomtl_allennlp.common.word2vec import is_word2vec_binary, read_word2vec_binary_weight


@TokenEmbedder.register("word2vec")
class Word2VecEmbedding(Embedding):
    """
    allennlp's `Embedding` whose `pretrained_file` may also be a word2vec binary file (as
    the paper's 200-d `wikipedia-pubmed-and-PMC-w2v.bin`). A file named `*.bin`, or whose
    `<count> <dim>` header is followed by non-text bytes, is read as binary; anything else
    goes to allennlp's own reader (word2vec/GloVe text, optionally compressed).

    Pair it with the `"from_instances_word2vec"` vocabulary so that words seen fewer than
    `min_count` times stay in the vocabulary when they have a pretrained vector.

    Registered as a `TokenEmbedder` with name "word2vec". Parameters are those of
    `Embedding`.
    """

    def __init__(
        self,
        embedding_dim: int,
        pretrained_file: str = None,
        vocab: Vocabulary = None,
        vocab_namespace: str = "tokens",
        **kwargs,
    ) -> None:
        if pretrained_file is not None and vocab is not None and is_word2vec_binary(pretrained_file):
            if kwargs.get("weight") is not None:
                raise ValueError("word2vec embedding: give either weight or pretrained_file")
            kwargs["weight"] = read_word2vec_binary_weight(
                pretrained_file, embedding_dim, vocab, vocab_namespace
            )
            pretrained_file = None
        super().__init__(
            embedding_dim=embedding_dim,
            pretrained_file=pretrained_file,
            vocab=vocab,
            vocab_namespace=vocab_namespace,
            **kwargs,
        )
