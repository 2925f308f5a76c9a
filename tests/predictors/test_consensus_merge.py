"""The consensus merge (the predictor's default) on hand-made conflicting-head cases, and the
O(n log n) overlap resolution against the simple quadratic formulation."""
import random

import pytest

from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.predictors.entity_merging import (
    consensus_merge,
    heads_per_type,
    resolve_overlaps,
    TypeMapper,
)


def entity(start, end, type_, dataset, score=1.0):
    return Entity(start, end, "", type_, dataset, score)


def readings(entities):
    return [(e.start, e.end, e.type, e.datasets) for e in entities]


GENE_HEADS = {"Gene/Protein": 3, "Chemical": 2, "Disease": 1}


def test_heads_per_type_counts_each_head_once_per_common_type():
    types = {"BC2GM": ["GENE"], "BC5CDR": ["Chemical", "Disease"], "JNLPBA": ["protein", "DNA"],
             "X": ["Protein", "GENE"]}  # fmt: skip
    assert heads_per_type(types, TypeMapper()) == {"Gene/Protein": 3, "Chemical": 1, "Disease": 1, "DNA": 1}


def test_a_span_claimed_by_several_types_gets_the_best_supported_one():
    """WT1: three gene heads (support 1.0) against one of two chemical heads at 0.74 (0.37)."""
    found = [entity(0, 3, "Gene/Protein", h) for h in ("g1", "g2", "g3")]
    found.append(entity(0, 3, "Chemical", "c1", 0.74))
    merged = consensus_merge(found, GENE_HEADS, {"*": 0.0})
    assert readings(merged) == [(0, 3, "Gene/Protein", ("g1", "g2", "g3"))]
    assert merged[0].score == 1.0 and merged[0].dataset == "g1"


def test_the_prior_weighs_a_types_head_count_in_span_conflicts():
    """BRCA1: seven of nine gene heads against the one DNA head at 0.97. Prior 0 (support):
    7/9 = 0.78 < 0.97; prior 1: 7/10 = 0.7 > 0.97/2. VHL: two of two disease heads against
    five of nine gene heads: prior 1: 2/3 > 5/10; prior 100: 2/102 < 5/109."""
    heads = {"Gene/Protein": 9, "DNA": 1, "Disease": 2}
    brca1 = [entity(0, 5, "Gene/Protein", f"g{i}") for i in range(7)] + [entity(0, 5, "DNA", "j", 0.97)]
    assert readings(consensus_merge(brca1, heads, {"*": 0.0}, span_type_prior=1))[0][2] == "Gene/Protein"
    assert readings(consensus_merge(brca1, heads, {"*": 0.0}, span_type_prior=0))[0][2] == "DNA"
    vhl = [entity(0, 3, "Gene/Protein", f"g{i}") for i in range(5)]
    vhl += [entity(0, 3, "Disease", "d1"), entity(0, 3, "Disease", "d2")]
    assert readings(consensus_merge(vhl, heads, {"*": 0.0}, span_type_prior=1))[0][2] == "Disease"
    assert readings(consensus_merge(vhl, heads, {"*": 0.0}, span_type_prior=100))[0][2] == "Gene/Protein"
    with pytest.raises(ValueError, match="span_type_prior"):
        consensus_merge(brca1, heads, span_type_prior=-1)


def test_votes_are_the_scores_sum_of_the_agreeing_heads():
    # Two of three gene heads at 0.9 and 0.6: 1.5 votes.
    found = [entity(0, 4, "Gene/Protein", "g1", 0.9), entity(0, 4, "Gene/Protein", "g2", 0.6)]
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 1.5})) == [(0, 4, "Gene/Protein", ("g1", "g2"))]
    assert consensus_merge(found, GENE_HEADS, {"*": 1.51}) == []
    # Per-type thresholds; "*" for the others.
    assert consensus_merge(found, GENE_HEADS, {"*": 0.0, "Gene/Protein": 1.6}) == []


def test_a_type_one_head_produces_is_never_voted_out():
    found = [entity(5, 9, "Disease", "d1", 0.2)]
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 5.0})) == [(5, 9, "Disease", ("d1",))]


