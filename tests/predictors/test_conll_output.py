"""The `output_format="conll"` output of the `biomedical_entities` predictor."""
import json
import logging
import re

import pytest

from biomtl_allennlp.common.tags import bioul_to_spans
from biomtl_allennlp.data.tokenizers import tokenize_document
from biomtl_allennlp.documents.document import Document
from tests.predictors.test_biomedical_entities import ABSTRACT, run_allennlp_predict

# Sentences of different lengths (tagged sorted by length, so out of text order), a
# title, a text input, a "#" token and a document without id.
DOCUMENTS = [
    {"pmid": "1", "title": "Aspirin and BRCA1 in breast cancer.",
     "abstract": "Patients given cisplatin developed renal failure. The p53 gene was mutated."},
    {"text": "Lithium toxicity."},
    {"id": "x7", "text": ABSTRACT + " Patient #3 had anemia."},
]  # fmt: skip
HEADS = ["demo-chemical", "demo-disease", "demo-gene"]


def windows(predictor, output):
    """The predictor's own tokenization of a document, one list of Tokens per window."""
    title_end = len(output["title"]) if output.get("title") is not None and output.get("abstract") else None
    return [
        tokens
        for tokens in tokenize_document(
            output["text"], predictor.extractor._tokenizer, predictor.extractor._splitter,
            max_sentence_tokens=predictor.extractor.max_sentence_tokens, title_end=title_end,
        )  # fmt: skip
        if tokens
    ]


def blocks(conll_text):
    """(comment lines, sentences as lists of rows) of one document's CoNLL lines."""
    lines = conll_text.split("\n")
    assert lines[-1] == "", "the text ends with a line break"
    lines = lines[:-1]
    comments = [line for line in lines if line.startswith("# ")]
    assert lines[: len(comments)] == comments, "comment lines come first"
    body = lines[len(comments) :]
    sentences, current = [], []
    for line in body:
        if line == "":
            assert current, "exactly one blank line after each sentence"
            sentences.append(current)
            current = []
        else:
            current.append(line.split("\t"))
    assert current == [], "a blank line after the last sentence"
    return comments, sentences


@pytest.fixture(scope="module")
def conll(make_predictor):
    return make_predictor(output_format="conll", overlap_policy="keep_all", merge="union")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_sentences_are_the_windows_in_text_order_with_the_models_tags(conll, make_predictor, document):
    output = conll.predict_json(document)
    # The JSON output is the default one plus "sentences", byte for byte.
    expected = make_predictor(overlap_policy="keep_all", merge="union").predict_json(document)
    assert "sentences" not in expected
    assert json.dumps({k: v for k, v in output.items() if k != "sentences"}) == json.dumps(expected)
    assert list(output)[-1] == "sentences"

    model_windows = windows(conll, output)
    assert [sentence["tokens"] for sentence in output["sentences"]] == [
        [token.text for token in tokens] for tokens in model_windows
    ]
    if document is DOCUMENTS[0]:  # its shortest sentence (tagged first) is the last one
        assert [len(s["tokens"]) for s in output["sentences"]] == [7, 7, 6]
    spans = set()
    for sentence, tokens in zip(output["sentences"], model_windows):
        # Each head's tags are the model's Viterbi tags for that window.
        (alone,) = conll.extractor.run_model([conll.extractor._instance(tokens)])
        assert list(sentence["tags"]) == list(alone["tags"]) and sorted(sentence["tags"]) == HEADS
        assert sentence["tags"] == alone["tags"]
        for head, tags in sentence["tags"].items():
            for span in bioul_to_spans(tags):
                spans.add((tokens[span.start].idx, tokens[span.end].idx_end, head))
    # Every entity of head H is a B..L / U run in H's column, with the same offsets.
    assert spans == {(e["start"], e["end"], h) for e in expected["entities"] for h in e["datasets"]}

    comments, rows = blocks(conll.dump_line(output))
    doc_id = document.get("pmid", document.get("id", "-"))
    assert comments == [f"# doc {doc_id}", "# columns: token\t" + "\t".join(HEADS)]
    assert len(rows) == len(output["sentences"])
    for sentence_rows, sentence in zip(rows, output["sentences"]):
        assert [row[0] for row in sentence_rows] == sentence["tokens"]
        for column, head in enumerate(HEADS, start=1):
            assert [row[column] for row in sentence_rows] == sentence["tags"][head]
        assert all(len(row) == 1 + len(HEADS) for row in sentence_rows)


