import json
import subprocess
import sys

import pytest

from biomtl_allennlp import load_tagger
from biomtl_allennlp.pretrained import SHIPPED_MODELS, tagger_path
from biomtl_allennlp.pretrained.export import read_config
from tests.conftest import PROJECT_ROOT

SENTENCE = "Cisplatin induced nephrotoxicity in patients with BRCA1 mutations."


def test_the_shipped_model_is_compact_and_has_the_four_paper_heads():
    path = tagger_path()
    assert path.stat().st_size <= 25 * 2**20
    assert read_config(path)["dataset_reader"]["datasets"] == [
        "BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"
    ]  # fmt: skip
    assert (path.parent / "MODEL_CARD.md").is_file()


def test_load_tagger_tags_text_offline():
    tagger = load_tagger(overlap_policy="keep_all")
    assert tagger._model.datasets == ["BC2GM", "BC5CDR", "JNLPBA", "NCBI-disease"]
    output = tagger.predict_json({"text": SENTENCE})
    assert output["entities"]
    for entity in output["entities"]:
        assert SENTENCE[entity["start"] : entity["end"]] == entity["text"]
        assert 0.0 < entity["score"] <= 1.0


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"no shipped model 'nope'; known: \['mtm_cw'\]"):
        load_tagger("nope")
    assert sorted(SHIPPED_MODELS) == ["mtm_cw"]


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