def test_equal_support_ties_go_to_the_higher_score_then_the_type_name():
    found = [entity(0, 3, "Chemical", "c1", 0.8), entity(0, 3, "Disease", "d1", 0.4)]
    # Chemical: 0.8 / 2 = 0.4; Disease: 0.4 / 1 = 0.4; Chemical scores higher.
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 0.0}, span_type_prior=0)) == [
        (0, 3, "Chemical", ("c1",))
    ]
    found = [entity(0, 3, "Chemical", "c1", 0.5), entity(0, 3, "Chemical", "c2", 0.5),
             entity(0, 3, "Disease", "d1", 0.5)]  # fmt: skip
    # Both 0.5 support, both best score 0.5: the type name decides (Chemical < Disease).
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 0.0}, span_type_prior=0))[0][2] == "Chemical"
    # Equal smoothed support (prior 1): Chemical 0.75 / 3 against Disease 0.5 / 2; the
    # higher score decides.
    found = [entity(0, 3, "Disease", "d1", 0.5), entity(0, 3, "Chemical", "c1", 0.75)]
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 0.0}))[0][2] == "Chemical"


def test_competing_extents_of_one_type_go_to_the_extent_more_heads_found():
    # "IL-2" by three gene heads at 0.7; "IL-2 receptor" by one at 0.99.
    found = [entity(0, 4, "Gene/Protein", h, 0.7) for h in ("g1", "g2", "g3")]
    found.append(entity(0, 13, "Gene/Protein", "g1", 0.99))
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 0.0})) == [(0, 4, "Gene/Protein", ("g1", "g2", "g3"))]
    assert readings(consensus_merge(found, GENE_HEADS, {"*": 0.0}, overlap_policy="longest")) == [
        (0, 13, "Gene/Protein", ("g1",))
    ]
    assert len(consensus_merge(found, GENE_HEADS, {"*": 0.0}, overlap_policy="keep_all")) == 2


def test_nested_entities_of_different_types_stay_unless_scope_all():
    # A chemical inside a disease name: different spans, different types.
    found = [entity(0, 9, "Chemical", "c1"), entity(0, 24, "Disease", "d1")]
    assert len(consensus_merge(found, GENE_HEADS, {"*": 0.0})) == 2
    flat = consensus_merge(found, GENE_HEADS, {"*": 0.0}, overlap_scope="all")
    assert readings(flat) == [(0, 24, "Disease", ("d1",))]  # support 1.0 against 0.5


def test_bad_settings_are_errors():
    with pytest.raises(ValueError, match="overlap_policy"):
        consensus_merge([], {}, overlap_policy="x")
    with pytest.raises(ValueError, match="overlap_scope"):
        consensus_merge([], {}, overlap_scope="x")


def _quadratic_resolve(entities, policy, scope):
    """The simple formulation: keep each entity in rank order unless it overlaps a kept one."""
    def rank(e):
        length = e.end - e.start
        return (-length, -e.score, e.start, e.type) if policy == "longest" else (-e.score, -length, e.start, e.type)

    kept = []
    for e in sorted(entities, key=rank):
        if not any(e.start < k.end and k.start < e.end and (scope == "all" or k.type == e.type) for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: (e.start, e.end, e.type))


@pytest.mark.parametrize("seed", range(20))
def test_resolve_overlaps_equals_the_quadratic_formulation(seed):
    rng = random.Random(seed)
    entities = []
    for _ in range(rng.randint(0, 60)):
        start = rng.randint(0, 80)
        entities.append(entity(start, start + rng.randint(1, 12), rng.choice("AB"), rng.choice("xyz"),
                               rng.choice([0.1, 0.5, 0.5, 0.9, 1.0])))  # fmt: skip
    for policy in ("longest", "highest_score"):
        for scope in ("type", "all"):
            assert resolve_overlaps(entities, policy, scope) == _quadratic_resolve(entities, policy, scope)


TEXTS = [
    {"pmid": "1", "text": "Cisplatin induced nephrotoxicity in BRCA1 carriers. Aspirin and WT1 in renal failure."},
    {"pmid": "2", "text": "Hydrogen peroxide and IL-2 receptor alpha."},
]


