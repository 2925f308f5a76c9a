import pytest

from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.predictors.entity_merging import (
    DEFAULT_TYPE_MAP,
    TypeMapper,
    merge_entities,
    merge_identical,
    resolve_overlaps,
)


def entity(start, end, type_="Gene/Protein", score=0.5, dataset="a"):
    return Entity(start, end, "", type_, dataset, score)


def spans(entities):
    return [(e.start, e.end, e.type) for e in entities]


class TestTypeMapper:
    def test_defaults(self):
        mapper = TypeMapper()
        assert mapper("GENE") == "Gene/Protein"
        assert mapper("protein") == "Gene/Protein"
        assert mapper("Chemical") == "Chemical"
        assert mapper("SpecificDisease") == "Disease"
        assert mapper("CompositeMention") == "Disease"
        assert mapper("cell_line") == "CellLine"
        assert mapper("cell_type") == "CellType"
        # DNA / RNA keep their own types (documented choice).
        assert mapper("DNA") == "DNA" and mapper("RNA") == "RNA"
        assert mapper("Species") == "Species"  # unknown: kept as it is
        # The 12 corpora's other names for the same types.
        assert [mapper(t) for t in ("Simple_chemical", "CHEBI", "GGP", "Gene_or_gene_product", "CL", "Taxon")] == [
            "Chemical", "Chemical", "Gene/Protein", "Gene/Protein", "CellType", "Organism"
        ]  # fmt: skip
        assert [mapper(t) for t in ("Anatomy", "Organism", "GO", "SO")] == ["Anatomy", "Organism", "GO", "SO"]

    def test_user_entries_override_case_insensitively(self):
        mapper = TypeMapper({"dna": "Gene/Protein", "Species": "Organism"})
        assert mapper("DNA") == "Gene/Protein"
        assert mapper("species") == "Organism"
        assert mapper("GENE") == "Gene/Protein"
        assert TypeMapper({"x": "Y"}, use_defaults=False)("GENE") == "GENE"
        assert "gene" in DEFAULT_TYPE_MAP

    @pytest.mark.parametrize("bad", [["GENE"], {"GENE": 3}, {"GENE": ""}])
    def test_bad_tables(self, bad):
        with pytest.raises(ValueError, match="type_map"):
            TypeMapper(bad)


class TestMerging:
    def test_identical_spans_of_one_type_merge(self):
        merged = merge_identical(
            [
                entity(0, 4, score=0.4, dataset="bc2gm"),
                entity(0, 4, score=0.9, dataset="jnlpba"),
                entity(0, 4, type_="Chemical", score=0.7, dataset="bc4chemd"),
            ]
        )
        assert spans(merged) == [(0, 4, "Chemical"), (0, 4, "Gene/Protein")]
        gene = merged[1]
        assert gene.score == 0.9
        assert gene.dataset == "jnlpba"
        assert gene.datasets == ("bc2gm", "jnlpba")
        assert merged[0].datasets == ("bc4chemd",)

    def test_merged_datasets_are_kept_when_merging_again(self):
        once = merge_identical([entity(0, 4, dataset="b"), entity(0, 4, score=0.9, dataset="a")])
        again = merge_identical(once + [entity(0, 4, score=0.1, dataset="c")])
        assert [(e.dataset, e.datasets, e.score) for e in again] == [("a", ("a", "b", "c"), 0.9)]

    def test_type_map_applies_before_merging(self):
        merged = merge_entities(
            [entity(0, 4, "GENE", 0.3, "bc2gm"), entity(0, 4, "protein", 0.6, "jnlpba")],
            TypeMapper(),
            overlap_policy="keep_all",
        )
        assert len(merged) == 1
        assert merged[0].type == "Gene/Protein"
        assert merged[0].datasets == ("bc2gm", "jnlpba")
        assert merged[0].score == 0.6


class TestOverlaps:
    def test_keep_all(self):
        items = [entity(0, 4), entity(2, 9), entity(5, 6)]
        assert spans(resolve_overlaps(items, "keep_all")) == spans(items)

    def test_longest(self):
        items = [entity(0, 4, score=0.9), entity(2, 9, score=0.1), entity(9, 12, score=0.2)]
        assert spans(resolve_overlaps(items, "longest")) == [
            (2, 9, "Gene/Protein"),
            (9, 12, "Gene/Protein"),
        ]

    def test_highest_score(self):
        items = [entity(0, 4, score=0.9), entity(2, 9, score=0.1), entity(9, 12, score=0.2)]
        assert spans(resolve_overlaps(items, "highest_score")) == [
            (0, 4, "Gene/Protein"),
            (9, 12, "Gene/Protein"),
        ]

    def test_chains(self):
        # a overlaps b, b overlaps c, a and c are disjoint.
        a, b, c = entity(0, 5, score=0.6), entity(4, 9, score=0.5), entity(8, 12, score=0.7)
        assert spans(resolve_overlaps([a, b, c], "highest_score")) == spans([a, c])
        b = entity(4, 9, score=0.99)
        assert spans(resolve_overlaps([a, b, c], "highest_score")) == spans([b])

    def test_ties_are_deterministic(self):
        first, second = entity(0, 4, score=0.5), entity(2, 6, score=0.5)
        assert spans(resolve_overlaps([second, first], "highest_score")) == spans([first])
        assert spans(resolve_overlaps([first, second], "longest")) == spans([first])
        longer = entity(2, 7, score=0.5)
        assert spans(resolve_overlaps([first, longer], "highest_score")) == spans([longer])

    def test_scope(self):
        gene = entity(0, 4, "Gene/Protein", 0.9)
        disease = entity(0, 12, "Disease", 0.5)
        assert spans(resolve_overlaps([gene, disease], "highest_score", "type")) == spans(
            [gene, disease]
        )
        assert spans(resolve_overlaps([gene, disease], "highest_score", "all")) == spans([gene])
        assert spans(resolve_overlaps([gene, disease], "longest", "all")) == spans([disease])

    def test_touching_spans_do_not_overlap(self):
        items = [entity(0, 4), entity(4, 8)]
        assert spans(resolve_overlaps(items, "longest", "all")) == spans(items)

    def test_bad_policy(self):
        with pytest.raises(ValueError, match="overlap_policy"):
            resolve_overlaps([], "shortest")
        with pytest.raises(ValueError, match="overlap_scope"):
            resolve_overlaps([], "longest", "sentence")
