"""
The dynamic programmes of a linear-chain CRF, one step per token, over a batch of rows that
each carry their own potentials (so that rows of several CRFs run as one batch,
`biomtl_allennlp.modules.multi_head_crf.MultiHeadCrf`): the score of a tag sequence, the
forward algorithm (partition function), forward-backward, Viterbi, and the span scores built
on forward-backward. The fewest operations of the two algorithms (`crf_scan` is the other);
the fastest on CPU.

Shapes: logits (num_rows, num_tokens, num_tags); mask and tags (num_rows, num_tokens),
right-padded, every row has a first token; transitions (num_rows, num_tags [previous],
num_tags [next]); start, end (num_rows, num_tags).
"""
from typing import List, Tuple

import torch

# Score of a forbidden move (as `ConditionalRandomField.viterbi_tags` uses) and of a
# padded tag.
FORBIDDEN = -10000.0


def path_score(logits, tags, mask, transitions, start, end) -> torch.Tensor:
    """Score of the given tag sequence of every row, without a loop. Shape: (num_rows,)"""
    num_rows, num_tokens, num_tags = logits.shape
    tags = tags * mask  # padded positions may hold anything
    emissions = logits.gather(2, tags.unsqueeze(2)).squeeze(2)
    score = start.gather(1, tags[:, :1]).squeeze(1) + (emissions * mask).sum(dim=1)
    if num_tokens > 1:
        pair_index = tags[:, :-1] * num_tags + tags[:, 1:]
        pair_scores = transitions.reshape(num_rows, -1).gather(1, pair_index)
        score = score + (pair_scores * mask[:, 1:]).sum(dim=1)
    last = (mask.sum(dim=1) - 1).clamp(min=0)
    last_tags = tags.gather(1, last.unsqueeze(1))
    return score + end.gather(1, last_tags).squeeze(1)


def forward_scores(logits, mask, transitions, start) -> List[torch.Tensor]:
    """`alpha[t]` (num_rows, num_tags) for every t; past a row's end, its last value."""
    alpha = start + logits[:, 0]
    alphas = [alpha]
    for t in range(1, logits.size(1)):
        inner = alpha.unsqueeze(2) + transitions + logits[:, t].unsqueeze(1)
        alpha = torch.where(mask[:, t].unsqueeze(1), torch.logsumexp(inner, dim=1), alpha)
        alphas.append(alpha)
    return alphas


def log_partition(logits, mask, transitions, start, end) -> torch.Tensor:
    """The forward algorithm. Shape: (num_rows,)"""
    return torch.logsumexp(forward_scores(logits, mask, transitions, start)[-1] + end, dim=1)


def forward_backward(logits, mask, transitions, start, end):
    """
    `(log_alpha, log_beta, log_partition)` of shapes (num_rows, num_tokens, num_tags) twice
    and (num_rows,). Past a row's end alpha holds its last value and beta the end scores.
    """
    alphas = forward_scores(logits, mask, transitions, start)
    log_partition = torch.logsumexp(alphas[-1] + end, dim=1)
    beta = end
    betas = [beta]
    for t in range(logits.size(1) - 2, -1, -1):
        # Shape: (num_rows, num_tags [this], num_tags [next])
        inner = transitions + (logits[:, t + 1] + beta).unsqueeze(1)
        beta = torch.where(mask[:, t + 1].unsqueeze(1), torch.logsumexp(inner, dim=2), end)
        betas.append(beta)
    betas.reverse()
    return torch.stack(alphas, dim=1), torch.stack(betas, dim=1), log_partition


def viterbi(logits, mask, transitions, start, end) -> Tuple[torch.LongTensor, torch.Tensor]:
    """Best path and its score per row; positions past a row's end repeat its last tag."""
    num_rows, num_tokens, num_tags = logits.shape
    # Shape: (num_rows, num_tags)
    score = start + logits[:, 0]
    identity = torch.arange(num_tags, device=logits.device).expand(num_rows, num_tags)
    backpointers = []
    for t in range(1, num_tokens):
        # Shape: (num_rows, num_tags [previous], num_tags [next])
        candidates = score.unsqueeze(2) + transitions
        best, best_previous = candidates.max(dim=1)
        step = mask[:, t].unsqueeze(1)
        score = torch.where(step, best + logits[:, t], score)
        backpointers.append(torch.where(step, best_previous, identity))
    path_scores, last = (score + end).max(dim=1)
    # Shape: (num_rows, 1)
    current = last.unsqueeze(1)
    path = [current]
    for pointers in reversed(backpointers):
        current = pointers.gather(1, current)
        path.append(current)
    path.reverse()
    return torch.cat(path, dim=1), path_scores


def span_parts(logits, mask, tags, transitions, start, end) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    `(left, right)` of shape (num_rows, num_tokens) such that for any `s <= e` inside a row
    `log P(y_s .. y_e = tags[s .. e] | x) = left[:, s] + right[:, e]`, by forward-backward
    (`MultiHeadCrf.span_log_probability_parts` explains the split).
    """
    log_alpha, log_beta, log_partition = forward_backward(logits, mask, transitions, start, end)
    # Shape: (num_rows, num_tokens, 1)
    index = tags.long().unsqueeze(2)
    # Shape: (num_rows, num_tokens)
    path_alpha = log_alpha.gather(2, index).squeeze(2)
    path_beta = log_beta.gather(2, index).squeeze(2)
    emissions = logits.gather(2, index).squeeze(2)
    # Score of the move into token t along the path (0 at t = 0 and past the end).
    moves = torch.zeros_like(emissions)
    if tags.size(1) > 1:
        previous, current = tags[:, :-1].long(), tags[:, 1:].long()
        num_tags = transitions.size(-1)
        pair = transitions.reshape(transitions.size(0), -1).gather(1, previous * num_tags + current)
        moves[:, 1:] = (pair + emissions[:, 1:]) * mask[:, 1:].to(moves.dtype)
    cumulative = torch.cumsum(moves, dim=1)
    left = path_alpha - cumulative - log_partition.unsqueeze(1)
    right = cumulative + path_beta
    return left, right
