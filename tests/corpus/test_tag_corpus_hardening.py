"""`tag-corpus` against concurrent runs, corrupt outputs, bad bytes and huge documents
(issue 41), on a local Ray with 2 CPUs."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import bioc
import pytest
import ray

from biomtl_allennlp.corpus import output_folder, tagger, worker, writer
from biomtl_allennlp.corpus.inputs import BiocRecord, collect_inputs
from biomtl_allennlp.corpus.output_folder import OutputFolderLockedError, output_folder_lock
from biomtl_allennlp.corpus.tagger import tag_corpus
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.pretrained import tagger_path
from tests.corpus.medline_fixtures import STRUCTURED, TITLE_ONLY, article_set, shipped_abstracts, write

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
TEXT = "Cisplatin induced nephrotoxicity in BRCA1 carriers."


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def run(corpus: Path, out: Path, **kwargs):
    kwargs = {"workers": 1, "batch_size": 4, "progress": False, **kwargs}
    return tag_corpus(str(tagger_path()), collect_inputs([str(corpus)]), str(out), **kwargs)


def visible(folder: Path):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))
            if not name.startswith(".") and name != "tag-corpus-summary.json"}  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    docs = shipped_abstracts()[:5]
    lines = [json.dumps({"pmid": d["pmid"], "title": d["title"], "abstract": d["abstract"]}) for d in docs]
    write(folder / "abstracts.jsonl", "\n".join(lines) + "\n")
    entity = STRUCTURED.replace("Renal failure &amp;", "Renal &beta; failure &amp;")
    write(folder / "pubmed.xml", article_set(entity, TITLE_ONLY))
    return folder


@pytest.fixture(scope="module")
def reference(local_ray, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    summary = run(corpus, out)
    return out, summary


def test_outputs_are_recorded_complete_and_an_unresolved_entity_is_reported(corpus, reference):
    out, summary = reference
    assert summary.files_done == [str(corpus / "abstracts.jsonl"), str(corpus / "pubmed.xml")]
    assert summary.documents == 7 and summary.warnings == 1 and summary.documents_with_errors == 0
    record = json.loads((out / ".abstracts.jsonl.complete").read_text())
    assert record["documents"] == 5 and record["output_format"] == "jsonl"
    assert record["input_bytes"] == (corpus / "abstracts.jsonl").stat().st_size
    assert list(record["files"]) == ["abstracts.jsonl"]
    assert record["files"]["abstracts.jsonl"]["bytes"] == (out / "abstracts.jsonl").stat().st_size
    (warning,) = [json.loads(line) for line in (out / "pubmed.errors.jsonl").read_text().splitlines()]
    assert warning == {
        "pmid": "100",
        "warning": f"{corpus / 'pubmed.xml'}:10: XML entity &beta; is not defined (the DTD is not "
        "read); it is left out of the text of <AbstractText>",
    }
    assert "pubmed.errors.jsonl" in json.loads((out / ".pubmed.jsonl.complete").read_text())["files"]
    assert (out / ".tag-corpus.lock").read_text() == ""  # released
    assert not [name for name in os.listdir(out) if name.endswith(".partial")]


@pytest.mark.parametrize(
    "damage, reason",
    [
        # the case: two runs interleaved, more lines than documents
        (lambda out: (out / "abstracts.jsonl").open("a").write('{"pmid": "x"}\nnot json\n'), "is not what was written"),
        (lambda out: (out / "abstracts.jsonl").write_bytes((out / "abstracts.jsonl").read_bytes()[:-100]), "is not what was written"),
        (lambda out: (out / ".abstracts.jsonl.complete").unlink(), "no completion record"),
        (lambda out: (out / ".abstracts.jsonl.complete").write_text("{"), "unreadable completion record"),
        (lambda out: (out / "abstracts.jsonl").unlink(), "abstracts.jsonl is missing"),
        (lambda out: (out / "abstracts.errors.jsonl").write_text("{}\n"), "abstracts.errors.jsonl is there but not in"),
        (lambda out: (out / "pubmed.errors.jsonl").unlink(), "pubmed.errors.jsonl is missing"),
    ],
)  # fmt: skip
def test_a_rerun_redoes_incomplete_or_corrupt_outputs(local_ray, corpus, reference, tmp_path, damage, reason):
    expected, _ = reference
    out = tmp_path / "out"
    out.mkdir()
    for name in os.listdir(expected):
        (out / name).write_bytes((expected / name).read_bytes())
    damage(out)
    summary = run(corpus, out)
    assert len(summary.files_redone) == 1 and len(summary.files_skipped) == 1
    ((path, why),) = summary.files_redone.items()
    assert reason in why
    assert f"REDONE {path}: {why}" in summary.format()
    assert visible(out) == visible(expected)  # the same bytes as the first run
    assert run(corpus, out).files_skipped == [str(corpus / "abstracts.jsonl"), str(corpus / "pubmed.xml")]


def test_an_input_that_changed_size_is_tagged_again(local_ray, corpus, reference, tmp_path):
    expected, _ = reference
    changed = tmp_path / "in"
    changed.mkdir()
    (changed / "abstracts.jsonl").write_bytes((corpus / "abstracts.jsonl").read_bytes() + b'{"text": "%s"}\n' % TEXT.encode())
    out = tmp_path / "out"
    out.mkdir()
    for name in ("abstracts.jsonl", ".abstracts.jsonl.complete"):
        (out / name).write_bytes((expected / name).read_bytes())
    summary = run(changed, out)
    assert "the input has changed since it was tagged" in summary.files_redone[str(changed / "abstracts.jsonl")]
    assert len((out / "abstracts.jsonl").read_text().splitlines()) == 6


def test_a_second_run_on_the_same_folder_stops_at_once(local_ray, corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with output_folder_lock(str(out)):
        assert (out / ".tag-corpus.lock").read_text().startswith(f"pid {os.getpid()} on host ")
        started = time.time()
        with pytest.raises(OutputFolderLockedError, match=rf"in use by another tag-corpus run \(pid {os.getpid()} on host"):
            run(corpus, out)
        assert time.time() - started < 5
        assert sorted(os.listdir(out)) == [".tag-corpus.lock"]  # nothing written
    (out / ".abstracts.jsonl.1234.partial").write_text("left by a killed run")
    assert run(corpus, out).files_done  # the lock is free again; leftovers are removed
    assert not [name for name in os.listdir(out) if name.endswith(".partial")]


def test_a_second_run_from_the_command_line_names_the_holder(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from biomtl_allennlp.corpus.output_folder import output_folder_lock\n"
         "with output_folder_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = subprocess.run(
            [ALLENNLP, "tag-corpus", str(tagger_path()), str(corpus), "--output-dir", str(out),
             "--include-package", "biomtl_allennlp", "--no-progress", "--num-cpus", "1"],
            capture_output=True, text=True,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert f"error: {out}: in use by another tag-corpus run (pid {holder.pid} on host" in result.stderr
    assert sorted(os.listdir(out)) == [".tag-corpus.lock"]


def test_bad_lines_and_a_size_limit(local_ray, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    long_text = "Cisplatin induced anemia. " * 400  # 10,400 characters
    (folder / "lines.jsonl").write_bytes(
        json.dumps({"id": "a", "text": TEXT}).encode() + b"\n"
        + b'{"id": "b", "text": "N\xe4ive T cells"}\n'  # not UTF-8
        + b'[{"pmid": "arr", "text": "Cisplatin"}]\n'  # not an object
        + b'{"id": "c", "text": "Cisplatin\rinduced anemia."}\r\n'  # a raw CR in a string
        + b'{"id": "d",\r"text": "Hydrogen peroxide."}\n'  # a raw CR between values
        + json.dumps({"id": "long", "text": long_text}).encode() + b"\n"
        + json.dumps({"id": "e", "text": TEXT}).encode() + b"\n"
    )  # fmt: skip
    out = tmp_path / "out"
    summary = run(folder, out, max_document_chars=10_000)
    assert summary.files_done == [str(folder / "lines.jsonl")] and not summary.files_failed
    assert summary.documents == 7 and summary.documents_with_errors == 4
    outputs = [json.loads(line) for line in (out / "lines.jsonl").read_text().splitlines()]
    path = folder / "lines.jsonl"
    assert [o.get("id") for o in outputs] == ["a", None, None, None, "d", "long", "e"]
    assert outputs[0]["entities"] and outputs[4]["text"] == "Hydrogen peroxide." and outputs[6]["entities"]
    assert outputs[1] == {
        "error": f"{path}:2: not valid UTF-8: byte 0xe4 at byte 23 of the line (the file must be UTF-8)",
        "line": '{"id": "b", "text": "N\\xe4ive T cells"}',
    }
    assert outputs[2]["error"] == f"{path}:3: expected a JSON object, got list"
    assert outputs[3]["error"].startswith(f"{path}:4: invalid JSON: Invalid control character")
    assert outputs[5] == {
        "id": "long",
        "error": "document of 10400 characters, over the limit of 10000 (max_document_chars); not tagged",
    }
    errors = [json.loads(line) for line in (out / "lines.errors.jsonl").read_text().splitlines()]
    assert errors == [outputs[1], outputs[2], outputs[3], outputs[5]]


class _OneSlowDocumentWorker:
    """A stand-in for `TaggerWorker` (no model): answers at once, except for a document
    whose text is "SLOW", which takes 8 s."""

    def __init__(self, *args, **kwargs):
        pass

    def tag(self, documents):
        results = []
        for document in documents:
            if document.text == "SLOW":
                time.sleep(8)
            results.append((json.dumps(document.to_json()) + "\n", None, []))
        return results

    def stats(self):
        return {"tokens": 0.0, "peak_memory_mb": 0.0}


def test_a_slow_document_blocks_neither_other_workers_nor_other_files(local_ray, tmp_path, monkeypatch):
    """With two workers, the file holding a document that takes long comes first, yet the
    other file is tagged and finished (renamed, recorded) while that document runs."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(tagger, "TaggerWorker", _OneSlowDocumentWorker)
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "a_slow.jsonl", json.dumps({"text": "SLOW"}) + "\n" + json.dumps({"text": "after"}) + "\n")
    write(folder / "b_fast.jsonl", "".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(40)))
    out = tmp_path / "out"
    summary = run(folder, out, workers=2, batch_size=1)
    assert summary.files_done == [str(folder / "b_fast.jsonl"), str(folder / "a_slow.jsonl")]
    fast_done = (out / ".b_fast.jsonl.complete").stat().st_mtime
    slow_done = (out / ".a_slow.jsonl.complete").stat().st_mtime
    assert slow_done - fast_done > 4  # finished while the slow document ran (8 s)
    assert [json.loads(line)["text"] for line in (out / "a_slow.jsonl").read_text().splitlines()] == ["SLOW", "after"]
    assert len((out / "b_fast.jsonl").read_text().splitlines()) == 40