def test_alternatives_keep_every_heads_reading(make_predictor):
    """`alternatives=True` adds every head's entities (common types) to the default output,
    which is unchanged; they are the union's entities one per head."""
    plain = make_predictor().predict_batch_json(TEXTS)
    with_alternatives = make_predictor(alternatives=True).predict_batch_json(TEXTS)
    union = make_predictor(merge="union", overlap_policy="keep_all").predict_batch_json(TEXTS)
    for output, full, all_heads in zip(plain, with_alternatives, union):
        assert "alternatives" not in output
        assert {k: v for k, v in full.items() if k != "alternatives"} == output
        expected = sorted(
            (e["start"], e["end"], e["type"], head, e["text"]) for e in all_heads["entities"] for head in e["datasets"]
        )
        got = sorted((e["start"], e["end"], e["type"], e["dataset"], e["text"]) for e in full["alternatives"])
        assert got == expected and got


def test_one_head_is_that_heads_output_whatever_the_merge(make_predictor):
    for head in ("demo-chemical", "demo-disease", "demo-gene"):
        consensus = make_predictor(heads=[head], min_votes={"*": 3.0}).predict_batch_json(TEXTS)
        union = make_predictor(heads=[head], merge="union").predict_batch_json(TEXTS)
        assert consensus == union


def test_bad_merge_settings_are_configuration_errors(make_predictor):
    from allennlp.common.checks import ConfigurationError

    with pytest.raises(ConfigurationError, match="merge"):
        make_predictor(merge="vote")
    with pytest.raises(ConfigurationError, match="min_votes"):
        make_predictor(min_votes={"Chemical": -1})
    with pytest.raises(ConfigurationError, match="min_votes"):
        make_predictor(min_votes=[0.5])
    with pytest.raises(ConfigurationError, match="no head produces: \\['Gene'\\]"):
        make_predictor(min_votes={"Gene": 1.0})
    with pytest.raises(ConfigurationError, match="span_type_prior"):
        make_predictor(span_type_prior=-0.5)


def test_only_types_a_head_annotates_together_exclude_each_other():
    """CellType (CRAFT) and Anatomy (AnatEM) on "T cells": no corpus chose between them, so
    both stay; Gene/Protein and Chemical (both CRAFT's) exclude each other."""
    heads = {"Gene/Protein": 2, "Chemical": 1, "CellType": 1, "Anatomy": 1}
    found = [entity(0, 7, "CellType", "craft", 0.9), entity(0, 7, "Anatomy", "anatem", 0.95),
             entity(10, 13, "Gene/Protein", "g1"), entity(10, 13, "Gene/Protein", "craft"),
             entity(10, 13, "Chemical", "craft", 0.8)]  # fmt: skip
    groups = [["Gene/Protein", "Chemical", "CellType"], ["Anatomy"], ["Gene/Protein"]]
    assert [(e.start, e.type) for e in consensus_merge(found, heads, {"*": 0.0}, exclusive_types=groups)] == [
        (0, "Anatomy"), (0, "CellType"), (10, "Gene/Protein")
    ]
    # All types exclude each other: one type per span.
    assert [(e.start, e.type) for e in consensus_merge(found, heads, {"*": 0.0})] == [(0, "Anatomy"), (10, "Gene/Protein")]
    # CellType (0.9) shares the span with Anatomy only from a coexist score of 0.9 down.
    for coexist, expected in ((0.9, [(0, "Anatomy"), (0, "CellType")]), (0.91, [(0, "Anatomy")])):
        merged = consensus_merge(found, heads, {"*": 0.0}, exclusive_types=groups, coexist_score=coexist)
        assert [(e.start, e.type) for e in merged if e.start == 0] == expected


def test_the_predictor_takes_exclusive_types_from_its_heads(make_predictor):
    from allennlp.common.checks import ConfigurationError

    predictor = make_predictor()
    assert predictor.extractor.exclusive_types == [["Chemical"], ["Disease"], ["Gene/Protein"]]
    with pytest.raises(ConfigurationError, match="coexist_score"):
        make_predictor(coexist_score="high")
