import json
import sys

import pytest
from allennlp.commands import main
from allennlp.common.checks import ConfigurationError
from allennlp.predictors import Predictor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biomtl_allennlp.documents.pubtator import read_pubtator
from biomtl_allennlp.predictors.biomedical_entities import BiomedicalEntitiesPredictor

HEADS = {"demo-gene", "demo-chemical", "demo-disease"}
TYPES = {"Gene/Protein", "Chemical", "Disease"}
ABSTRACT = (
    "Cisplatin induced nephrotoxicity in mice lacking p53. Treatment with "
    "5-fluorouracil reduced IL-2 receptor expression; hydrogen peroxide did not."
)


def check_document(output, text):
    assert "error" not in output, output
    assert output["text"] == text
    for entity in output["entities"]:
        assert set(entity) == {"start", "end", "text", "type", "dataset", "datasets", "score"}
        assert 0 <= entity["start"] < entity["end"] <= len(text)
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["text"] == entity["text"].strip()
        assert entity["dataset"] in HEADS and set(entity["datasets"]) <= HEADS
        assert entity["dataset"] in entity["datasets"]
        assert entity["type"] in TYPES
        assert 0.0 <= entity["score"] <= 1.0


class TestInputs:
    def test_default_predictor_and_from_path(self, tiny_archive_path):
        predictor = Predictor.from_path(tiny_archive_path)
        assert isinstance(predictor, BiomedicalEntitiesPredictor)
        named = Predictor.from_path(tiny_archive_path, "biomedical_entities", min_score=0.2)
        output = named.predict_json({"text": ABSTRACT})
        check_document(output, ABSTRACT)
        assert all(entity["score"] >= 0.2 for entity in output["entities"])

    def test_text(self, predictor):
        output = predictor.predict_json({"text": ABSTRACT, "id": "doc-1"})
        check_document(output, ABSTRACT)
        assert output["id"] == "doc-1"
        assert list(output) == ["id", "text", "entities"]
        # The tiny model finds something with keep_all and no score threshold.
        assert output["entities"]

    @pytest.mark.parametrize("key", ["id", "pmid", "doc_id"])
    def test_ids_are_echoed(self, predictor, key):
        assert predictor.predict_json({key: 17, "text": "p53"})[key] == 17

    def test_title_and_abstract(self, predictor):
        title = "Cisplatin nephrotoxicity and p53"  # no final punctuation
        output = predictor.predict_json({"pmid": "123", "title": title, "abstract": ABSTRACT})
        check_document(output, f"{title} {ABSTRACT}")
        assert output["pmid"] == "123"
        assert output["title"] == title and output["abstract"] == ABSTRACT
        # The title is a sentence of its own: no entity crosses its end.
        for entity in output["entities"]:
            assert entity["end"] <= len(title) or entity["start"] > len(title)

    @pytest.mark.parametrize("abstract", [None, ""])
    def test_title_without_abstract(self, predictor, abstract):
        output = predictor.predict_json({"pmid": "1", "title": "p53", "abstract": abstract})
        check_document(output, "p53")
        assert predictor.predict_json({"pmid": "1", "title": "p53"})["text"] == "p53"

    def test_every_head_tags_every_sentence_in_one_pass(self, make_predictor, monkeypatch):
        predictor = make_predictor(overlap_policy="keep_all")
        calls = []
        original = predictor.extractor.run_model

        def spy(instances):
            outputs = original(instances)
            calls.append(outputs)
            return outputs

        monkeypatch.setattr(predictor.extractor, "run_model", spy)
        outputs = predictor.predict_batch_json(
            [{"text": ABSTRACT}, {"pmid": "2", "title": "p53 in mice.", "abstract": ABSTRACT}]
        )
        assert len(calls) == 1  # 5 sentences, one sub-batch
        assert len(calls[0]) == 5
        for sentence in calls[0]:
            assert set(sentence["tags"]) == HEADS
            assert set(sentence["span_score_parts"]) == HEADS
        assert [len(o["entities"]) > 0 for o in outputs] == [True, True]

    def test_sub_batches_give_the_same_entities(self, make_predictor):
        documents = [{"text": ABSTRACT}, {"text": "Loss of GATA-1 causes anemia."}, {"text": "x"}]
        whole = make_predictor(overlap_policy="keep_all").predict_batch_json(documents)
        small = make_predictor(overlap_policy="keep_all", sentence_batch_size=1)
        one_by_one = [small.predict_json(document) for document in documents]
        for a, b in zip(whole, one_by_one):
            assert [(e["start"], e["end"], e["type"]) for e in a["entities"]] == [
                (e["start"], e["end"], e["type"]) for e in b["entities"]
            ]
            for x, y in zip(a["entities"], b["entities"]):
                assert x["score"] == pytest.approx(y["score"], abs=1e-4)

    def test_tokens_are_counted(self, make_predictor):
        predictor = make_predictor()
        predictor.predict_json({"text": "IL - 2 receptor ."})
        assert predictor.extractor.tokens_processed == 5

    def test_type_map_and_policies(self, make_predictor):
        mapped = make_predictor(type_map={"GENE": "Protein", "Chemical": "Drug"})
        types = {e["type"] for e in mapped.predict_json({"text": ABSTRACT})["entities"]}
        assert types <= {"Protein", "Drug", "Disease"}
        flat = make_predictor(overlap_policy="longest", overlap_scope="all")
        entities = flat.predict_json({"text": ABSTRACT})["entities"]
        for a, b in zip(entities, entities[1:]):
            assert a["end"] <= b["start"]

    def test_heads_restricts_the_entities(self, make_predictor):
        """`heads` keeps exactly the entities those heads found (with `keep_all`, the
        entities of all heads whose `datasets` include them), and only their CoNLL columns."""
        head = sorted(HEADS)[0]
        every = make_predictor(overlap_policy="keep_all").predict_json({"text": ABSTRACT})["entities"]
        one = make_predictor(overlap_policy="keep_all", heads=[head]).predict_json({"text": ABSTRACT})["entities"]
        assert {e["dataset"] for e in one} <= {head}
        expected = [(e["start"], e["end"], e["type"]) for e in every if head in e["datasets"]]
        assert [(e["start"], e["end"], e["type"]) for e in one] == expected
        conll = make_predictor(output_format="conll", heads=[head])
        lines = conll.dump_line(conll.predict_json({"text": ABSTRACT})).splitlines()
        assert lines[1] == f"# columns: token\t{head}"

    @pytest.mark.parametrize("heads", [[], ["no-such-head"], "demo-gene", 3])
    def test_unknown_heads_are_a_clear_error(self, make_predictor, heads):
        with pytest.raises(ConfigurationError, match="heads must name some of the model's heads"):
            make_predictor(heads=heads)

    @pytest.mark.parametrize(
        "arguments",
        [
            {"input_format": "xml"},
            {"output_format": "csv"},
            {"overlap_policy": "shortest"},
            {"overlap_scope": "sentence"},
            {"sentence_batch_size": 0},
            {"type_map": {"GENE": 1}},
        ],
    )
    def test_bad_arguments(self, make_predictor, arguments):
        with pytest.raises(ConfigurationError):
            make_predictor(**arguments)