# ---------------------------------------------------------------------- BioC outputs and records

# The bad lines of the review: refused by the predictor's rules (missing key, a value that is
# not a string), whatever the output format.
REFUSED = [
    ('{"title": 5}', "'title' must be a string, got int"),
    ('{"title": "x", "abstract": 5}', "'abstract' must be a string, got int"),
    ('{"text": 5}', "'text' must be a string, got int"),
    ('{"foo": 1}', "missing key: expected 'text', or 'title' and 'abstract'; got keys ['foo']"),
]


def _job(path: Path, out: Path, output_format: str):
    from biomtl_allennlp.corpus.inputs import output_names

    (corpus_file,) = collect_inputs([str(path)])
    names = output_names(corpus_file.stem, output_format)
    return writer.FileJob(corpus_file, {kind: str(out / name) for kind, name in names.items()}, output_format)


class _NoProgress:
    def set_postfix(self, **kwargs):
        pass


def _bioc_lines(folder: Path) -> Path:
    """A JSON-lines input whose first document is over 60 characters, then a bad line, the
    refused objects, and two good documents, one with fields named like internal keys."""
    lines = [json.dumps({"id": "long", "text": "Cisplatin " * 7}), "not json"]
    lines += [line for line, _ in REFUSED]
    lines += [json.dumps({"id": "mine", "text": TEXT, "_warnings": ["mine"], "bioc_document": "mine too"})]
    lines += [json.dumps({"id": "last", "text": "Aspirin."})]
    folder.mkdir(exist_ok=True)
    return write(folder / "lines.jsonl", "\n".join(lines) + "\n")


