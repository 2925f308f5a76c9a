import json
import subprocess
import sys

import pytest

from biomtl_allennlp import load_tagger
from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.pretrained import SHIPPED_MODELS, resolve_archive, tagger_path
from biomtl_allennlp.pretrained.export import read_config
from tests.conftest import PROJECT_ROOT

SENTENCE = "Cisplatin induced nephrotoxicity in patients with BRCA1 mutations."


# The corpora of training_configs/shipped/mtm_cw_many_train_devel.jsonnet, in its order.
SHIPPED_CORPORA = [
    "AnatEM-IOBES", "BC2GM", "BC5CDR", "BioNLP09-IOBES", "BioNLP11EPI-IOBES", "BioNLP11ID-IOBES",
    "BioNLP13GE-IOBES", "BioNLP13PC-IOBES", "CRAFT-IOBES", "Ex-PTM-IOBES", "JNLPBA", "NCBI-disease",
]  # fmt: skip


def test_the_shipped_model_is_compact_and_has_a_head_per_corpus():
    path = tagger_path()
    assert path.stat().st_size <= 25 * 2**20
    assert read_config(path)["dataset_reader"]["datasets"] == SHIPPED_CORPORA
    assert (path.parent / "MODEL_CARD.md").is_file()


def test_load_tagger_tags_text_offline():
    tagger = load_tagger(overlap_policy="keep_all")
    assert tagger._model.datasets == sorted(SHIPPED_CORPORA)
    output = tagger.predict_json({"text": SENTENCE})
    assert output["entities"]
    for entity in output["entities"]:
        assert SENTENCE[entity["start"] : entity["end"]] == entity["text"]
        assert 0.0 < entity["score"] <= 1.0


def test_the_gpu_crf_path_tags_the_shipped_abstracts_as_the_loop_does():
    """On a GPU `load_tagger` runs the CRF as "scan" (`archive_overrides`); here on CPU, the
    scan and the archive's loop give the same entities and scores on the shipped abstracts."""
    from biomtl_allennlp.pretrained import archive_overrides

    assert archive_overrides(-1) == "" and json.loads(archive_overrides(0)) == {"model.crf_algorithm": "scan"}
    assert json.loads(archive_overrides(0, "loop")) == {"model.crf_algorithm": "loop"}
    loop, scan = load_tagger(), load_tagger(crf_algorithm="scan")
    assert (loop._model._crf.algorithm, scan._model._crf.algorithm) == ("loop", "scan")
    documents = [json.loads(line) for line in (PROJECT_ROOT / "fixtures/pubmed/abstracts.jsonl").open()]
    expected, got = loop.predict_batch_json(documents), scan.predict_batch_json(documents)
    assert sum(len(output["entities"]) for output in expected) > 50
    for a, b in zip(expected, got):
        assert [(e["start"], e["end"], e["type"]) for e in a["entities"]] == [
            (e["start"], e["end"], e["type"]) for e in b["entities"]
        ]
        assert [e["score"] for e in a["entities"]] == pytest.approx([e["score"] for e in b["entities"]], abs=1e-4)


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"no shipped model 'nope'; known: \['mtm_cw'\]"):
        load_tagger("nope")
    assert sorted(SHIPPED_MODELS) == ["mtm_cw"]


def test_resolve_archive_takes_a_shipped_name_or_an_existing_path(tmp_path, monkeypatch):
    assert resolve_archive("mtm_cw") == str(tagger_path("mtm_cw"))
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"")
    assert resolve_archive(str(archive)) == str(archive)
    assert resolve_archive(str(tmp_path)) == str(tmp_path)  # a serialization folder
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mtm_cw").write_bytes(b"")
    assert resolve_archive("mtm_cw") == str(tagger_path("mtm_cw"))  # the name wins
    assert resolve_archive("./mtm_cw") == "./mtm_cw"
    with pytest.raises(InputFormatError, match=r"^nope: not found \(a model.tar.gz, or a shipped model: \['mtm_cw'\]\)$"):
        resolve_archive("nope")


def test_make_demo_script_tags_the_shipped_abstracts(tmp_path):
    # What `make demo` runs, in a fresh process, offline (no data root).
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--out", str(tmp_path)], cwd=PROJECT_ROOT,
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pmids = [json.loads(line)["pmid"] for line in (PROJECT_ROOT / "fixtures/pubmed/abstracts.jsonl").open()]
    assert len(pmids) == 10
    for pmid in pmids:
        assert f"PMID {pmid} " in result.stdout
    written = [json.loads(line) for line in (tmp_path / "entities.jsonl").open()]
    assert [output["pmid"] for output in written] == pmids
    assert all("sentences" not in output for output in written)
    assert (tmp_path / "entities.pubtator").read_text().startswith(f"{pmids[0]}|t|")
    assert (tmp_path / "entities.conll").read_text().startswith(f"# doc {pmids[0]}\n# columns: token\t")
    assert "<html" in (tmp_path / "entities.html").read_text().lower()