class TestBadInput:
    CASES = {
        "empty": ({"text": ""}, "empty text"),
        "whitespace": ({"id": 3, "text": " \t\r\n "}, "only whitespace"),
        "missing": ({"id": "m", "body": "p53"}, "missing key"),
        "nothing": ({}, "missing key"),
        "int text": ({"text": 5}, "'text' must be a string, got int"),
        "null text": ({"text": None}, "got null"),
        "list text": ({"text": ["p53"]}, "got list"),
        "int title": ({"title": 3, "abstract": "x"}, "'title' must be a string"),
        "dict abstract": ({"title": "x", "abstract": {}}, "'abstract' must be a string"),
    }
    GOOD = {
        "no punctuation": "cisplatin and p53 and hydrogen peroxide and anemia " * 10,
        "one huge sentence": "cisplatin binds p53 " * 1000,  # 20,000 characters
        "huge token": "p53 " + "a" * 1000 + " cisplatin.",
        "crlf and tabs": "Cisplatin\tinduced\r\nnephrotoxicity.\r\nIL-2\treceptor\r\n",
        "greek and accents": "α-synuclein and β-catenin in Sjögren's syndrome; naïve café.",
        "emoji": "p53 🧬 binds 👍🏽 cisplatin 🙂.",
        "combining marks": "cafe\u0301 and n\u0303 with a\u0308\u0308\u0308 p53.",
        "zero-width": "IL\u200b-\u200b2 receptor\u200d and \ufeffp53\u2060.",
        "control characters": "p53\x00binds\x07cisplatin\x1b[0m\x7f\x85anemia\u2028x.",
        "only zero-width": "\u200b\u200b",
        "surrogate": "p53 \ud800 cisplatin.",
    }

    def test_errors_and_good_documents_in_one_batch(self, predictor):
        inputs = [case[0] for case in self.CASES.values()] + [
            {"text": text, "id": name} for name, text in self.GOOD.items()
        ]
        outputs = predictor.predict_batch_json(inputs)
        assert len(outputs) == len(inputs)
        for (name, (_, message)), output in zip(self.CASES.items(), outputs):
            assert message in output["error"], name
            assert "line" in output
        assert outputs[1]["id"] == 3 and outputs[2]["id"] == "m"
        for (name, text), output in zip(self.GOOD.items(), outputs[len(self.CASES) :]):
            check_document(output, text)
            assert output["id"] == name
        huge = outputs[len(self.CASES) + 1]
        assert len(huge["text"]) == 20000

    def test_error_lines_are_json(self, predictor):
        line = predictor.dump_line(predictor.predict_json({"text": ""}))
        assert json.loads(line)["error"] == "empty text"
        assert line.endswith("\n") and line.count("\n") == 1

    def test_non_ascii_survives_json_output(self, predictor):
        text = self.GOOD["greek and accents"] + self.GOOD["emoji"]
        line = predictor.dump_line(predictor.predict_json({"text": text}))
        assert json.loads(line)["text"] == text

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(
            st.one_of(
                st.text(min_size=1, max_size=12),
                st.sampled_from(
                    ["p53", "cisplatin", "IL-2", "anemia", ". ", ", ", "\n", "GATA-1", " "]
                ),
            ),
            min_size=1,
            max_size=40,
        ).map("".join)
    )
    def test_offsets_property(self, predictor, text):
        output = predictor.predict_json({"text": text})
        if not text.strip():
            assert "error" in output
            return
        check_document(output, text)


