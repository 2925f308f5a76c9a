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
        num_embeddings: int = None,
        projection_dim: int = None,
        weight=None,
        padding_index: int = None,
        trainable: bool = True,
        max_norm: float = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        vocab_namespace: str = "tokens",
        pretrained_file: str = None,
        vocab: Vocabulary = None,
    ) -> None:
        if pretrained_file is not None and vocab is not None and is_word2vec_binary(pretrained_file):
            if weight is not None:
                raise ValueError("word2vec embedding: give either weight or pretrained_file")
            weight = read_word2vec_binary_weight(
                pretrained_file, embedding_dim, vocab, vocab_namespace
            )
            pretrained_file = None
        super().__init__(
            embedding_dim=embedding_dim,
            num_embeddings=num_embeddings,
            projection_dim=projection_dim,
            weight=weight,
            padding_index=padding_index,
            trainable=trainable,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            vocab_namespace=vocab_namespace,
            pretrained_file=pretrained_file,
            vocab=vocab,
        )
