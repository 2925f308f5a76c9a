import json

from biomtl_allennlp.common.tags import bioul_to_spans
from tests.predictors.test_biomedical_entities import run_allennlp_predict

DOCUMENTS = [
    {"pmid": "1", "title": "Aspirin and BRCA1 in breast cancer.",
     "abstract": "Patients given cisplatin developed renal failure. The p53 gene was mutated."},
    {"text": "Lithium toxicity."},
]  # fmt: skip
HEADS = ["demo-chemical", "demo-disease", "demo-gene"]


def test_conll_lines_hold_every_token_in_text_order_with_each_heads_tags(make_predictor):
    conll = make_predictor(output_format="conll", overlap_policy="keep_all")
    plain = make_predictor(overlap_policy="keep_all")
    for document in DOCUMENTS:
        output = conll.predict_json(document)
        expected = plain.predict_json(document)
        # The JSON output is today's plus "sentences".
        assert {k: v for k, v in output.items() if k != "sentences"} == expected
        text = output["text"]
        # Tokens in text order: each found at or after the end of the previous one.
        position, spans = 0, []
        for sentence in output["sentences"]:
            offsets = []
            for token in sentence["tokens"]:
                start = text.index(token, position)
                assert text[position:start].strip() == ""  # nothing skipped but spaces
                offsets.append((start, start + len(token)))
                position = start + len(token)
            assert sorted(sentence["tags"]) == HEADS
            for head, tags in sentence["tags"].items():
                assert len(tags) == len(sentence["tokens"])
                for span in bioul_to_spans(tags):
                    spans.append((offsets[span.start][0], offsets[span.end][1], span.label, head))
        assert text[position:].strip() == ""
        # Every head's tag runs are exactly the entities of the keep_all JSON output.
        entities = {
            (e["start"], e["end"], head) for e in expected["entities"] for head in e["datasets"]
        }
        assert {(start, end, head) for start, end, _, head in spans} == entities
        lines = conll.dump_line(output).split("\n")
        assert lines[0] == f"# doc {document.get('pmid', '-')}"
        assert lines[1] == "# columns: token\t" + "\t".join(HEADS)
        body = lines[2:]
        assert body[-1] == "" and body[-2] == ""  # blank line after the last sentence
        rows = [line.split("\t") for line in body if line]
        tokens = [token for sentence in output["sentences"] for token in sentence["tokens"]]
        assert [row[0] for row in rows] == tokens
        assert body.count("") == len(output["sentences"]) + 1


def test_default_json_has_no_sentences_and_errors_are_not_written(make_predictor):
    assert "sentences" not in make_predictor().predict_json(DOCUMENTS[1])
    conll = make_predictor(output_format="conll")
    error = conll.predict_json({"text": "   "})
    assert "error" in error and conll.dump_line(error) == ""


def test_allennlp_predict_writes_conll(tiny_archive_path, tmp_path, monkeypatch):
    input_file = tmp_path / "in.jsonl"
    input_file.write_text("".join(json.dumps(d) + "\n" for d in DOCUMENTS))
    written = run_allennlp_predict(
        monkeypatch, tiny_archive_path, input_file, tmp_path / "out.conll",
        "--predictor", "biomedical_entities",
        "--predictor-args", '{"output_format": "conll"}',
    )  # fmt: skip
    assert written.startswith("# doc 1\n# columns: token\tdemo-chemical\tdemo-disease\tdemo-gene\n")
    assert "\n# doc -\n" in written
    assert written.split("\n")[2].split("\t")[0] == "Aspirin"