def test_bad_lines_written_as_bioc_are_error_outputs_naming_their_line(tmp_path):
    path = _bioc_lines(tmp_path / "in")
    for output_format in ("bioc_json", "bioc_xml", "jsonl"):
        job = _job(path, tmp_path, output_format)
        (items,) = [batch for batch in tagger._batches([job], 100, max_document_chars=60) if batch]
        results = [item[4] for item in items]
        assert [r is None for r in results] == [False, False] + [False] * 4 + [True, True]
        assert json.loads(results[0][1])["error"].startswith("document of 70 characters, over the limit of 60")
        assert json.loads(results[1][1])["error"].startswith(f"{path}:2: invalid JSON")
        if output_format == "jsonl":  # the predictor's error outputs (`test_bad_lines_and_a_size_limit`)
            for (line, message), result in zip(REFUSED, results[2:6]):
                assert json.loads(result[1]) == {"error": message, "line": line}
                assert result[0] == result[1] + "\n"
            continue
        for number, ((line, message), result) in enumerate(zip(REFUSED, results[2:6]), start=3):
            assert json.loads(result[1]) == {"error": f"{path}:{number}: {message}", "line": line}
            assert result[0] == ""  # not in the BioC file, in the errors file
        mine = items[6][2]
        assert isinstance(mine, BiocRecord) and mine.document.id == "mine"
        assert [p.text for p in mine.document.passages] == [TEXT]
    # the user's fields are never taken for internal keys
    assert items[6][2] == Document(TEXT, {"id": "mine"})
    assert items[6][3] == []


