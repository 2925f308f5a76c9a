"""`allennlp tag-corpus` on a local Ray with 2 CPUs, with the shipped model."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from biomtl_allennlp import load_tagger
from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.corpus.inputs import BadRecord, PlacedDocument, collect_inputs, input_format, read_records
from biomtl_allennlp.corpus.tagger import tag_corpus
from biomtl_allennlp.documents.pubtator import format_output
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.pubtator import write_pubtator
from biomtl_allennlp.pretrained import tagger_path
from tests.corpus.medline_fixtures import (
    BOOK,
    DELETION,
    STRUCTURED,
    TITLE_ONLY,
    article_set,
    citation,
    shipped_abstracts,
    write,
)

ALLENNLP = str(Path(sys.executable).parent / "allennlp")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def make_corpus(folder: Path) -> Path:
    """Three PubMed XML files (one invalid), a JSON-lines and a PubTator file."""
    folder.mkdir()
    docs = shipped_abstracts()
    write(folder / "pubmed25n0001.xml.gz", article_set(*map(citation, docs[:4]), STRUCTURED, TITLE_ONLY, DELETION))
    write(folder / "pubmed25n0002.xml", article_set(*map(citation, docs[4:7]), BOOK))
    write(folder / "pubmed25n0003.xml", article_set(citation(docs[7]), "<PubmedArticle>\n</Broken>"))
    lines = [json.dumps({"pmid": d["pmid"], "title": d["title"], "abstract": d["abstract"]}) for d in docs[7:]]
    lines.insert(1, json.dumps({"id": "empty", "text": ""}))
    write(folder / "more.jsonl", "\n".join(lines) + "\n\n")
    write_pubtator([Document.from_parts(d["title"], d["abstract"], {"pmid": d["pmid"]}) for d in docs[:2]], folder / "docs.pubtator")
    (folder / "README").write_text("not an input\n")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus") / "in")


@pytest.fixture(scope="module")
def tagged(local_ray, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagged")
    summary = tag_corpus(
        str(tagger_path()), collect_inputs([str(corpus)]), str(out), workers=2, batch_size=3, progress=False
    )
    return out, summary


def placed_of(path: Path):
    (corpus_file,) = collect_inputs([str(path)])
    return [record for record in read_records(corpus_file) if isinstance(record, PlacedDocument)]


def documents_of(path: Path):
    """The predictor inputs of a file: its documents, and the objects that are none as they are."""
    return [record.document or record.refused for record in placed_of(path)]


def test_every_input_gets_its_file_and_a_bad_one_is_reported(corpus, tagged):
    out, summary = tagged
    assert sorted(os.listdir(out)) == [
        ".docs.jsonl.complete", ".more.jsonl.complete", ".pubmed25n0001.jsonl.complete",
        ".pubmed25n0002.jsonl.complete", ".tag-corpus.lock",
        "docs.jsonl", "more.errors.jsonl", "more.jsonl", "pubmed25n0001.deleted.txt",
        "pubmed25n0001.jsonl", "pubmed25n0002.jsonl", "tag-corpus-summary.json",
    ]  # fmt: skip
    failed = str(corpus / "pubmed25n0003.xml")
    assert list(summary.files_failed) == [failed]
    assert summary.files_failed[failed].startswith(f"{failed}:6: not well-formed XML: mismatched tag")
    assert (out / "pubmed25n0001.deleted.txt").read_text() == "5\n6\n"
    assert summary.documents == 6 + 4 + 4 + 2 and summary.documents_with_errors == 1
    assert summary.deleted_citations == 2 and summary.workers == 2
    errors = [json.loads(line) for line in (out / "more.errors.jsonl").read_text().splitlines()]
    assert [(e["id"], e["error"]) for e in errors] == [("empty", "empty text")]
    written = json.loads((out / "tag-corpus-summary.json").read_text())
    assert written["entities"] == summary.entities == sum(summary.entities_by_type.values()) > 0


def test_outputs_are_in_input_order_with_exact_offsets(corpus, tagged):
    out, _ = tagged
    for name, output in [("pubmed25n0001.xml.gz", "pubmed25n0001"), ("pubmed25n0002.xml", "pubmed25n0002"),
                         ("more.jsonl", "more"), ("docs.pubtator", "docs")]:  # fmt: skip
        inputs = [record.ids for record in placed_of(corpus / name)]
        outputs = [json.loads(line) for line in (out / f"{output}.jsonl").read_text().splitlines()]
        assert [o.get("pmid", o.get("id")) for o in outputs] == [i.get("pmid", i.get("id")) for i in inputs]
        for document in outputs:
            for entity in document.get("entities", []):
                assert document["text"][entity["start"] : entity["end"]] == entity["text"]
    first = json.loads((out / "pubmed25n0001.jsonl").read_text().splitlines()[4])
    assert first["pmid"] == "100" and "Töxicity" in first["text"] and "Crohn’s" in first["text"]
    assert any(e["type"] == "Chemical" and e["text"] == "cisplatin" for e in first["entities"])


def test_the_same_lines_as_allennlp_predict(corpus, tagged, tmp_path):
    out, _ = tagged
    predicted = tmp_path / "predict.jsonl"
    subprocess.run(
        [ALLENNLP, "predict", str(tagger_path()), str(corpus / "more.jsonl"), "--output-file",
         str(predicted), "--include-package", "biomtl_allennlp", "--silent", "--batch-size", "4"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    expected = predicted.read_text().splitlines()
    lines = (out / "more.jsonl").read_text().splitlines()
    assert len(lines) == len(expected) == 4
    for line, reference in zip(lines, expected):
        if "error" in json.loads(reference):  # `allennlp predict` echoes the raw input line
            assert json.loads(line)["error"] == json.loads(reference)["error"] == "empty text"
        else:
            assert line == reference
    # and the in-process predictor on the XML documents
    tagger = load_tagger()
    documents = documents_of(corpus / "pubmed25n0002.xml")
    expected = "".join(tagger.dump_line(o) for o in tagger.predict_batch_json(documents))
    assert (out / "pubmed25n0002.jsonl").read_text() == expected


def test_pubtator_output(local_ray, corpus, tmp_path):
    summary = tag_corpus(
        str(tagger_path()), collect_inputs([str(corpus / "pubmed25n0002.xml")]), str(tmp_path),
        output_format="pubtator", workers=1, batch_size=2, progress=False,
    )  # fmt: skip
    assert summary.files_done == [str(corpus / "pubmed25n0002.xml")]
    tagger = load_tagger(output_format="pubtator")
    outputs = tagger.predict_batch_json(documents_of(corpus / "pubmed25n0002.xml"))
    assert (tmp_path / "pubmed25n0002.pubtator").read_text() == "".join(map(format_output, outputs))
    again = tag_corpus(
        str(tagger_path()), collect_inputs([str(corpus / "pubmed25n0002.xml")]), str(tmp_path),
        output_format="pubtator", progress=False,
    )  # fmt: skip
    assert again.files_skipped == [str(corpus / "pubmed25n0002.xml")] and not again.files_done


def run_cli(corpus: Path, out: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [ALLENNLP, "tag-corpus", str(tagger_path()), str(corpus), "--output-dir", str(out),
         "--include-package", "biomtl_allennlp", "--num-cpus", "2", "--workers", "1",
         "--batch-size", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen,
    )  # fmt: skip


def test_killed_run_resumes_to_byte_identical_outputs(corpus, tagged, tmp_path):
    reference, _ = tagged
    out = tmp_path / "out"
    process = run_cli(corpus, out, start_new_session=True)
    deadline = time.time() + 600
    while not (out / ".docs.jsonl.complete").exists():  # the first input (by name) is complete
        assert process.poll() is None and time.time() < deadline, process.communicate()[0]
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed = sorted(os.listdir(out))
    assert "docs.jsonl" in killed and "pubmed25n0002.jsonl" not in killed  # part-way
    finished = run_cli(corpus, out)
    log = finished.communicate()[0]
    assert finished.returncode == 1, log  # pubmed25n0003.xml is invalid
    assert "1 skipped (already complete)" in log and "FAILED" in log
    names = sorted(name for name in os.listdir(reference) if name != "tag-corpus-summary.json")
    assert sorted(n for n in os.listdir(out) if n != "tag-corpus-summary.json") == names
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_input_collection_errors(tmp_path):
    assert input_format("pubmed25n1274.xml.gz") == ("medline", "pubmed25n1274")
    assert input_format("CDR_DevelopmentSet.PubTator.txt") == ("pubtator", "CDR_DevelopmentSet")
    with pytest.raises(InputFormatError, match=r"notes\.docx: unknown input type"):
        input_format("notes.docx")
    with pytest.raises(InputFormatError, match=r"nothing\.xml: file not found"):
        collect_inputs([str(tmp_path / "nothing.xml")])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a" / "x.xml", article_set(TITLE_ONLY))
    write(tmp_path / "b" / "x.jsonl", "{}\n")
    with pytest.raises(InputFormatError, match=r"x\.jsonl: has the same output name 'x' as .*x\.xml"):
        collect_inputs([str(tmp_path / "a"), str(tmp_path / "b")])
    (tmp_path / "c").mkdir()
    with pytest.raises(InputFormatError, match="folder without input files"):
        collect_inputs([str(tmp_path / "c")])
    # bad lines of a JSON-lines file are bad records naming the line (issue 41), not the end
    bad = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n[1, 2]\n\n{"text": \n{"text": "last"}\n')
    first, listed, broken, last = read_records(collect_inputs([str(bad)])[0])
    assert first == PlacedDocument(Document("ok"), line=1, chars=2)
    assert last == PlacedDocument(Document("last"), line=5, chars=4)
    assert listed == BadRecord(f"{bad}:2: expected a JSON object, got list", "[1, 2]")
    assert broken.message.startswith(f"{bad}:4: invalid JSON") and broken.line == '{"text": '


def test_command_line_errors(tmp_path):
    result = subprocess.run(
        [ALLENNLP, "tag-corpus", "no-such-model", str(tmp_path), "--output-dir", str(tmp_path / "o"),
         "--include-package", "biomtl_allennlp"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: no-such-model: not found (a model.tar.gz, or a shipped model: ['mtm_cw'])" in result.stderr
