"""
The CRF layer of the multi-task tagger: one allennlp `ConditionalRandomField` per dataset
head, evaluated as one batch.

A multi-task batch has rows of several datasets, each scored by its own CRF with its own
label set. Run head by head, a CRF's loop over time steps runs once per head; here the
heads' potentials are stacked, padded to a common number of tags, and gathered per row,
so the forward algorithm (log-likelihood) and Viterbi run one loop over time steps for the
whole batch, and the forward-backward (span posteriors, the costliest) one loop per size of
label set, over that size's tags only. Padded tags score -10000, so they carry
no probability mass and are never decoded. Results equal those of each head's own
`ConditionalRandomField.forward` and `viterbi_tags` (see the tests).

allennlp's `ConditionalRandomField` decodes one sentence at a time in Python and has no
posteriors; the batched loops here are the measured reason to write them (see
`docs/performance.md`). The parameters stay in allennlp's class: `crfs[head].transitions`,
`.start_transitions`, `.end_transitions`, and its `_constraint_mask` (BIOUL constraints
from `allowed_transitions`).

Two algorithms compute the log-likelihood's partition function and the Viterbi path
(`algorithm`): `"loop"` steps through the tokens one at a time (the fewest operations; the
fastest on CPU), `"scan"` multiplies the per-token transition matrices pairwise in a tree
(log-sum-exp / max-plus products: `log2(num_tokens)` steps, `num_tags` times the
arithmetic), for devices where each step's kernel launches, not arithmetic, cost the time
(GPUs at small batches; `benchmarks/gpu.py` measures both). The scan's Viterbi path is the
gradient of the best score with respect to the logits (one-hot at the best path). Both give
the same results up to float rounding (and, for Viterbi, ties between equally scored paths).

Under mixed precision (`autocast`) the logits may arrive in half precision; every dynamic
programme here runs in float32 with autocast off, so long sums of log-probabilities keep
their precision.
"""
import functools
from typing import Dict, List, Mapping, Tuple

import torch
from allennlp.modules.conditional_random_field import (
    ConditionalRandomField,
    allowed_transitions,
)

# Score of a forbidden move (as `ConditionalRandomField.viterbi_tags` uses) and of a
# padded tag.
FORBIDDEN = -10000.0

ALGORITHMS = ("loop", "scan")

# (transitions, start, end) of shapes (num_heads, num_tags, num_tags), (num_heads, num_tags),
# (num_heads, num_tags)
Potentials = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _in_float32(method):
    """Runs a `MultiHeadCrf` method (whose first argument is the logits) with autocast off
    and half-precision logits cast to float32."""

    @functools.wraps(method)
    def in_float32(self, logits: torch.Tensor, *args, **kwargs):
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return method(self, logits, *args, **kwargs)

    return in_float32


