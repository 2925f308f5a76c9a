import pytest
import torch

from biomtl_allennlp.modules.multi_head_crf import MultiHeadCrf
from tests.modules.crf_reference import constrained, enumerate_paths, tag_marginals

HEAD_LABELS = {
    "gene": {0: "O", 1: "B-GENE", 2: "I-GENE", 3: "L-GENE", 4: "U-GENE"},
    "chemical": {0: "O", 1: "U-Chemical"},
    "two": {0: "O", 1: "B-A", 2: "I-A", 3: "L-A", 4: "U-A", 5: "B-B", 6: "I-B", 7: "L-B", 8: "U-B"},
}
SIZES = [len(labels) for labels in HEAD_LABELS.values()]


def make_heads(include_start_end=True, seed=3, algorithm="loop"):
    torch.manual_seed(seed)
    heads = MultiHeadCrf(HEAD_LABELS, "BIOUL", include_start_end, algorithm)
    for crf in heads.crfs.values():
        torch.nn.init.normal_(crf.transitions)
        if include_start_end:
            torch.nn.init.normal_(crf.start_transitions)
            torch.nn.init.normal_(crf.end_transitions)
    return heads


def make_batch(rows, num_tokens, seed=4, scale=1.0):
    """rows: (head index, length); logits per row in the head's own tag count."""
    torch.manual_seed(seed)
    logits = [
        (torch.randn(1, num_tokens, SIZES[h]) * scale).requires_grad_() for h, _ in rows
    ]
    tags = torch.stack([torch.randint(SIZES[h], (num_tokens,)) for h, _ in rows])
    mask = torch.tensor([[i < n for i in range(num_tokens)] for _, n in rows])
    heads = torch.tensor([h for h, _ in rows])
    return logits, tags, mask, heads


ROWS = [(0, 5), (1, 1), (2, 6), (0, 2), (2, 6), (1, 4)]


