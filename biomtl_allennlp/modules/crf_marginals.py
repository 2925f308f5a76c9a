"""
Posterior probabilities under allennlp's `ConditionalRandomField`: batched forward-backward
in log space on the CRF's constrained potentials (the same potentials `viterbi_decode_batch`
decodes with, see `constrained_potentials`), so forbidden BIOUL moves get (practically) zero
probability.

For a sentence of `n` tokens with emission scores `e[t, y]`, transition scores `A[i, j]`,
start scores `s[y]` and end scores `z[y]`:

    alpha[0, y] = s[y] + e[0, y]
    alpha[t, j] = logsumexp_i(alpha[t - 1, i] + A[i, j]) + e[t, j]
    beta[n - 1, y] = z[y]
    beta[t, i] = logsumexp_j(A[i, j] + e[t + 1, j] + beta[t + 1, j])
    log Z = logsumexp_y(alpha[n - 1, y] + z[y])

The posterior probability that tokens `s..e` (inclusive) carry exactly the labels
`y_s .. y_e` (whatever the labels elsewhere) is

    exp(alpha[s, y_s] + sum_{t=s+1..e} (A[y_{t-1}, y_t] + e[t, y_t]) + beta[e, y_e] - log Z).

The loops run over time steps only; each step is batched over sentences and tags.
Computations are done in float64, since span scores are differences of long sums.
"""
from typing import Tuple

import torch
from allennlp.modules.conditional_random_field import ConditionalRandomField

from biomtl_allennlp.modules.crf_decoding import constrained_potentials


def forward_backward(
    crf: ConditionalRandomField, logits: torch.Tensor, mask: torch.BoolTensor
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Forward and backward log scores of every sentence in the batch.

    # Parameters

    crf : `ConditionalRandomField`
    logits : `torch.Tensor`
        Shape: (batch_size, num_tokens, num_tags)
    mask : `torch.BoolTensor`
        Shape: (batch_size, num_tokens), right-padded; every sentence has a first token.

    # Returns

    `(log_alpha, log_beta, log_partition)` of shapes (batch_size, num_tokens, num_tags),
    (batch_size, num_tokens, num_tags) and (batch_size,), in float64. Positions past a
    sentence's end hold the values of its last token (alpha) and the end scores (beta).
    """
    transitions, start, end = (p.double() for p in constrained_potentials(crf))
    logits = logits.detach().double()
    mask = mask.bool()
    batch_size, num_tokens, num_tags = logits.shape

    # Shape: (batch_size, num_tags)
    alpha = start.unsqueeze(0) + logits[:, 0]
    alphas = [alpha]
    for t in range(1, num_tokens):
        # Shape: (batch_size, num_tags [previous], num_tags [next])
        scores = alpha.unsqueeze(2) + transitions.unsqueeze(0)
        step = torch.logsumexp(scores, dim=1) + logits[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        alphas.append(alpha)
    log_alpha = torch.stack(alphas, dim=1)
    log_partition = torch.logsumexp(alpha + end.unsqueeze(0), dim=1)

    final = end.unsqueeze(0).expand(batch_size, num_tags)
    beta = final
    betas = [beta]
    for t in range(num_tokens - 2, -1, -1):
        # Shape: (batch_size, num_tags [this], num_tags [next])
        scores = transitions.unsqueeze(0) + (logits[:, t + 1] + beta).unsqueeze(1)
        step = torch.logsumexp(scores, dim=2)
        beta = torch.where(mask[:, t + 1].unsqueeze(1), step, final)
        betas.append(beta)
    betas.reverse()
    log_beta = torch.stack(betas, dim=1)
    return log_alpha, log_beta, log_partition


def tag_marginals(
    crf: ConditionalRandomField, logits: torch.Tensor, mask: torch.BoolTensor
) -> torch.Tensor:
    """
    `P(y_t = j | x)` for every token and tag, shape (batch_size, num_tokens, num_tags),
    float64; zero past each sentence's end.
    """
    log_alpha, log_beta, log_partition = forward_backward(crf, logits, mask)
    marginals = torch.exp(log_alpha + log_beta - log_partition.view(-1, 1, 1))
    return marginals * mask.unsqueeze(2).to(marginals.dtype)


def path_span_log_probability_parts(
    crf: ConditionalRandomField,
    logits: torch.Tensor,
    mask: torch.BoolTensor,
    tags: torch.LongTensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Scores spans of a tag sequence (typically the Viterbi path): returns `(left, right)` of
    shape (batch_size, num_tokens), float64, such that for any `s <= e` inside a sentence

        log P(y_s .. y_e = tags[s .. e] | x) = left[:, s] + right[:, e].

    # Parameters

    tags : `torch.LongTensor`
        Shape: (batch_size, num_tokens), the tag sequences (values past a sentence's end
        are ignored).
    """
    transitions, _, _ = (p.double() for p in constrained_potentials(crf))
    log_alpha, log_beta, log_partition = forward_backward(crf, logits, mask)
    logits = logits.detach().double()
    tags = tags.long()
    index = tags.unsqueeze(2)
    # Shape: (batch_size, num_tokens)
    path_alpha = log_alpha.gather(2, index).squeeze(2)
    path_beta = log_beta.gather(2, index).squeeze(2)
    emissions = logits.gather(2, index).squeeze(2)
    # Score of the move into token t along the path (0 at t = 0 and past the end).
    moves = torch.zeros_like(emissions)
    if tags.size(1) > 1:
        moves[:, 1:] = transitions[tags[:, :-1], tags[:, 1:]] + emissions[:, 1:]
        moves[:, 1:] = moves[:, 1:] * mask[:, 1:].to(moves.dtype)
    cumulative = torch.cumsum(moves, dim=1)
    left = path_alpha - cumulative - log_partition.unsqueeze(1)
    right = cumulative + path_beta
    return left, right


def path_span_probabilities(
    crf: ConditionalRandomField,
    logits: torch.Tensor,
    mask: torch.BoolTensor,
    tags: torch.LongTensor,
    spans: torch.LongTensor,
) -> torch.Tensor:
    """
    `P(y_s .. y_e = tags[s .. e] | x)` for given spans.

    # Parameters

    spans : `torch.LongTensor`
        Shape: (num_spans, 3), rows `(sentence, start, end)` with `end` inclusive.

    # Returns

    Shape: (num_spans,), float64.
    """
    left, right = path_span_log_probability_parts(crf, logits, mask, tags)
    rows, starts, ends = spans[:, 0], spans[:, 1], spans[:, 2]
    return torch.exp(left[rows, starts] + right[rows, ends]).clamp(max=1.0)