class TestLines:
    def test_pubtator_lines(self, make_predictor):
        predictor = make_predictor(overlap_policy="keep_all")
        lines = [
            "111|t|Cisplatin nephrotoxicity\n",
            "111|a|IL-2 receptor in mice. p53 binds.\n",
            "111\t0\t9\tCisplatin\tChemical\tD002945\n",
            "111\tCID\tD002945\tD007674\n",
            "222|t|Title only\n",
            "333|t|Anemia and p53\r\n",
            "333|a|\n",
            "444|a|abstract without a title\n",
        ]
        loaded = [predictor.load_line(line) for line in lines]
        outputs = [predictor.predict_json(item) for item in loaded]
        dumped = [predictor.dump_line(output) for output in outputs]
        assert [line != "" for line in dumped] == [False, True, False, False, False, True, True, True]
        first = outputs[1]
        check_document(first, "Cisplatin nephrotoxicity IL-2 receptor in mice. p53 binds.")
        assert first["pmid"] == "111"
        # The title-only document is predicted when the next title line arrives.
        assert outputs[5]["pmid"] == "222" and outputs[5]["text"] == "Title only"
        assert outputs[6]["pmid"] == "333" and outputs[6]["text"] == "Anemia and p53"
        assert outputs[7]["pmid"] == "444" and "without its title" in outputs[7]["error"]

    def test_auto_detection(self, make_predictor):
        predictor = make_predictor()
        assert predictor.load_line('  {"text": "x"}\n')["text"] == "x"
        assert predictor.load_line("plain text line\r\n")["text"] == "plain text line"
        assert "error" in predictor.predict_json(predictor.load_line("{not json\n"))
        # A line starting with "[" is JSON too, and an error line (issue 41).
        assert predictor.predict_json(predictor.load_line("[1, 2]\n")) == {
            "error": "expected a JSON object, got list", "line": "[1, 2]",
        }  # fmt: skip
        # Before any PubTator line, a tab-separated line is plain text.
        assert predictor.load_line("12\tsome\ttext\n")["text"] == "12\tsome\ttext"

    def test_explicit_formats(self, make_predictor):
        text_predictor = make_predictor(input_format="text")
        assert text_predictor.load_line('{"text": "x"}\n')["text"] == '{"text": "x"}'
        json_predictor = make_predictor(input_format="json")
        assert "invalid JSON" in json_predictor.predict_json(json_predictor.load_line("p53\n"))["error"]
        output = json_predictor.predict_json(json_predictor.load_line("[1, 2]\n"))
        assert output == {"error": "expected a JSON object, got list", "line": "[1, 2]"}
        pubtator = make_predictor(input_format="pubtator")
        output = pubtator.predict_json(pubtator.load_line("p53 binds\n"))
        assert "expected 'PMID|t|title'" in output["error"]
        assert pubtator.predict_json(pubtator.load_line("PMC7|t|A title\n")) == {}
        assert pubtator.predict_json(pubtator.load_line("PMC7|a|An abstract\n"))["pmid"] == "PMC7"

    def test_pubtator_output_reads_back(self, make_predictor):
        predictor = make_predictor(output_format="pubtator", overlap_policy="keep_all")
        title, abstract = "Cisplatin\tand p53", ABSTRACT + "\tend"
        output = predictor.predict_json({"pmid": "9", "title": title, "abstract": abstract})
        text = predictor.dump_line(output)
        assert text.endswith("\n\n")
        (document,) = read_pubtator(text.splitlines(keepends=True))
        assert document.pmid == "9"
        assert len(document.text) == len(output["text"])
        assert [(a.start, a.end, a.type) for a in document.entities] == [
            (e["start"], e["end"], e["type"]) for e in output["entities"]
        ]
        assert output["entities"]
        # Text input: mention lines only, with the id (or "-") as PMID.
        lines = predictor.dump_line(predictor.predict_json({"text": ABSTRACT})).splitlines()
        assert lines[-1] == "" and all(line.startswith("-\t") for line in lines[:-1])
        assert predictor.dump_line(predictor.predict_json({"text": ""})) == ""


