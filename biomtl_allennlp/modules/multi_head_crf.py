"""
Several `ConditionalRandomField` heads evaluated as one batch.

A multi-task batch has rows of several datasets, each scored by its own CRF with its own
number of tags. Run head by head, the CRF's time-step loops run once per head; here the
heads' potentials are padded to a common number of tags and gathered per row, so the
forward algorithm (log-likelihood) and Viterbi run one loop for the whole batch. Padded
tags get a score of -10000, so they carry no probability mass and are never decoded; the
results equal those of each head's own `ConditionalRandomField.forward` and
`viterbi_tags` (see the tests).
"""
from typing import List, Sequence, Tuple

import torch
from allennlp.modules.conditional_random_field import ConditionalRandomField

from biomtl_allennlp.modules.crf_decoding import constrained_potentials, viterbi_from_potentials

_PAD = -10000.0


class StackedPotentials:
    """
    Transition, start and end scores of several CRFs, padded to `num_tags` tags.

    `transitions`: (num_heads, num_tags, num_tags); `start`, `end`: (num_heads, num_tags).
    """

    def __init__(self, crfs: Sequence[ConditionalRandomField], constrained: bool) -> None:
        self.num_tags = max(crf.num_tags for crf in crfs)
        transitions, starts, ends = [], [], []
        for crf in crfs:
            if constrained:
                transition, start, end = constrained_potentials(crf)
            else:
                transition = crf.transitions
                zeros = transition.new_zeros(crf.num_tags)
                start = crf.start_transitions if crf.include_start_end_transitions else zeros
                end = crf.end_transitions if crf.include_start_end_transitions else zeros
            extra = self.num_tags - crf.num_tags
            transitions.append(torch.nn.functional.pad(transition, (0, extra, 0, extra), value=_PAD))
            starts.append(torch.nn.functional.pad(start, (0, extra), value=_PAD))
            ends.append(torch.nn.functional.pad(end, (0, extra), value=_PAD))
        self.transitions = torch.stack(transitions)
        self.start = torch.stack(starts)
        self.end = torch.stack(ends)


def pad_logits(logits: List[torch.Tensor], num_tags: int) -> torch.Tensor:
    """
    Concatenates the heads' logits along the batch, padding the tag dimension with -10000.

    # Parameters

    logits : `List[torch.Tensor]`
        Each of shape (rows_of_head, num_tokens, tags_of_head).

    # Returns

    `torch.Tensor`
        Shape: (total_rows, num_tokens, num_tags)
    """
    return torch.cat(
        [torch.nn.functional.pad(x, (0, num_tags - x.size(-1)), value=_PAD) for x in logits], dim=0
    )


def multi_head_log_likelihood(
    crfs: Sequence[ConditionalRandomField],
    logits: torch.Tensor,
    tags: torch.LongTensor,
    mask: torch.BoolTensor,
    heads: torch.LongTensor,
) -> torch.Tensor:
    """
    Per-row log-likelihood `log P(tags | logits)` under each row's CRF, as
    `ConditionalRandomField.forward` computes it (unconstrained transitions), but one
    forward-algorithm loop for every head.

    # Parameters

    crfs : `Sequence[ConditionalRandomField]`
    logits : `torch.Tensor`
        Shape: (batch_size, num_tokens, num_tags), padded with -10000 (`pad_logits`).
    tags : `torch.LongTensor`
        Shape: (batch_size, num_tokens), in each row's own tag ids.
    mask : `torch.BoolTensor`
        Shape: (batch_size, num_tokens), right-padded.
    heads : `torch.LongTensor`
        Shape: (batch_size,), index into `crfs` of each row's head.

    # Returns

    `torch.Tensor`
        Shape: (batch_size,)
    """
    stacked = StackedPotentials(crfs, constrained=False)
    num_tags = stacked.num_tags
    batch_size, num_tokens, _ = logits.shape
    # Shape: (batch_size, num_tags, num_tags), (batch_size, num_tags)
    transitions = stacked.transitions.index_select(0, heads)
    start = stacked.start.index_select(0, heads)
    end = stacked.end.index_select(0, heads)
    tags = tags * mask  # padded positions may hold anything

    # Numerator: score of the given tag sequence, without a loop.
    emissions = logits.gather(2, tags.unsqueeze(2)).squeeze(2)
    score = start.gather(1, tags[:, :1]).squeeze(1) + (emissions * mask).sum(dim=1)
    if num_tokens > 1:
        pair_index = tags[:, :-1] * num_tags + tags[:, 1:]
        pair_scores = transitions.reshape(batch_size, -1).gather(1, pair_index)
        score = score + (pair_scores * mask[:, 1:]).sum(dim=1)
    last = (mask.sum(dim=1) - 1).clamp(min=0)
    last_tags = tags.gather(1, last.unsqueeze(1))
    score = score + end.gather(1, last_tags).squeeze(1)

    # Denominator: the forward algorithm, batched over rows and heads.
    # Shape: (batch_size, num_tags)
    alpha = start + logits[:, 0]
    for t in range(1, num_tokens):
        inner = alpha.unsqueeze(2) + transitions + logits[:, t].unsqueeze(1)
        alpha = torch.where(mask[:, t].unsqueeze(1), torch.logsumexp(inner, dim=1), alpha)
    log_partition = torch.logsumexp(alpha + end, dim=1)
    return score - log_partition


def multi_head_viterbi(
    crfs: Sequence[ConditionalRandomField],
    logits: torch.Tensor,
    mask: torch.BoolTensor,
    heads: torch.LongTensor,
) -> Tuple[torch.LongTensor, torch.Tensor]:
    """
    Best path of every row under its head's constrained CRF (as `viterbi_tags` decodes),
    one Viterbi loop for every head. Arguments as in `multi_head_log_likelihood`.

    # Returns

    `(tags, scores)` of shapes (batch_size, num_tokens) and (batch_size,); positions past
    a row's end repeat its last tag.
    """
    stacked = StackedPotentials(crfs, constrained=True)
    return viterbi_from_potentials(
        logits.detach(),
        mask,
        stacked.transitions.index_select(0, heads),
        stacked.start.index_select(0, heads),
        stacked.end.index_select(0, heads),
    )
