import pytest
import torch
from allennlp.modules import ConditionalRandomField
from allennlp.modules.conditional_random_field import allowed_transitions

from biomtl_allennlp.modules.crf_decoding import viterbi_decode_batch

LABELS = {0: "O", 1: "B-GENE", 2: "I-GENE", 3: "L-GENE", 4: "U-GENE", 5: "U-Chemical"}


@pytest.mark.parametrize("include_start_end", [True, False])
@pytest.mark.parametrize("constrained", [True, False])
def test_batched_viterbi_equals_allennlps(include_start_end, constrained):
    """The batched decoder finds the same paths as ConditionalRandomField.viterbi_tags."""
    torch.manual_seed(1)
    constraints = allowed_transitions("BIOUL", LABELS) if constrained else None
    crf = ConditionalRandomField(6, constraints, include_start_end_transitions=include_start_end)
    torch.nn.init.normal_(crf.transitions)
    if include_start_end:
        torch.nn.init.normal_(crf.start_transitions)
        torch.nn.init.normal_(crf.end_transitions)
    lengths = [7, 1, 4, 7, 2]
    logits = torch.randn(len(lengths), 7, 6) * 3
    mask = torch.tensor([[i < n for i in range(7)] for n in lengths])
    tags, scores = viterbi_decode_batch(crf, logits, mask)
    expected = crf.viterbi_tags(logits, mask)
    for row, ((path, score), n) in enumerate(zip(expected, lengths)):
        assert tags[row, :n].tolist() == path
        assert scores[row].item() == pytest.approx(score, rel=1e-5, abs=1e-4)