def test_the_worker_tags_a_user_object_with_an_internal_key_as_a_document():
    class Predictor:
        def predict_batch_json(self, inputs):
            return [{"id": document.get("id"), "entities": []} for document in inputs]

        def dump_line(self, output):
            return json.dumps(output) + "\n"

    tagger_worker = object.__new__(worker.TaggerWorker)
    tagger_worker.predictor = Predictor()
    (result,) = tagger_worker.tag([{"id": "mine", "text": TEXT, "bioc_document": "x", "bioc_output": "bioc_json"}])
    assert result == ('{"id": "mine", "entities": []}\n', None, [])


def test_a_bioc_document_counts_its_passages_for_the_size_limits(tmp_path):
    from biomtl_allennlp.documents.bioc_writer import document_from_record, write_bioc

    collection = bioc.BioCCollection()
    for number, size in enumerate((30, 10, tagger.LARGE_DOCUMENT_CHARS)):
        collection.add_document(document_from_record({"id": str(number), "title": "T" * size, "abstract": "A" * size}))
    write_bioc(tmp_path / "c.bioc.json", collection, "bioc_json")
    job = _job(tmp_path / "c.bioc.json", tmp_path, "bioc_json")
    (batch,) = [batch for batch in tagger._batches([job], 10, max_document_chars=59) if batch]
    assert [item[4] is None for item in batch] == [False, True, False]  # the passages' sum
    assert json.loads(batch[0][4][1]) == {
        "id": "0",
        "error": "document of 60 characters, over the limit of 59 (max_document_chars); not tagged",
    }
    job = _job(tmp_path / "c.bioc.json", tmp_path, "bioc_json")
    batches = [batch for batch in tagger._batches([job], 10) if batch]
    assert [[item[1] for item in batch] for batch in batches] == [[2], [0, 1]]  # the large one alone


