import pytest
import torch
from allennlp.modules import ConditionalRandomField
from allennlp.modules.conditional_random_field import allowed_transitions

from biomtl_allennlp.modules.multi_head_crf import (
    multi_head_log_likelihood,
    multi_head_viterbi,
    pad_logits,
)

HEAD_LABELS = [
    {0: "O", 1: "B-GENE", 2: "I-GENE", 3: "L-GENE", 4: "U-GENE"},
    {0: "O", 1: "U-Chemical"},
    {0: "O", 1: "B-A", 2: "I-A", 3: "L-A", 4: "U-A", 5: "B-B", 6: "I-B", 7: "L-B", 8: "U-B"},
]


def make_heads(include_start_end):
    torch.manual_seed(3)
    crfs = []
    for labels in HEAD_LABELS:
        crf = ConditionalRandomField(
            len(labels), allowed_transitions("BIOUL", labels),
            include_start_end_transitions=include_start_end,
        )
        torch.nn.init.normal_(crf.transitions)
        if include_start_end:
            torch.nn.init.normal_(crf.start_transitions)
            torch.nn.init.normal_(crf.end_transitions)
        crfs.append(crf)
    return crfs


@pytest.mark.parametrize("include_start_end", [True, False])
def test_equals_each_heads_own_crf(include_start_end):
    """One batched pass gives each head's own log-likelihood, gradients and best paths."""
    crfs = make_heads(include_start_end)
    rows = [(0, 5), (1, 1), (2, 6), (0, 2), (2, 6), (1, 4)]  # (head, length)
    num_tokens = 6
    logits = [torch.randn(1, num_tokens, len(HEAD_LABELS[h]), requires_grad=True) for h, _ in rows]
    tags = torch.stack([torch.randint(len(HEAD_LABELS[h]), (num_tokens,)) for h, _ in rows])
    mask = torch.tensor([[i < n for i in range(num_tokens)] for _, n in rows])
    heads = torch.tensor([h for h, _ in rows])

    batched = multi_head_log_likelihood(crfs, pad_logits(logits, 9), tags, mask, heads)
    batched.sum().backward()
    batched_grads = [crf.transitions.grad.clone() for crf in crfs]
    for crf in crfs:
        crf.zero_grad()

    total = 0
    for row, (head, _) in enumerate(rows):
        expected = crfs[head](logits[row], tags[row : row + 1], mask[row : row + 1])
        assert batched[row].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-4)
        total = total + expected
    total.backward()
    for crf, grad in zip(crfs, batched_grads):
        torch.testing.assert_close(grad, crf.transitions.grad, rtol=1e-4, atol=1e-5)

    paths, _ = multi_head_viterbi(crfs, pad_logits(logits, 9).detach(), mask, heads)
    for row, (head, length) in enumerate(rows):
        [(expected_path, _)] = crfs[head].viterbi_tags(logits[row].detach(), mask[row : row + 1])
        assert paths[row, :length].tolist() == expected_path
