import itertools

import pytest
import torch
from allennlp.modules import ConditionalRandomField
from allennlp.modules.conditional_random_field import allowed_transitions

from biomtl_allennlp.modules.crf_decoding import viterbi_decode_batch
from biomtl_allennlp.modules.crf_marginals import (
    forward_backward,
    path_span_log_probability_parts,
    path_span_probabilities,
    tag_marginals,
)

NUM_TAGS = 3
LENGTHS = [4, 2, 1, 3]


def make_crf(constrained: bool, seed: int = 0) -> ConditionalRandomField:
    torch.manual_seed(seed)
    constraints = None
    if constrained:
        # BIOUL over one type, without the U tag: O, B-X, L-X ... plus I-X would be 4 tags;
        # with 3 tags use O, B-X, L-X (B must be followed by L, L by O or B).
        labels = {0: "O", 1: "B-X", 2: "L-X"}
        constraints = allowed_transitions("BIOUL", labels)
    crf = ConditionalRandomField(NUM_TAGS, constraints, include_start_end_transitions=True)
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start_transitions.normal_()
        crf.end_transitions.normal_()
    return crf


def batch(seed: int = 1):
    torch.manual_seed(seed)
    logits = torch.randn(len(LENGTHS), max(LENGTHS), NUM_TAGS) * 2
    mask = torch.tensor([[t < n for t in range(max(LENGTHS))] for n in LENGTHS])
    return logits, mask


def allowed(crf, sequence):
    mask = crf._constraint_mask
    start, end = NUM_TAGS, NUM_TAGS + 1
    ok = bool(mask[start, sequence[0]]) and bool(mask[sequence[-1], end])
    return ok and all(bool(mask[a, b]) for a, b in zip(sequence, sequence[1:]))


def brute_force(crf, logits, length):
    """Probability of every allowed tag sequence of one sentence, by enumeration."""
    logits = logits.double()
    start = crf.start_transitions.detach().double()
    end = crf.end_transitions.detach().double()
    transitions = crf.transitions.detach().double()
    scores = {}
    for sequence in itertools.product(range(NUM_TAGS), repeat=length):
        if not allowed(crf, sequence):
            continue
        score = start[sequence[0]] + end[sequence[-1]]
        score = score + sum(logits[t, y] for t, y in enumerate(sequence))
        score = score + sum(transitions[a, b] for a, b in zip(sequence, sequence[1:]))
        scores[sequence] = score
    log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
    return {sequence: float(torch.exp(score - log_z)) for sequence, score in scores.items()}, log_z


@pytest.mark.parametrize("constrained", [False, True])
def test_partition_and_tag_marginals_match_enumeration(constrained):
    crf = make_crf(constrained)
    logits, mask = batch()
    _, _, log_partition = forward_backward(crf, logits, mask)
    marginals = tag_marginals(crf, logits, mask)
    for row, length in enumerate(LENGTHS):
        probabilities, log_z = brute_force(crf, logits[row].detach(), length)
        assert float(log_partition[row]) == pytest.approx(float(log_z), abs=1e-9)
        for t in range(length):
            for tag in range(NUM_TAGS):
                expected = sum(p for seq, p in probabilities.items() if seq[t] == tag)
                assert float(marginals[row, t, tag]) == pytest.approx(expected, abs=1e-9)
        assert torch.all(marginals[row, length:] == 0)
    if not constrained:
        # A whole sequence's probability agrees with allennlp's own log-likelihood.
        tags = torch.randint(0, NUM_TAGS, mask.shape)
        spans = torch.tensor([[row, 0, n - 1] for row, n in enumerate(LENGTHS)])
        ours = torch.log(path_span_probabilities(crf, logits, mask, tags, spans))
        for row in range(len(LENGTHS)):
            theirs = crf(logits[row : row + 1], tags[row : row + 1], mask[row : row + 1])
            assert float(ours[row]) == pytest.approx(float(theirs.detach()), abs=1e-4)


@pytest.mark.parametrize("constrained", [False, True])
def test_span_probabilities_match_enumeration(constrained):
    crf = make_crf(constrained, seed=3)
    logits, mask = batch(seed=4)
    best, _ = viterbi_decode_batch(crf, logits, mask)
    torch.manual_seed(5)
    random_tags = torch.randint(0, NUM_TAGS, best.shape)
    for tags in (best, random_tags):
        left, right = path_span_log_probability_parts(crf, logits, mask, tags)
        spans = [
            (row, s, e) for row, n in enumerate(LENGTHS) for s in range(n) for e in range(s, n)
        ]
        scores = path_span_probabilities(crf, logits, mask, tags, torch.tensor(spans))
        for (row, s, e), score in zip(spans, scores.tolist()):
            probabilities, _ = brute_force(crf, logits[row].detach(), LENGTHS[row])
            wanted = tuple(tags[row, s : e + 1].tolist())
            expected = sum(p for seq, p in probabilities.items() if seq[s : e + 1] == wanted)
            assert score == pytest.approx(expected, abs=1e-9)
            assert float(torch.exp(left[row, s] + right[row, e])) == pytest.approx(
                min(expected, 1.0), abs=1e-9
            )


def test_whole_viterbi_path_probability_is_the_best_sequence_probability():
    crf = make_crf(True, seed=7)
    logits, mask = batch(seed=8)
    best, _ = viterbi_decode_batch(crf, logits, mask)
    for row, length in enumerate(LENGTHS):
        probabilities, _ = brute_force(crf, logits[row].detach(), length)
        span = torch.tensor([[row, 0, length - 1]])
        score = float(path_span_probabilities(crf, logits, mask, best, span)[0])
        assert score == pytest.approx(max(probabilities.values()), abs=1e-9)


def test_long_sentences_stay_finite():
    crf = make_crf(True, seed=9)
    logits = torch.randn(2, 300, NUM_TAGS) * 20
    mask = torch.ones(2, 300, dtype=torch.bool)
    mask[1, 150:] = False
    best, _ = viterbi_decode_batch(crf, logits, mask)
    left, right = path_span_log_probability_parts(crf, logits, mask, best)
    assert torch.isfinite(left).all() and torch.isfinite(right).all()
    marginals = tag_marginals(crf, logits, mask)
    assert torch.allclose(marginals[0].sum(-1), torch.ones(300, dtype=torch.float64))