@pytest.mark.parametrize("algorithm", ["loop", "scan"])
@pytest.mark.parametrize("include_start_end", [True, False])
def test_equals_each_heads_own_crf(include_start_end, algorithm):
    """One batched pass gives each head's own log-likelihood, gradients and best paths."""
    heads = make_heads(include_start_end, algorithm=algorithm)
    crfs = list(heads.crfs.values())
    logits, tags, mask, head_index = make_batch(ROWS, 6)

    batched = heads.log_likelihood(heads.stack_logits(logits), tags, mask, head_index)
    batched.sum().backward()
    batched_grads = [crf.transitions.grad.clone() for crf in crfs]
    heads.zero_grad()

    total = 0
    for row, (head, _) in enumerate(ROWS):
        expected = crfs[head](logits[row], tags[row : row + 1], mask[row : row + 1])
        assert batched[row].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-4)
        total = total + expected
    total.backward()
    for crf, grad in zip(crfs, batched_grads):
        torch.testing.assert_close(grad, crf.transitions.grad, rtol=1e-4, atol=1e-5)

    paths, scores = heads.viterbi_tags(heads.stack_logits(logits), mask, head_index)
    for row, (head, length) in enumerate(ROWS):
        [(path, score)] = crfs[head].viterbi_tags(logits[row].detach(), mask[row : row + 1])
        assert paths[row, :length].tolist() == path
        assert scores[row].item() == pytest.approx(score, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("include_start_end", [True, False])
def test_span_scores_are_the_posteriors_of_enumeration(include_start_end):
    """exp(left[s] + right[e]) = P(tags s..e | x), summed over every allowed path."""
    heads = make_heads(include_start_end, seed=5)
    crfs = list(heads.crfs.values())
    rows = [(0, 4), (1, 1), (2, 3), (0, 2), (1, 4)]
    logits, random_tags, mask, head_index = make_batch(rows, 4, seed=6, scale=2.0)
    stacked = heads.stack_logits(logits)
    best, _ = heads.viterbi_tags(stacked, mask, head_index)
    for tags in (best, random_tags):
        left, right = heads.span_log_probability_parts(stacked, mask, tags, head_index)
        for row, (head, length) in enumerate(rows):
            probabilities = enumerate_paths(crfs[head], logits[row][0, :length])
            for s in range(length):
                for e in range(s, length):
                    wanted = tuple(tags[row, s : e + 1].tolist())
                    expected = sum(p for path, p in probabilities.items() if path[s : e + 1] == wanted)
                    score = float(torch.exp(left[row, s] + right[row, e]))
                    assert score == pytest.approx(expected, abs=1e-9)


def test_whole_viterbi_path_probability_is_the_best_paths():
    heads = make_heads(seed=7)
    crfs = list(heads.crfs.values())
    rows = [(0, 4), (2, 3), (1, 2)]
    logits, _, mask, head_index = make_batch(rows, 4, seed=8, scale=2.0)
    stacked = heads.stack_logits(logits)
    best, _ = heads.viterbi_tags(stacked, mask, head_index)
    left, right = heads.span_log_probability_parts(stacked, mask, best, head_index)
    for row, (head, length) in enumerate(rows):
        probabilities = enumerate_paths(crfs[head], logits[row][0, :length])
        whole = float(torch.exp(left[row, 0] + right[row, length - 1]))
        assert whole == pytest.approx(max(probabilities.values()), abs=1e-9)


def test_single_token_span_scores_are_tag_marginals_on_long_sentences():
    """On 60 tokens (too long to enumerate), against the textbook forward-backward."""
    heads = make_heads(seed=9)
    crfs = list(heads.crfs.values())
    rows = [(0, 60), (2, 33)]
    logits, _, mask, head_index = make_batch(rows, 60, seed=10, scale=3.0)
    stacked = heads.stack_logits(logits)
    best, _ = heads.viterbi_tags(stacked, mask, head_index)
    left, right = heads.span_log_probability_parts(stacked, mask, best, head_index)
    for row, (head, length) in enumerate(rows):
        marginals = tag_marginals(crfs[head], logits[row][0, :length])
        torch.testing.assert_close(marginals.sum(-1), torch.ones(length, dtype=torch.float64))
        for t in range(length):
            expected = float(marginals[t, best[row, t]])
            assert float(torch.exp(left[row, t] + right[row, t])) == pytest.approx(expected, abs=1e-9)


def test_long_sentences_stay_finite():
    heads = make_heads(seed=11)
    logits, _, mask, head_index = make_batch([(0, 300), (2, 150)], 300, seed=12, scale=20.0)
    stacked = heads.stack_logits(logits)
    best, _ = heads.viterbi_tags(stacked, mask, head_index)
    left, right = heads.span_log_probability_parts(stacked, mask, best, head_index)
    assert torch.isfinite(left).all() and torch.isfinite(right).all()


@pytest.mark.parametrize("algorithm", ["loop", "scan"])
def test_padded_tags_are_never_decoded(algorithm):
    heads = make_heads(seed=13, algorithm=algorithm)
    # The chemical head has 2 tags; its rows are padded to 9.
    logits, _, mask, head_index = make_batch([(1, 5), (1, 3)], 5, seed=14, scale=5.0)
    best, _ = heads.viterbi_tags(heads.stack_logits(logits), mask, head_index)
    assert best.max().item() < 2


def test_a_head_without_labels_is_an_error():
    with pytest.raises(ValueError, match="head 'empty' has no labels"):
        MultiHeadCrf({"gene": HEAD_LABELS["gene"], "empty": {}})


@pytest.mark.parametrize("include_start_end", [True, False])
def test_constrained_potentials_are_allennlps(include_start_end):
    # The constraints come from `allowed_transitions`, as allennlp's CRF builds its own
    # mask (the reference reads that mask), and are not saved with the weights.
    heads = make_heads(include_start_end)
    transitions, starts, ends = heads.potentials(constrained=True)
    for index, (crf, size) in enumerate(zip(heads.crfs.values(), SIZES)):
        for ours, reference in zip(
            (transitions[index, :size, :size], starts[index, :size], ends[index, :size]),
            constrained(crf),
        ):
            assert torch.equal(ours.double(), reference)
        assert (transitions[index, size:] == -10000.0).all() and (starts[index, size:] == -10000.0).all()
    assert sorted(heads.state_dict()) == sorted(
        f"crfs.{head}.{name}" for head in HEAD_LABELS
        for name in ["transitions", "_constraint_mask"] + ["start_transitions", "end_transitions"] * include_start_end
    )  # fmt: skip


# The GPU path's tests run on the GPU too where there is one.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_tokens", [1, 2, 7, 60, 301])
def test_scan_equals_loop(num_tokens, device):
    """The tree (scan) partition function and Viterbi equal the loop's on sentences of every
    length (odd tree rounds, one-token rows, rows ending early), gradients included: to 1e-9
    in float64, and in float32 both are within float32 rounding of the float64 loop (the
    reference: the loop in float64 on CPU)."""
    lengths = [num_tokens, max(1, num_tokens // 3), 1, max(1, num_tokens - 1), num_tokens, max(1, num_tokens // 2)]
    rows = [(head, length) for head, length in zip([0, 1, 2, 0, 2, 1], lengths)]
    logits, tags, mask, head_index = make_batch(rows, num_tokens, seed=16, scale=3.0)

    def run(algorithm, dtype, device="cpu"):
        heads = make_heads(seed=15, algorithm=algorithm).to(device, dtype)
        row_logits = [part.detach().to(device, dtype).requires_grad_() for part in logits]
        stacked = heads.stack_logits(row_logits)
        on_device = [tensor.to(device) for tensor in (tags, mask, head_index)]
        log_likelihood = heads.log_likelihood(stacked, *on_device)
        grads = torch.autograd.grad(
            log_likelihood.sum(), [*row_logits, *(crf.transitions for crf in heads.crfs.values())],
            allow_unused=True,  # one-token sentences use no transition
        )  # fmt: skip
        grads = [torch.zeros(()) if grad is None else grad.cpu().double() for grad in grads]
        paths, scores = heads.viterbi_tags(stacked, on_device[1], on_device[2])
        return log_likelihood.detach().cpu().double(), grads, paths.cpu(), scores.cpu().double()

    reference = run("loop", torch.float64)
    for dtype, tolerance in ((torch.float64, dict(rtol=1e-9, atol=1e-9)), (torch.float32, dict(rtol=1e-4, atol=1e-2))):
        log_likelihood, grads, paths, scores = run("scan", dtype, device)
        torch.testing.assert_close(log_likelihood, reference[0], **tolerance)
        for grad, expected in zip(grads, reference[1]):
            torch.testing.assert_close(grad, expected, **tolerance)
        assert paths.tolist() == reference[2].tolist()
        torch.testing.assert_close(scores, reference[3], **tolerance)


def test_scan_viterbi_under_inference_mode():
    heads = make_heads(seed=17, algorithm="scan")
    logits, _, mask, head_index = make_batch(ROWS, 6, seed=18)
    stacked = heads.stack_logits(logits).detach()
    expected = make_heads(seed=17).viterbi_tags(stacked, mask, head_index)[0]
    with torch.inference_mode():
        paths, _ = heads.viterbi_tags(stacked, mask, head_index)
    assert paths.tolist() == expected.tolist()


@pytest.mark.parametrize("algorithm", ["loop", "scan"])
def test_mixed_precision_runs_the_crf_in_float32(algorithm):
    """Under bfloat16 autocast the logits arrive in bfloat16; the CRF computes in float32 on
    those values, exactly as without autocast on the same (rounded) logits."""
    heads = make_heads(seed=19, algorithm=algorithm)
    logits, tags, mask, head_index = make_batch(ROWS, 6, seed=20, scale=3.0)
    half = heads.stack_logits(logits).detach().to(torch.bfloat16)
    expected = heads.log_likelihood(half.float(), tags, mask, head_index)
    expected_paths, _ = heads.viterbi_tags(half.float(), mask, head_index)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        log_likelihood = heads.log_likelihood(half, tags, mask, head_index)
        paths, scores = heads.viterbi_tags(half, mask, head_index)
        left, _ = heads.span_log_probability_parts(half, mask, paths, head_index)
    assert log_likelihood.dtype == scores.dtype == torch.float32 and left.dtype == torch.float64
    torch.testing.assert_close(log_likelihood, expected, rtol=0, atol=0)
    assert paths.tolist() == expected_paths.tolist()


def test_an_unknown_algorithm_is_an_error():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        MultiHeadCrf(HEAD_LABELS, algorithm="parallel")


def test_span_scores_by_tag_count_equal_the_padded_computation():
    """Rows run grouped by their head's tag count; the same over all rows padded to the
    largest label set (the simple path) gives the same parts."""
    from biomtl_allennlp.nn.crf_loop import span_parts

    heads = make_heads(seed=15)
    rows = [(0, 7), (1, 3), (2, 9), (2, 1), (0, 9), (1, 9)]
    logits, _, mask, head_index = make_batch(rows, 9, seed=16, scale=3.0)
    stacked = heads.stack_logits(logits)
    best, _ = heads.viterbi_tags(stacked, mask, head_index)
    left, right = heads.span_log_probability_parts(stacked, mask, best, head_index)
    potentials = (p.double() for p in heads._row_potentials(head_index, constrained=True))
    padded_left, padded_right = span_parts(stacked.detach().double(), mask, best, *potentials)
    inside = mask.to(torch.bool)
    torch.testing.assert_close(left[inside], padded_left[inside], rtol=0, atol=1e-9)
    torch.testing.assert_close(right[inside], padded_right[inside], rtol=0, atol=1e-9)
    assert [size for size, _ in heads._rows_by_tag_count(head_index)] == sorted(set(SIZES))
