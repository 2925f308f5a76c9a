import pytest
import torch

from biomtl_allennlp.nn.head_rows import HeadRows

HEADS = ["BC2GM", "BC5CDR", "NCBI-disease"]


def test_rows_of_named_datasets_are_stacked_in_head_order():
    mask = torch.ones(4, 3, dtype=torch.bool)
    metadata = [{"dataset": "NCBI-disease"}, {"dataset": "BC2GM"}, {"dataset": "NCBI-disease"}, {"dataset": "BC2GM"}]
    rows = HeadRows.of_batch(HEADS, metadata, mask, labelled=True)
    assert [(head, r.tolist()) for head, r in rows.segments] == [("BC2GM", [1, 3]), ("NCBI-disease", [0, 2])]
    assert rows.batch_rows.tolist() == [1, 3, 0, 2]
    assert rows.heads.tolist() == [0, 0, 2, 2]
    stacked = rows.stack(torch.arange(4))
    assert stacked.tolist() == [1, 3, 0, 2]
    assert [(head, part.tolist()) for head, part in rows.split(stacked)] == [("BC2GM", [1, 3]), ("NCBI-disease", [0, 2])]
    assert rows.unstack(["a", "b", "c", "d"]) == [{"NCBI-disease": "c"}, {"BC2GM": "a"}, {"NCBI-disease": "d"}, {"BC2GM": "b"}]


def test_raw_text_is_in_every_head():
    rows = HeadRows.of_batch(HEADS, None, torch.ones(2, 3, dtype=torch.bool), labelled=False)
    assert rows.batch_rows.tolist() == [0, 1, 0, 1, 0, 1]
    assert rows.heads.tolist() == [0, 0, 1, 1, 2, 2]
    assert rows.unstack(range(6)) == [{"BC2GM": 0, "BC5CDR": 2, "NCBI-disease": 4}, {"BC2GM": 1, "BC5CDR": 3, "NCBI-disease": 5}]


def test_rows_without_a_known_head_are_errors():
    mask = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"no head for: \['JNLPBA'\]; heads: \['BC2GM', 'BC5CDR', 'NCBI-disease'\]"):
        HeadRows.of_batch(HEADS, [{"dataset": "JNLPBA"}, {"dataset": "BC2GM"}], mask, labelled=False)
    with pytest.raises(ValueError, match=r"\['\(none\) mixed with named datasets'\]"):
        HeadRows.of_batch(HEADS, [{"dataset": None}, {"dataset": "BC2GM"}], mask, labelled=False)
    with pytest.raises(ValueError, match="tags were given without metadata"):
        HeadRows.of_batch(HEADS, None, mask, labelled=True)