def run_allennlp_predict(monkeypatch, archive, input_file, output_file, *extra):
    argv = [
        "allennlp", "predict", str(archive), str(input_file),
        "--include-package", "biomtl_allennlp", "--output-file", str(output_file),
        "--silent", "--batch-size", "3", *extra,
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    main()
    return output_file.read_text(encoding="utf-8")


def test_allennlp_predict_command(tiny_archive_path, tmp_path, monkeypatch):
    input_file = tmp_path / "mixed.txt"
    input_file.write_text(
        '{"id": "a", "text": "Cisplatin induced anemia."}\n'
        "\n"
        "{broken json\n"
        "555|t|Hydrogen peroxide and p53\n"
        "555|a|IL-2 receptor expression in mice. Naïve T cells 🧬.\n"
        "555\t0\t8\tHydrogen\tChemical\n"
        "A plain text document about GATA-1.\n"
        '{"pmid": "6", "title": "T", "abstract": null}\n'
        '{"text": 42, "id": "bad"}\n',
        encoding="utf-8",
    )
    output = run_allennlp_predict(monkeypatch, tiny_archive_path, input_file, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 6
    assert lines[0]["id"] == "a"
    check_document(lines[0], "Cisplatin induced anemia.")
    assert "invalid JSON" in lines[1]["error"] and lines[1]["line"] == "{broken json"
    assert lines[2]["pmid"] == "555"
    check_document(lines[2], "Hydrogen peroxide and p53 IL-2 receptor expression in mice. Naïve T cells 🧬.")
    check_document(lines[3], "A plain text document about GATA-1.")
    assert lines[4]["pmid"] == "6" and lines[4]["text"] == "T"
    assert lines[5] == {"id": "bad", "error": "'text' must be a string, got int", "line": '{"text": 42, "id": "bad"}'}

    pubtator = run_allennlp_predict(
        monkeypatch, tiny_archive_path, input_file, tmp_path / "out.pubtator",
        "--predictor", "biomedical_entities",
        "--predictor-args", '{"output_format": "pubtator", "overlap_policy": "keep_all"}',
    )  # fmt: skip
    # One block per document; text inputs have mention lines only (no |t|/|a| lines).
    blocks = pubtator.split("\n\n")
    assert blocks[-1] == "" and len(blocks) == 5
    for block, expected in zip(blocks, [lines[0], lines[2], lines[3], lines[4]]):
        mentions = [line for line in block.splitlines() if "\t" in line]
        assert len(mentions) == len(expected["entities"])
    assert all("|" not in line for line in blocks[0].splitlines())
    documents = list(read_pubtator(blocks[1].splitlines(keepends=True) + ["\n"] + blocks[3].splitlines(keepends=True)))
    assert [d.pmid for d in documents] == ["555", "6"]
    assert documents[0].text == lines[2]["text"]
    assert [(a.start, a.end, a.type) for a in documents[0].entities] == [
        (e["start"], e["end"], e["type"]) for e in lines[2]["entities"]
    ]


def test_a_byte_order_mark_starting_the_input_file_is_removed(tiny_archive_path, tmp_path, monkeypatch):
    input_file = tmp_path / "bom.txt"
    input_file.write_text("\ufeffCisplatin induced anemia.\n\ufeffp53\n", encoding="utf-8")
    output = run_allennlp_predict(monkeypatch, tiny_archive_path, input_file, tmp_path / "out.jsonl")
    first, second = (json.loads(line) for line in output.splitlines())
    check_document(first, "Cisplatin induced anemia.")
    # Only the first line's: later U+FEFF characters are text (and never part of a token).
    assert second["text"] == "\ufeffp53"
    # A PubTator file and a JSON file with a BOM are detected as such.
    input_file.write_text('\ufeff7|t|Cisplatin\n7|a|anemia.\n', encoding="utf-8")
    (pubtator,) = map(json.loads, run_allennlp_predict(monkeypatch, tiny_archive_path, input_file, tmp_path / "o").splitlines())
    assert pubtator["pmid"] == "7" and pubtator["text"] == "Cisplatin anemia."
    input_file.write_text('\ufeff{"id": 1, "text": "p53"}\n', encoding="utf-8")
    (from_json,) = map(json.loads, run_allennlp_predict(monkeypatch, tiny_archive_path, input_file, tmp_path / "o").splitlines())
    assert from_json["id"] == 1 and from_json["text"] == "p53"


def test_load_line_strips_the_bom_of_its_first_line_only(make_predictor):
    predictor = make_predictor()
    assert predictor.predict_json(predictor.load_line("\ufeff\n")) == {}
    assert predictor.load_line("\ufeffx\n")["text"] == "\ufeffx"


def test_scores_are_the_crf_posteriors(make_predictor, monkeypatch):
    """Single-token entities: score == marginal P(y_t = U-type), from the head's logits."""

    from tests.modules.crf_reference import tag_marginals

    predictor = make_predictor(overlap_policy="keep_all")
    model = predictor._model
    captured = {}
    hooks = [
        model._projections[head].register_forward_hook(
            lambda module, inputs, output, head=head: captured.__setitem__(head, output)
        )
        for head in model.datasets
    ]
    try:
        text = "p53 binds cisplatin in anemia , GATA - 1 and IL - 2 receptor ; 5 - FU ."
        output = predictor.predict_json({"text": text})
    finally:
        for hook in hooks:
            hook.remove()
    starts = [i for i, c in enumerate(text) if c != " " and (i == 0 or text[i - 1] == " ")]
    checked = 0
    for entity in output["entities"]:
        head = entity["dataset"]
        token = starts.index(entity["start"])
        if entity["text"].count(" "):
            continue  # multi-token: covered by tests/modules/test_multi_head_crf.py
        logits = captured[head]
        marginals = tag_marginals(model._crf.crfs[head], logits[0])
        source_type = {"demo-gene": "GENE", "demo-chemical": "Chemical", "demo-disease": "Disease"}[head]
        tag = model.vocab.get_token_index(f"U-{source_type}", f"{head}_labels")
        assert entity["score"] == pytest.approx(float(marginals[token, tag]), abs=1e-5)
        checked += 1
    assert checked > 0


def test_a_failing_sentence_fails_only_its_document(make_predictor, monkeypatch):
    predictor = make_predictor()
    original = predictor.extractor.run_model

    def flaky(instances):
        if any("EXPLODE" in instance["metadata"]["words"] for instance in instances):
            raise RuntimeError("simulated failure")
        return original(instances)

    monkeypatch.setattr(predictor.extractor, "run_model", flaky)
    outputs = predictor.predict_batch_json(
        [{"id": 1, "text": ABSTRACT}, {"id": 2, "text": "p53 binds. EXPLODE now."}, {"id": 3, "text": "p53"}]
    )
    assert "error" not in outputs[0] and "error" not in outputs[2]
    assert outputs[1]["id"] == 2
    assert outputs[1]["error"] == "tagging failed: RuntimeError: simulated failure"


class TestOutputFormat:
    """Pins the output bytes of the JSON and PubTator writers."""

    OUTPUTS = {
        "pmid": "12 3|4\t",
        "title": "Title\twith\u2028breaks",
        "abstract": "Abstract\r\nwith\x1c\x85 a lone \ud800 surrogate",
        "text": "unused",
        "entities": [
            {"start": 0, "end": 5, "text": "Ti\ttle", "type": "Gene\nProtein", "dataset": "d",
             "score": 0.5, "datasets": ["d"]},
            {"start": 6, "end": 10, "text": "with", "type": "Disease", "dataset": "d",
             "score": 0.25, "datasets": ["c", "d"]},
        ],
    }  # fmt: skip

    def test_pubtator_lines_of_a_titled_document(self, make_predictor):
        predictor = make_predictor(output_format="pubtator")
        assert predictor.dump_line(self.OUTPUTS) == (
            "12_3/4_|t|Title with breaks\n"
            "12_3/4_|a|Abstract  with   a lone \ufffd surrogate\n"
            "12_3/4_\t0\t5\tTi tle\tGene Protein\n"
            "12_3/4_\t6\t10\twith\tDisease\n"
            "\n"
        )

    def test_pubtator_lines_of_a_text_document(self, make_predictor):
        predictor = make_predictor(output_format="pubtator")
        text_output = {"text": "x", "entities": self.OUTPUTS["entities"][1:]}
        assert predictor.dump_line(text_output) == "-\t6\t10\twith\tDisease\n\n"
        # A document with nothing to write still gives its blank line pair.
        assert predictor.dump_line({"text": "x", "entities": []}) == "\n\n"
        assert predictor.dump_line({"id": 7, "text": "x", "entities": []}) == "\n\n"

    def test_entity_keys_and_their_order(self, predictor):
        output = predictor.predict_json({"text": ABSTRACT})
        assert output["entities"]
        for entity in output["entities"]:
            assert list(entity) == ["start", "end", "text", "type", "dataset", "score", "datasets"]
            assert isinstance(entity["datasets"], list)
