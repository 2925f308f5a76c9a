"""
Batched Viterbi decoding for allennlp's `ConditionalRandomField`.

`ConditionalRandomField.viterbi_tags` decodes one sentence at a time in Python; this does
the same dynamic programme for the whole batch at once (one loop over time steps, batched
over sentences and tags), with the CRF's constraints applied exactly as `viterbi_tags`
applies them, so the best paths are the same.
"""
from typing import Tuple

import torch
from allennlp.modules.conditional_random_field import ConditionalRandomField

_FORBIDDEN = -10000.0


def constrained_potentials(
    crf: ConditionalRandomField,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    The CRF's transition, start and end scores with forbidden moves set to -10000, as
    `viterbi_tags` builds them.

    # Returns

    `(transitions, start, end)` of shapes (num_tags, num_tags), (num_tags,), (num_tags,).
    """
    num_tags = crf.num_tags
    start_tag, end_tag = num_tags, num_tags + 1
    constraint = crf._constraint_mask.detach()
    allowed = constraint[:num_tags, :num_tags]
    transitions = crf.transitions.detach() * allowed + _FORBIDDEN * (1 - allowed)
    start_allowed = constraint[start_tag, :num_tags]
    end_allowed = constraint[:num_tags, end_tag]
    if crf.include_start_end_transitions:
        start = crf.start_transitions.detach() * start_allowed + _FORBIDDEN * (1 - start_allowed)
        end = crf.end_transitions.detach() * end_allowed + _FORBIDDEN * (1 - end_allowed)
    else:
        start = _FORBIDDEN * (1 - start_allowed)
        end = _FORBIDDEN * (1 - end_allowed)
    return transitions, start, end


def viterbi_decode_batch(
    crf: ConditionalRandomField, logits: torch.Tensor, mask: torch.BoolTensor
) -> Tuple[torch.LongTensor, torch.Tensor]:
    """
    Best tag sequence of every sentence in the batch under `crf` (with its constraints).

    # Parameters

    logits : `torch.Tensor`
        Shape: (batch_size, num_tokens, num_tags)
    mask : `torch.BoolTensor`
        Shape: (batch_size, num_tokens), right-padded; every sentence has a first token.

    # Returns

    `(tags, scores)`: tags of shape (batch_size, num_tokens) (positions past a sentence's
    end repeat its last tag; cut them with the mask) and path scores of shape (batch_size,).
    """
    transitions, start, end = constrained_potentials(crf)
    return viterbi_from_potentials(logits.detach(), mask, transitions, start, end)


def viterbi_from_potentials(
    logits: torch.Tensor,
    mask: torch.BoolTensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> Tuple[torch.LongTensor, torch.Tensor]:
    """
    Batched Viterbi with given potentials: `transitions` of shape (num_tags, num_tags) or
    per row (batch_size, num_tags, num_tags); `start` and `end` of shape (num_tags,) or
    (batch_size, num_tags). Returns as `viterbi_decode_batch`.
    """
    batch_size, num_tokens, num_tags = logits.shape
    if transitions.dim() == 2:
        transitions = transitions.unsqueeze(0)
    # Shape: (batch_size, num_tags)
    score = start + logits[:, 0]
    identity = torch.arange(num_tags, device=logits.device).expand(batch_size, num_tags)
    backpointers = []
    for t in range(1, num_tokens):
        # Shape: (batch_size, num_tags [previous], num_tags [next])
        candidates = score.unsqueeze(2) + transitions
        best, best_previous = candidates.max(dim=1)
        step = mask[:, t].unsqueeze(1)
        score = torch.where(step, best + logits[:, t], score)
        backpointers.append(torch.where(step, best_previous, identity))
    path_scores, last = (score + end).max(dim=1)
    # Shape: (batch_size, 1)
    current = last.unsqueeze(1)
    path = [current]
    for pointers in reversed(backpointers):
        current = pointers.gather(1, current)
        path.append(current)
    path.reverse()
    return torch.cat(path, dim=1), path_scores