def test_a_bioc_file_whose_first_documents_are_refused_is_valid(tmp_path):
    """The separator goes between documents written, not before the first one written;
    the output check parses BioC outputs."""
    from biomtl_allennlp.documents.bioc_reader import load_bioc
    from biomtl_allennlp.documents.bioc_writer import document_from_record, format_document

    path = write(tmp_path / "in.jsonl", "{}\n" * 3)
    for output_format in ("bioc_json", "bioc_xml"):
        job = _job(path, tmp_path, output_format)
        job.documents, job.reading_done = 3, True
        summary = writer.CorpusSummary()
        driver = writer.Driver([job], summary, _NoProgress(), started=time.time())
        document = format_document(document_from_record({"id": "x", "text": TEXT}), output_format)
        driver.write(job, 1, ("", '{"error": "refused"}', []), [])
        driver.write(job, 2, (document, None, []), [])
        driver.write(job, 0, ("", '{"error": "bad line"}', []), [])
        driver.settle()
        assert summary.files_done == [str(path)] and not summary.files_failed, summary.files_failed
        assert [d.id for d in load_bioc(job.paths["entities"], output_format).documents] == ["x"]
    # and a BioC output that is not a whole collection fails the check (no completion record)
    job = _job(path, tmp_path / "broken", "bioc_json")
    (tmp_path / "broken").mkdir()
    job.documents = job.written = job.output_documents = 1
    writer.Driver._emit(job, '{"source": "", "documents": [\n,\n{"id": "x", "passages": []}\n]}\n')
    job.handle.close()
    assert writer.check_output(job).startswith(f"{job.temporary('entities')}:2: not a whole BioC JSON collection")


@pytest.mark.parametrize("record", ['{"version": 1, "output_format": "jsonl", "files": []}',
                                    '{"version": 1, "output_format": "jsonl", "files": {"a.jsonl": 5}}',
                                    "[1, 2]", '"text"'])  # fmt: skip
def test_a_corrupt_completion_record_is_unreadable_not_a_crash(tmp_path, record):
    path = write(tmp_path / "a.jsonl", '{"text": "x"}\n')
    job = _job(path, tmp_path, "jsonl")
    Path(output_folder.record_path(job.paths["entities"])).write_text(record)
    problem = output_folder.completion_problem(job.paths, job.corpus_file, "jsonl")
    assert problem.startswith("unreadable completion record")


class _NoModelWorker(_OneSlowDocumentWorker):
    """A stand-in for `TaggerWorker` (no model) that writes BioC records and documents as they are."""

    def tag(self, documents):
        from biomtl_allennlp.documents.bioc_writer import format_document

        return [
            (format_document(d.document, d.output_format), None, []) if isinstance(d, BiocRecord)
            else (json.dumps(d.to_json()) + "\n", None, [])
            for d in documents
        ]  # fmt: skip


def test_bad_lines_written_as_bioc_end_to_end(local_ray, tmp_path, monkeypatch):
    import cloudpickle

    from biomtl_allennlp.documents.bioc_reader import load_bioc

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(tagger, "TaggerWorker", _NoModelWorker)
    folder = tmp_path / "in"
    _bioc_lines(folder)
    for output_format, name in (("bioc_json", "lines.bioc.json"), ("bioc_xml", "lines.bioc.xml"), ("jsonl", "lines.jsonl")):
        out = tmp_path / output_format
        summary = run(folder, out, output_format=output_format, max_document_chars=60, batch_size=2)
        assert summary.files_done == [str(folder / "lines.jsonl")] and not summary.files_failed
        assert summary.documents == 8 and summary.warnings == 0
        if output_format == "jsonl":
            outputs = [json.loads(line) for line in (out / name).read_text().splitlines()]
            assert outputs[6] == {"id": "mine", "text": TEXT}  # a document: the user's keys are no internal ones
            continue
        assert summary.documents_with_errors == 6
        assert [d.id for d in load_bioc(out / name, output_format).documents] == ["mine", "last"]
        if output_format == "bioc_json":
            assert [d["id"] for d in json.loads((out / name).read_text())["documents"]] == ["mine", "last"]
        errors = [json.loads(line)["error"] for line in (out / "lines.errors.jsonl").read_text().splitlines()]
        assert [e.split(": ")[0] for e in errors[1:]] == [f"{folder / 'lines.jsonl'}:{n}" for n in range(2, 7)]
