"""The CoNLL writer (`documents/conll.py`)."""
import re

import pytest

from biomtl_allennlp.documents.conll import format_conll


@pytest.mark.parametrize(
    "tokens, tags, message",
    [
        (["a\tb"], ["O"], "token 'a\\tb'"),
        (["a\nb"], ["O"], "token 'a\\nb'"),
        (["a\u2028b"], ["O"], "whitespace"),
        ([""], ["O"], "token ''"),
        (["a"], ["B X"], "tag 'B X'"),
        (["a", "b"], ["O"], "1 tags of head 'h' for 2 tokens"),
    ],
)
def test_the_writer_rejects_what_would_break_the_columns(tokens, tags, message):
    outputs = {"text": "x", "entities": [], "sentences": [{"tokens": tokens, "tags": {"h": tags}}]}
    with pytest.raises(ValueError, match="format_conll: .*" + re.escape(message)):
        format_conll(outputs, heads=["h"])


def test_the_writer_needs_sentences_and_every_head():
    with pytest.raises(ValueError, match="no 'sentences'"):
        format_conll({"text": "x", "entities": []})
    outputs = {"text": "x", "sentences": [{"tokens": ["a"], "tags": {"h": ["O"]}}]}
    with pytest.raises(ValueError, match=r"tags of heads \['h'\], expected \['g', 'h'\]"):
        format_conll(outputs, heads=["g", "h"])
    assert format_conll(dict(outputs, pmid="9 9")) == (
        "# doc 9_9\n# columns: token\th\na\tO\n\n"
    )
