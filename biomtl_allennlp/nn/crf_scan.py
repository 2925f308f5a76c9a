"""
The partition function and Viterbi of `crf_loop` as trees of matrix products: the
per-token transition matrices are multiplied pairwise (log-sum-exp / max-plus products:
`log2(num_tokens)` steps, `num_tags` times the arithmetic), for devices where each step's
kernel launches, not arithmetic, cost the time (GPUs at small batches; `benchmarks/gpu.py`
measures both). The Viterbi path is the gradient of the best score with respect to the
logits (one-hot at the best path). Results equal `crf_loop`'s up to float rounding (and, for
Viterbi, ties between equally scored paths). Shapes as in `crf_loop`.
"""
from typing import Tuple

import torch

from biomtl_allennlp.nn.crf_loop import FORBIDDEN


def _step_matrices(logits, mask, transitions) -> torch.Tensor:
    """
    The move into every token t >= 1 as a matrix, `transitions[i, j] + logits[t, j]`, and
    past a row's end the semiring identity (0 on the diagonal, -10000 elsewhere: exp(-10000)
    is 0 in float32 and float64, and unlike -inf it gives no NaN gradients).
    Shape: (num_rows, num_tokens - 1, num_tags [previous], num_tags [next])
    """
    num_tags = logits.size(-1)
    moves = transitions.unsqueeze(1) + logits[:, 1:].unsqueeze(2)
    identity = torch.full((num_tags, num_tags), FORBIDDEN, dtype=logits.dtype, device=logits.device)
    identity.fill_diagonal_(0.0)
    return torch.where(mask[:, 1:, None, None], moves, identity)


def _tree_product(matrices: torch.Tensor, reduce) -> torch.Tensor:
    """
    The ordered product of `matrices` (num_rows, num_steps, n, n) in a semiring whose sum is
    `reduce(tensor, dim)` (log-sum-exp or max) and whose product is +, by pairwise products
    in `ceil(log2(num_steps))` rounds. Shape: (num_rows, n, n)
    """
    while matrices.size(1) > 1:
        if matrices.size(1) % 2:  # the last matrix waits for the next round
            matrices, odd = matrices[:, :-1], matrices[:, -1:]
        else:
            odd = matrices[:, :0]
        # Shape: (num_rows, num_steps / 2, n [from], n [via], n [to])
        pairs = matrices[:, 0::2].unsqueeze(4) + matrices[:, 1::2].unsqueeze(2)
        matrices = torch.cat([reduce(pairs, 3), odd], dim=1)
    return matrices[:, 0]


def _logsumexp(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.logsumexp(tensor, dim=dim)


def _max(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    return tensor.max(dim=dim).values  # the gradient goes to one maximum (not split)


def _final_scores(logits, mask, transitions, start, reduce) -> torch.Tensor:
    """`alpha` at each row's last token (log-sum-exp or max semiring). Shape: (num_rows, num_tags)"""
    alpha = start + logits[:, 0]
    if logits.size(1) == 1:
        return alpha
    product = _tree_product(_step_matrices(logits, mask, transitions), reduce)
    return reduce(alpha.unsqueeze(2) + product, 1)


def log_partition(logits, mask, transitions, start, end) -> torch.Tensor:
    """The forward algorithm as a tree of log-sum-exp matrix products. Shape: (num_rows,)"""
    return torch.logsumexp(_final_scores(logits, mask, transitions, start, _logsumexp) + end, dim=1)


def viterbi(logits, mask, transitions, start, end) -> Tuple[torch.LongTensor, torch.Tensor]:
    """
    As `crf_loop.viterbi`, by a tree of max-plus products: the best score, and the best path
    as the gradient of that score with respect to the logits (1 at the path's tag of every
    token, 0 elsewhere and past a row's end, where the last tag is repeated).
    """
    # Decoding runs under no_grad or inference_mode: a differentiable copy of the inputs.
    with torch.inference_mode(False), torch.enable_grad():
        emissions = logits.detach().clone().requires_grad_()
        mask, transitions, start, end = (t.detach().clone() for t in (mask, transitions, start, end))
        path_scores = (_final_scores(emissions, mask, transitions, start, _max) + end).max(dim=1).values
        (on_path,) = torch.autograd.grad(path_scores.sum(), emissions)
    # Shape: (num_rows, num_tokens)
    tags = on_path.argmax(dim=2)
    last = (mask.sum(dim=1) - 1).clamp(min=0)
    last_tags = tags.gather(1, last.unsqueeze(1))
    tags = torch.where(mask, tags, last_tags)
    return tags, path_scores.detach()
