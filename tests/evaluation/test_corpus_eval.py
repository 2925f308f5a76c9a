import json

from allennlp.predictors import Predictor

from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.evaluation.corpus_eval import corpus_documents, evaluate_corpus
from biomtl_allennlp.evaluation.pubtator_eval import gold_mentions, predicted_mentions, score_mentions
from biomtl_allennlp.predictors.entity_merging import TypeMapper
from tests.predictors.tiny_model import tiny_archive_path
from tests.run_allennlp import run_allennlp

# Two IOBES sentences (a multi-token entity, a single-token one, one at the end) and a
# sentence without entities.
CORPUS = """Cisplatin\tS-Chemical
induced\tO
renal\tB-Disease
failure\tE-Disease
.\tO

No\tO
entities\tO

Aspirin\tS-Chemical
and\tO
the\tO
gene\tO
WT1\tS-GENE
"""


def test_sentences_become_space_joined_documents_with_exact_offsets(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text(CORPUS, encoding="utf-8")
    documents = corpus_documents(path)
    assert [d.pmid for d in documents] == ["s1", "s2", "s3"]
    assert [d.text for d in documents] == [
        "Cisplatin induced renal failure .", "No entities", "Aspirin and the gene WT1"
    ]
    spans = [[(a.start, a.end, a.text, a.type) for a in d.entities] for d in documents]
    assert spans == [
        [(0, 9, "Cisplatin", "Chemical"), (18, 31, "renal failure", "Disease")],
        [],
        [(0, 7, "Aspirin", "Chemical"), (21, 24, "WT1", "GENE")],
    ]
    # Common types through the type table (GENE -> Gene/Protein) or a user map.
    assert {m[3] for m in gold_mentions(documents, TypeMapper())} == {"Chemical", "Disease", "Gene/Protein"}
    assert {m[3] for m in gold_mentions(documents, TypeMapper({"GENE": "DNA"}))} == {"Chemical", "Disease", "DNA"}


def test_bio_corpora_read_the_same(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("IL-2\tB-protein\nreceptor\tI-protein\nin\tO\nT\tB-cell_type\ncells\tI-cell_type\n")
    (document,) = corpus_documents(path)
    assert [(a.start, a.end, a.type) for a in document.entities] == [(0, 13, "protein"), (17, 24, "cell_type")]


def test_merged_union_and_each_head_equal_the_predictor_run_that_way(tmp_path, monkeypatch, capsys):
    """One pass with every head's reading gives, for the merged output, the union and each
    head alone, the figures of running the predictor with those settings."""
    path = tmp_path / "test.tsv"
    path.write_text(CORPUS, encoding="utf-8")
    documents = corpus_documents(path)
    archive = tiny_archive_path()
    metrics = evaluate_corpus(Predictor.from_path(archive, "biomedical_entities"), documents)
    assert metrics["sentences"] == 3 and metrics["throughput"]["documents"] == 3
    mapper = TypeMapper()
    gold = gold_mentions(documents, mapper)
    inputs = [{"pmid": d.pmid, "text": d.text} for d in documents]

    def scored(types=None, **predictor_args):
        outputs = Predictor.from_path(archive, "biomedical_entities", **predictor_args).predict_batch_json(inputs)
        predicted = predicted_mentions({o["pmid"]: [Entity.from_json(e) for e in o["entities"]] for o in outputs}, mapper)
        return score_mentions(gold, predicted, types or ["Chemical", "Disease", "Gene/Protein"])

    assert metrics["merged"] == scored()
    assert metrics["union"] == scored(merge="union")
    assert metrics["types_of_heads"] == {
        "Chemical": ["demo-chemical"], "Disease": ["demo-disease"], "Gene/Protein": ["demo-gene"]
    }
    for head, entity_type in (("demo-chemical", "Chemical"), ("demo-disease", "Disease"), ("demo-gene", "Gene/Protein")):
        assert set(metrics["heads"][head]["per_type"]) == {entity_type}
        assert metrics["heads"][head] == scored([entity_type], heads=[head])

    # The command: the table on stdout, every figure in the JSON file.
    output_file = tmp_path / "metrics.json"
    run_allennlp(monkeypatch, "corpus-eval", archive, path, "--output-file", output_file,
                 "--batch-size", 2, "--include-package", "biomtl_allennlp")  # fmt: skip
    written = json.loads(output_file.read_text())
    assert written["merged"] == metrics["merged"] and written["heads"] == metrics["heads"]
    printed = capsys.readouterr().out
    assert "3 sentences" in printed
    assert "| type | heads | merged | union | best head alone |" in printed
    assert printed.count("| Chemical | 1 |") == 1


def test_bad_corpus_line_is_a_clear_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.tsv"
    path.write_text("Cisplatin\tS-Chemical\nno-tab-here\n", encoding="utf-8")
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "corpus-eval", "model.tar.gz", path)
    assert exit_info.value.code == 1
    assert f"error: {path}:2:" in capsys.readouterr().err


def test_a_type_map_that_is_not_idempotent_scores_what_the_predictor_outputs(tmp_path):
    """`{"GENE": "Protein"}` maps GENE to Protein, while the default table maps protein to
    Gene/Protein: scoring the output's (mapped) readings must not map them twice."""
    path = tmp_path / "test.tsv"
    path.write_text(CORPUS, encoding="utf-8")
    documents = corpus_documents(path)
    type_map = {"GENE": "Protein", "Chemical": "Drug"}
    predictor = Predictor.from_path(tiny_archive_path(), "biomedical_entities", type_map=type_map)
    metrics = evaluate_corpus(predictor, documents, type_map)
    mapper = TypeMapper(type_map)
    outputs = Predictor.from_path(tiny_archive_path(), "biomedical_entities", type_map=type_map).predict_batch_json(
        [{"pmid": d.pmid, "text": d.text} for d in documents]
    )
    predicted = predicted_mentions({o["pmid"]: [Entity.from_json(e) for e in o["entities"]] for o in outputs})
    assert {m[3] for m in predicted} <= {"Drug", "Disease", "Protein"} and predicted
    assert set(metrics["merged"]["per_type"]) == {"Drug", "Disease", "Protein"}
    assert "Gene/Protein" not in metrics["merged"]["ignored_predicted_types"]
    assert metrics["merged"] == score_mentions(gold_mentions(documents, mapper), predicted)
