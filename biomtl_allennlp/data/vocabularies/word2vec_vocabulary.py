import os
import tempfile
from typing import Dict, Iterable, List, Optional, Union

from allennlp.data.instance import Instance
from allennlp.data.vocabulary import (
    DEFAULT_NON_PADDED_NAMESPACES,
    DEFAULT_OOV_TOKEN,
    DEFAULT_PADDING_TOKEN,
    Vocabulary,
)

from biomtl_allennlp.common.word2vec import is_word2vec_binary, word2vec_binary_tokens


@Vocabulary.register("from_instances_word2vec", constructor="from_instances_word2vec")
class Word2VecVocabulary(Vocabulary):
    """
    `Vocabulary.from_instances` whose `pretrained_files` may be word2vec binary files too.

    With `min_count` and `pretrained_files` (and `only_include_pretrained_words` false,
    the default), a training word enters the vocabulary when it is seen at least
    `min_count` times *or* has a pretrained vector; other words map to OOV. That is the
    paper's rule (frequency < 5 -> UNK unless pretrained) with
    `"min_count": {"tokens": 5}`.

    Registered as a `Vocabulary` with name "from_instances_word2vec".
    """

    @classmethod
    def from_instances_word2vec(
        cls,
        instances: Iterable[Instance],
        min_count: Dict[str, int] = None,
        max_vocab_size: Union[int, Dict[str, int]] = None,
        non_padded_namespaces: Iterable[str] = DEFAULT_NON_PADDED_NAMESPACES,
        pretrained_files: Optional[Dict[str, str]] = None,
        only_include_pretrained_words: bool = False,
        tokens_to_add: Dict[str, List[str]] = None,
        min_pretrained_embeddings: Dict[str, int] = None,
        padding_token: Optional[str] = DEFAULT_PADDING_TOKEN,
        oov_token: Optional[str] = DEFAULT_OOV_TOKEN,
    ) -> Vocabulary:
        # allennlp reads the pretrained words from text files: give it the words of binary
        # files as a one-word-per-line list.
        text_files: Dict[str, str] = {}
        temporary: List[str] = []
        try:
            for namespace, path in (pretrained_files or {}).items():
                if is_word2vec_binary(path):
                    handle = tempfile.NamedTemporaryFile(
                        "w", suffix=".txt", delete=False, encoding="utf-8"
                    )
                    with handle:
                        for word in word2vec_binary_tokens(path):
                            handle.write(f"{word} 0\n")
                    temporary.append(handle.name)
                    path = handle.name
                text_files[namespace] = path
            return cls.from_instances(
                instances,
                min_count=min_count,
                max_vocab_size=max_vocab_size,
                non_padded_namespaces=non_padded_namespaces,
                pretrained_files=text_files or None,
                only_include_pretrained_words=only_include_pretrained_words,
                tokens_to_add=tokens_to_add,
                min_pretrained_embeddings=min_pretrained_embeddings,
                padding_token=padding_token,
                oov_token=oov_token,
            )
        finally:
            for path in temporary:
                os.remove(path)