def test_a_token_hash_is_a_row_not_a_comment(conll):
    comments, rows = blocks(conll.dump_line(conll.predict_json(DOCUMENTS[2])))
    # Comment lines start with "# " and token rows never do (tokens hold no whitespace).
    assert len(comments) == 2
    assert [row[0] for row in rows[-1]] == ["Patient", "#", "3", "had", "anemia", "."]


def test_batches_restore_text_order_per_document(conll):
    one_by_one = [conll.predict_json(document) for document in DOCUMENTS]
    together = conll.predict_batch_json(DOCUMENTS + [{"text": "   "}] + DOCUMENTS[::-1])
    assert together[: len(DOCUMENTS)] == one_by_one
    assert together[len(DOCUMENTS) + 1 :] == one_by_one[::-1]


def test_over_long_sentences_are_cut_into_windows_each_a_sentence(make_predictor):
    predictor = make_predictor(output_format="conll", max_sentence_tokens=4)
    output = predictor.predict_json({"text": ABSTRACT})
    full = make_predictor(output_format="conll").predict_json({"text": ABSTRACT})
    assert len(output["sentences"]) > len(full["sentences"])
    assert all(1 <= len(s["tokens"]) <= 4 for s in output["sentences"])
    tokens = [t for s in output["sentences"] for t in s["tokens"]]
    assert tokens == [t for s in full["sentences"] for t in s["tokens"]]
    assert [t.text for t in predictor.extractor._tokenizer.tokenize(ABSTRACT)] == tokens
    _, rows = blocks(predictor.dump_line(output))
    assert [[row[0] for row in sentence] for sentence in rows] == [s["tokens"] for s in output["sentences"]]


def test_a_document_without_tokens_has_its_comment_lines_only(conll):
    output = conll.predict_json({"doc_id": 5, "text": "\ufeff"})
    assert output["entities"] == [] and output["sentences"] == []
    assert conll.dump_line(output) == "# doc 5\n# columns: token\t" + "\t".join(HEADS) + "\n"


def test_default_json_has_no_sentences(make_predictor):
    predictor = make_predictor()
    output = predictor.predict_json(DOCUMENTS[0])
    assert "sentences" not in output
    assert predictor.dump_line(output) == json.dumps(output) + "\n"
    assert all(not document_sentences(predictor, d) for d in DOCUMENTS)


def document_sentences(predictor, json_dict):
    (extraction,) = predictor.extractor.extract([Document.from_json(json_dict)])
    return extraction.sentences


def test_errors_are_logged_and_not_written(conll, caplog):
    error = conll.predict_json({"id": "e", "text": "   "})
    assert error["error"] == "text contains only whitespace"
    with caplog.at_level(logging.WARNING, logger="biomtl_allennlp.predictors.biomedical_entities"):
        assert conll.dump_line(error) == ""
    assert any('"id": "e"' in record.getMessage() for record in caplog.records)
    assert conll.dump_line({}) == ""


def test_allennlp_predict_writes_conll(tiny_archive_path, tmp_path, make_predictor, monkeypatch):
    input_file = tmp_path / "in.jsonl"
    lines = [json.dumps(d) for d in DOCUMENTS[:2]] + ['{"text": 42, "id": "bad"}', "{broken", json.dumps(DOCUMENTS[2])]
    input_file.write_text("".join(line + "\n" for line in lines))
    written = run_allennlp_predict(
        monkeypatch, tiny_archive_path, input_file, tmp_path / "out.conll",
        "--predictor", "biomedical_entities",
        "--predictor-args", '{"output_format": "conll"}',
    )  # fmt: skip
    # Exactly the documents' blocks, in input order; the two bad lines give nothing.
    predictor = make_predictor(output_format="conll")
    assert written == "".join(predictor.dump_line(predictor.predict_json(d)) for d in DOCUMENTS)
    assert written.startswith("# doc 1\n# columns: token\tdemo-chemical\tdemo-disease\tdemo-gene\nAspirin\t")
    assert [line for line in written.split("\n") if line.startswith("# doc")] == ["# doc 1", "# doc -", "# doc x7"]