class MultiHeadCrf(torch.nn.Module):
    """
    One `ConditionalRandomField` per head, each over its own label set, with batched
    log-likelihood, Viterbi decoding and span posteriors over rows of mixed heads.

    Rows are given with `heads`, a `(num_rows,)` tensor of indices into `self.heads`, and
    `logits` padded to `self.num_tags` (`stack_logits`).

    # Parameters

    labels : `Mapping[str, Mapping[int, str]]`
        Per head (in order), its tag index -> tag string table (a vocabulary namespace).
    label_encoding : `str`, optional (default = `"BIOUL"`)
        For the constraints (`allowed_transitions`) used by decoding and posteriors.
    include_start_end_transitions : `bool`, optional (default = `True`)
    algorithm : `str`, optional (default = `"loop"`)
        `"loop"` or `"scan"` for the partition function and Viterbi (see the module
        docstring); span posteriors always use the loop.
    """

    def __init__(
        self,
        labels: Mapping[str, Mapping[int, str]],
        label_encoding: str = "BIOUL",
        include_start_end_transitions: bool = True,
        algorithm: str = "loop",
    ) -> None:
        super().__init__()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"MultiHeadCrf: algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        self.algorithm = algorithm
        self.heads: List[str] = list(labels)
        self.crfs = torch.nn.ModuleDict()
        for head, head_labels in labels.items():
            if not head_labels:
                raise ValueError(f"MultiHeadCrf: head {head!r} has no labels")
            self.crfs[head] = ConditionalRandomField(
                len(head_labels),
                allowed_transitions(label_encoding, dict(head_labels)),
                include_start_end_transitions=include_start_end_transitions,
            )
        self.num_tags = max(crf.num_tags for crf in self.crfs.values())

    def head_index(self, head: str) -> int:
        return self.heads.index(head)

    def stack_logits(self, logits: List[torch.Tensor]) -> torch.Tensor:
        """
        Concatenates heads' logits along the rows, padding the tag dimension with -10000.

        # Parameters

        logits : `List[torch.Tensor]`
            Each of shape (rows_of_head, num_tokens, tags_of_head).

        # Returns

        `torch.Tensor`
            Shape: (num_rows, num_tokens, num_tags)
        """
        return torch.cat(
            [
                torch.nn.functional.pad(part, (0, self.num_tags - part.size(-1)), value=FORBIDDEN)
                for part in logits
            ],
            dim=0,
        )

    # ------------------------------------------------------------------ potentials

    def potentials(self, constrained: bool) -> Potentials:
        """
        Every head's transition, start and end scores, padded to `num_tags` and stacked.
        `constrained`: forbidden moves score -10000, as `viterbi_tags` builds them
        (detached: decoding and posteriors need no gradient); otherwise the raw
        parameters, as `ConditionalRandomField.forward` uses them.
        """
        transitions, starts, ends = [], [], []
        for crf in self.crfs.values():
            transition, start, end = (
                _constrained_potentials(crf) if constrained else _raw_potentials(crf)
            )
            extra = self.num_tags - crf.num_tags
            pad = torch.nn.functional.pad
            transitions.append(pad(transition, (0, extra, 0, extra), value=FORBIDDEN))
            starts.append(pad(start, (0, extra), value=FORBIDDEN))
            ends.append(pad(end, (0, extra), value=FORBIDDEN))
        return torch.stack(transitions), torch.stack(starts), torch.stack(ends)

    def _row_potentials(self, heads: torch.LongTensor, constrained: bool) -> Potentials:
        # Shapes: (num_rows, num_tags, num_tags), (num_rows, num_tags), (num_rows, num_tags)
        return tuple(p.index_select(0, heads) for p in self.potentials(constrained))  # type: ignore

    # ------------------------------------------------------------------ training

    @_in_float32
    def log_likelihood(
        self,
        logits: torch.Tensor,
        tags: torch.LongTensor,
        mask: torch.BoolTensor,
        heads: torch.LongTensor,
    ) -> torch.Tensor:
        """
        Per-row `log P(tags | logits)` under each row's CRF, as
        `ConditionalRandomField.forward` computes it (unconstrained transitions).

        # Parameters

        logits : `torch.Tensor`
            Shape: (num_rows, num_tokens, num_tags), padded (`stack_logits`).
        tags : `torch.LongTensor`
            Shape: (num_rows, num_tokens), in each row's own tag ids.
        mask : `torch.BoolTensor`
            Shape: (num_rows, num_tokens), right-padded; every row has a first token.
        heads : `torch.LongTensor`
            Shape: (num_rows,), index into `heads` of each row's head.

        # Returns

        `torch.Tensor`
            Shape: (num_rows,)
        """
        transitions, start, end = self._row_potentials(heads, constrained=False)
        log_partition = _log_partition_scan if self.algorithm == "scan" else _log_partition
        return _path_score(logits, tags, mask, transitions, start, end) - log_partition(
            logits, mask, transitions, start, end
        )

    # ------------------------------------------------------------------ decoding

    @_in_float32
    def viterbi_tags(
        self, logits: torch.Tensor, mask: torch.BoolTensor, heads: torch.LongTensor
    ) -> Tuple[torch.LongTensor, torch.Tensor]:
        """
        Best path of every row under its head's constrained CRF (as `viterbi_tags`
        decodes). Arguments as in `log_likelihood`.

        # Returns

        `(tags, scores)` of shapes (num_rows, num_tokens) and (num_rows,); positions past
        a row's end repeat its last tag.
        """
        transitions, start, end = self._row_potentials(heads, constrained=True)
        viterbi = _viterbi_scan if self.algorithm == "scan" else _viterbi
        return viterbi(logits.detach(), mask, transitions, start, end)

    @_in_float32
    def span_log_probability_parts(
        self,
        logits: torch.Tensor,
        mask: torch.BoolTensor,
        tags: torch.LongTensor,
        heads: torch.LongTensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Scores spans of a tag sequence per row (typically the Viterbi path) under the
        row's constrained CRF: returns `(left, right)` of shape (num_rows, num_tokens),
        float64, such that for any `s <= e` inside a row

            log P(y_s .. y_e = tags[s .. e] | x) = left[:, s] + right[:, e].

        With forward scores `alpha`, backward scores `beta`, the partition `Z` and the
        path's moves `m_t = A[y_{t-1}, y_t] + e[t, y_t]`:
        `P = exp(alpha[s, y_s] + sum_{t=s+1..e} m_t + beta[e, y_e] - log Z)`, split into a
        part that depends on `s` and one that depends on `e` through the cumulative sum of
        `m`. Computed in float64, since span scores are differences of long sums.

        Rows are grouped by their head's number of tags and each group runs the
        forward-backward over its own tags only, not the padded `num_tags`: the cost of a
        step is rows x tags^2, and padding every head to the largest label set (25 tags
        for CRAFT among the 12 corpora, against 5 for a one-type corpus) made these loops
        half of the shipped model's prediction time (`docs/performance.md`, section 4).
        Padded tags carry no probability mass, so the results are those of the padded
        computation up to float rounding (tested).
        """
        transitions, start, end = (
            p.double() for p in self._row_potentials(heads, constrained=True)
        )
        logits = logits.detach().double()
        left = logits.new_empty(tags.shape)
        right = logits.new_empty(tags.shape)
        for size, rows in self._rows_by_tag_count(heads):
            left[rows], right[rows] = _span_parts(
                logits[rows, :, :size],
                mask[rows],
                tags[rows],
                transitions[rows, :size, :size],
                start[rows, :size],
                end[rows, :size],
            )
        return left, right

    def _rows_by_tag_count(self, heads: torch.LongTensor) -> List[Tuple[int, torch.LongTensor]]:
        """`(number of tags, indices of the rows whose head has that many)`, per size."""
        # Shape: (num_rows,)
        sizes = torch.tensor(
            [crf.num_tags for crf in self.crfs.values()], device=heads.device
        ).index_select(0, heads)
        return [
            (int(size), (sizes == size).nonzero().squeeze(1)) for size in torch.unique(sizes)
        ]


def _span_parts(logits, mask, tags, transitions, start, end) -> Tuple[torch.Tensor, torch.Tensor]:
    """`span_log_probability_parts` of rows whose potentials have the same number of tags:
    logits (num_rows, num_tokens, num_tags), mask and tags (num_rows, num_tokens),
    transitions (num_rows, num_tags, num_tags), start and end (num_rows, num_tags)."""
    log_alpha, log_beta, log_partition = _forward_backward(logits, mask, transitions, start, end)
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


# ---------------------------------------------------------------------- potentials


def _raw_potentials(crf: ConditionalRandomField) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    zeros = crf.transitions.new_zeros(crf.num_tags)
    if crf.include_start_end_transitions:
        return crf.transitions, crf.start_transitions, crf.end_transitions
    return crf.transitions, zeros, zeros


def _constrained_potentials(
    crf: ConditionalRandomField,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CRF's scores with forbidden moves set to -10000, as `viterbi_tags` builds them."""
    num_tags = crf.num_tags
    start_tag, end_tag = num_tags, num_tags + 1
    constraint = crf._constraint_mask.detach()
    allowed = constraint[:num_tags, :num_tags]
    start_allowed = constraint[start_tag, :num_tags]
    end_allowed = constraint[:num_tags, end_tag]
    transitions = crf.transitions.detach() * allowed + FORBIDDEN * (1 - allowed)
    if crf.include_start_end_transitions:
        start = crf.start_transitions.detach() * start_allowed + FORBIDDEN * (1 - start_allowed)
        end = crf.end_transitions.detach() * end_allowed + FORBIDDEN * (1 - end_allowed)
    else:
        start = FORBIDDEN * (1 - start_allowed)
        end = FORBIDDEN * (1 - end_allowed)
    return transitions, start, end


# ---------------------------------------------------------------------- dynamic programmes
# Shapes: logits (num_rows, num_tokens, num_tags); mask (num_rows, num_tokens);
# transitions (num_rows, num_tags [previous], num_tags [next]); start, end (num_rows, num_tags).


def _path_score(logits, tags, mask, transitions, start, end) -> torch.Tensor:
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


def _forward_scores(logits, mask, transitions, start) -> List[torch.Tensor]:
    """`alpha[t]` (num_rows, num_tags) for every t; past a row's end, its last value."""
    alpha = start + logits[:, 0]
    alphas = [alpha]
    for t in range(1, logits.size(1)):
        inner = alpha.unsqueeze(2) + transitions + logits[:, t].unsqueeze(1)
        alpha = torch.where(mask[:, t].unsqueeze(1), torch.logsumexp(inner, dim=1), alpha)
        alphas.append(alpha)
    return alphas


def _log_partition(logits, mask, transitions, start, end) -> torch.Tensor:
    """The forward algorithm. Shape: (num_rows,)"""
    return torch.logsumexp(_forward_scores(logits, mask, transitions, start)[-1] + end, dim=1)


def _forward_backward(logits, mask, transitions, start, end):
    """
    `(log_alpha, log_beta, log_partition)` of shapes (num_rows, num_tokens, num_tags) twice
    and (num_rows,). Past a row's end alpha holds its last value and beta the end scores.
    """
    alphas = _forward_scores(logits, mask, transitions, start)
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


def _viterbi(logits, mask, transitions, start, end) -> Tuple[torch.LongTensor, torch.Tensor]:
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


# ---------------------------------------------------------------------- tree (scan) versions


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


def _log_partition_scan(logits, mask, transitions, start, end) -> torch.Tensor:
    """The forward algorithm as a tree of log-sum-exp matrix products. Shape: (num_rows,)"""
    return torch.logsumexp(_final_scores(logits, mask, transitions, start, _logsumexp) + end, dim=1)


def _viterbi_scan(logits, mask, transitions, start, end) -> Tuple[torch.LongTensor, torch.Tensor]:
    """
    As `_viterbi`, by a tree of max-plus products: the best score, and the best path as the
    gradient of that score with respect to the logits (1 at the path's tag of every token,
    0 elsewhere and past a row's end, where the last tag is repeated).
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
