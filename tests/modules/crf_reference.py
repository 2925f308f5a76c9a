"""
Reference implementations for one allennlp `ConditionalRandomField` and one sentence at a
time, by the textbook recursions and by enumeration, that the tests hold the batched
`MultiHeadCrf` against.
"""
import itertools
from typing import Dict, List, Tuple

import torch
from allennlp.modules import ConditionalRandomField

FORBIDDEN = -10000.0


def allowed(crf: ConditionalRandomField, sequence: Tuple[int, ...]) -> bool:
    mask = crf._constraint_mask
    start, end = crf.num_tags, crf.num_tags + 1
    ok = bool(mask[start, sequence[0]]) and bool(mask[sequence[-1], end])
    return ok and all(bool(mask[a, b]) for a, b in zip(sequence, sequence[1:]))


def enumerate_paths(crf: ConditionalRandomField, logits: torch.Tensor) -> Dict[Tuple[int, ...], float]:
    """Probability of every allowed tag sequence of one sentence (logits: (length, num_tags))."""
    logits = logits.detach().double()
    transitions = crf.transitions.detach().double()
    zeros = torch.zeros(crf.num_tags, dtype=torch.float64)
    start = crf.start_transitions.detach().double() if crf.include_start_end_transitions else zeros
    end = crf.end_transitions.detach().double() if crf.include_start_end_transitions else zeros
    scores = {}
    for sequence in itertools.product(range(crf.num_tags), repeat=logits.size(0)):
        if not allowed(crf, sequence):
            continue
        score = start[sequence[0]] + end[sequence[-1]]
        score = score + sum(logits[t, y] for t, y in enumerate(sequence))
        score = score + sum(transitions[a, b] for a, b in zip(sequence, sequence[1:]))
        scores[sequence] = score
    log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
    return {sequence: float(torch.exp(score - log_z)) for sequence, score in scores.items()}


def constrained(crf: ConditionalRandomField) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transition, start, end scores in float64 with forbidden moves at -10000."""
    n = crf.num_tags
    mask = crf._constraint_mask.detach().double()
    zeros = torch.zeros(n, dtype=torch.float64)
    start = crf.start_transitions.detach().double() if crf.include_start_end_transitions else zeros
    end = crf.end_transitions.detach().double() if crf.include_start_end_transitions else zeros

    def apply(scores, allowed_moves):
        return scores * allowed_moves + FORBIDDEN * (1 - allowed_moves)

    return (
        apply(crf.transitions.detach().double(), mask[:n, :n]),
        apply(start, mask[n, :n]),
        apply(end, mask[:n, n + 1]),
    )


def tag_marginals(crf: ConditionalRandomField, logits: torch.Tensor) -> torch.Tensor:
    """`P(y_t = j | x)` for one sentence (logits: (length, num_tags)), float64, by the
    forward-backward recursions on the constrained potentials."""
    transitions, start, end = constrained(crf)
    logits = logits.detach().double()
    length = logits.size(0)
    alpha: List[torch.Tensor] = [start + logits[0]]
    for t in range(1, length):
        alpha.append(torch.logsumexp(alpha[-1].unsqueeze(1) + transitions, dim=0) + logits[t])
    beta: List[torch.Tensor] = [end]
    for t in range(length - 2, -1, -1):
        beta.insert(0, torch.logsumexp(transitions + (logits[t + 1] + beta[0]).unsqueeze(0), dim=1))
    log_z = torch.logsumexp(alpha[-1] + end, dim=0)
    return torch.exp(torch.stack(alpha) + torch.stack(beta) - log_z)
