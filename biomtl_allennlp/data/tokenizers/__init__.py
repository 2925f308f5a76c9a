from biomtl_allennlp.data.tokenizers.biomedical_tokenizer import (
    BiomedicalTokenizer,
    is_separator,
    split_term,
)
from biomtl_allennlp.data.tokenizers.biomedical_sentence_splitter import (
    DEFAULT_ABBREVIATIONS,
    BiomedicalSentenceSplitter,
    tokenize_document,
    window_spans,
    window_tokens,
)

__all__ = [
    "BiomedicalTokenizer",
    "BiomedicalSentenceSplitter",
    "DEFAULT_ABBREVIATIONS",
    "is_separator",
    "split_term",
    "tokenize_document",
    "window_spans",
    "window_tokens",
]
