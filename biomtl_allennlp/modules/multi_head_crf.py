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
`.start_transitions` and `.end_transitions`; the BIOUL constraints that decoding and
posteriors apply come from `allowed_transitions`, as allennlp builds them for its own
`viterbi_tags`.

Two algorithms compute the log-likelihood's partition function and the Viterbi path
(`algorithm`): `"loop"` steps through the tokens one at a time (`biomtl_allennlp.nn.crf_loop`,
the fewest operations; the fastest on CPU), `"scan"` multiplies the per-token transition
matrices pairwise in a tree (`biomtl_allennlp.nn.crf_scan`, `log2(num_tokens)` steps, for
GPUs). Both give the same results up to float rounding (and, for Viterbi, ties between
equally scored paths).

Under mixed precision (`autocast`) the logits may arrive in half precision; every dynamic
programme here runs in float32 with autocast off, so long sums of log-probabilities keep
their precision.
"""
import functools
from typing import List, Mapping, Tuple

import torch
from allennlp.modules.conditional_random_field import (
    ConditionalRandomField,
    allowed_transitions,
)

from biomtl_allennlp.nn import crf_loop, crf_scan
from biomtl_allennlp.nn.crf_loop import FORBIDDEN

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
        allowed = []
        for head, head_labels in labels.items():
            if not head_labels:
                raise ValueError(f"MultiHeadCrf: head {head!r} has no labels")
            constraints = allowed_transitions(label_encoding, dict(head_labels))
            self.crfs[head] = ConditionalRandomField(
                len(head_labels),
                constraints,
                include_start_end_transitions=include_start_end_transitions,
            )
            allowed.append(_allowed_moves(len(head_labels), constraints))
        self.num_tags = max(crf.num_tags for crf in self.crfs.values())
        # 1.0 where a head's constraints allow a move, 0.0 elsewhere and for padded tags.
        # They follow from the labels, so they are not saved with the weights.
        # Shapes: (num_heads, num_tags [previous], num_tags [next]), (num_heads, num_tags),
        # (num_heads, num_tags)
        names = ("_allowed_transitions", "_allowed_starts", "_allowed_ends")
        for name, masks in zip(names, zip(*allowed)):
            padded = [_pad_tags(mask, self.num_tags, value=0.0) for mask in masks]
            self.register_buffer(name, torch.stack(padded), persistent=False)

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
        for index, crf in enumerate(self.crfs.values()):
            if constrained:
                size = crf.num_tags
                transition, start, end = _constrained_potentials(
                    crf,
                    self._allowed_transitions[index, :size, :size],
                    self._allowed_starts[index, :size],
                    self._allowed_ends[index, :size],
                )
            else:
                transition, start, end = _raw_potentials(crf)
            transitions.append(_pad_tags(transition, self.num_tags, value=FORBIDDEN))
            starts.append(_pad_tags(start, self.num_tags, value=FORBIDDEN))
            ends.append(_pad_tags(end, self.num_tags, value=FORBIDDEN))
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
        algorithm = crf_scan if self.algorithm == "scan" else crf_loop
        path_score = crf_loop.path_score(logits, tags, mask, transitions, start, end)
        return path_score - algorithm.log_partition(logits, mask, transitions, start, end)

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
        algorithm = crf_scan if self.algorithm == "scan" else crf_loop
        return algorithm.viterbi(logits.detach(), mask, transitions, start, end)

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
            left[rows], right[rows] = crf_loop.span_parts(
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


# ---------------------------------------------------------------------- potentials


def _raw_potentials(crf: ConditionalRandomField) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    zeros = crf.transitions.new_zeros(crf.num_tags)
    if crf.include_start_end_transitions:
        return crf.transitions, crf.start_transitions, crf.end_transitions
    return crf.transitions, zeros, zeros


def _constrained_potentials(
    crf: ConditionalRandomField,
    allowed: torch.Tensor,
    start_allowed: torch.Tensor,
    end_allowed: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CRF's scores with forbidden moves set to -10000, as `viterbi_tags` builds them
    (`allowed`: 1.0 for an allowed move, 0.0 for a forbidden one)."""
    transitions = crf.transitions.detach() * allowed + FORBIDDEN * (1 - allowed)
    if crf.include_start_end_transitions:
        start = crf.start_transitions.detach() * start_allowed + FORBIDDEN * (1 - start_allowed)
        end = crf.end_transitions.detach() * end_allowed + FORBIDDEN * (1 - end_allowed)
    else:
        start = FORBIDDEN * (1 - start_allowed)
        end = FORBIDDEN * (1 - end_allowed)
    return transitions, start, end


def _allowed_moves(
    num_tags: int, constraints: List[Tuple[int, int]]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    `allowed_transitions`' pairs (tag indices, with `num_tags` for the start and
    `num_tags + 1` for the end) as 1.0/0.0 masks, as `ConditionalRandomField` builds its own:
    moves (num_tags, num_tags), starts (num_tags,), ends (num_tags,).
    """
    mask = torch.zeros(num_tags + 2, num_tags + 2)
    pairs = torch.tensor(constraints, dtype=torch.long).reshape(-1, 2)
    mask[pairs[:, 0], pairs[:, 1]] = 1.0
    return mask[:num_tags, :num_tags], mask[num_tags, :num_tags], mask[:num_tags, num_tags + 1]


def _pad_tags(tensor: torch.Tensor, num_tags: int, value: float) -> torch.Tensor:
    """Pads the tag dimensions (all of them: a vector or a square matrix) to `num_tags`."""
    extra = num_tags - tensor.size(-1)
    return torch.nn.functional.pad(tensor, (0, extra) * tensor.dim(), value=value)
