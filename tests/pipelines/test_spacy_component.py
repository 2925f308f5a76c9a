"""The `biomtl_ner` spaCy component with the shipped model (loaded once for the module: every
component here shares the archive that `spacy_component` caches)."""
import json
import subprocess
import sys

import pytest
import spacy
from allennlp.predictors import Predictor
from spacy import displacy
from spacy.tokens import Doc

from biomtl_allennlp.pipelines import spacy_component
from biomtl_allennlp.pipelines.spacy_component import BiomtlNer, Readings, predictor_readings
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.pretrained import tagger_path
from tests.conftest import PROJECT_ROOT

SENTENCE = "Cisplatin induced nephrotoxicity in BRCA1 carriers."
ABSTRACTS = [json.loads(line) for line in (PROJECT_ROOT / "fixtures/pubmed/abstracts.jsonl").open()]


def _text(document):
    return f"{document['title']} {document['abstract']}" if document["abstract"] else document["title"]


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("biomtl_ner")
    nlp("Warm-up.")  # loads the shipped archive (once for the module)
    return nlp


@pytest.fixture(scope="module")
def default_predictor(nlp):
    """The predictor with its default arguments, on the archive the component loaded."""
    (archive,) = spacy_component._ARCHIVES.values()
    return Predictor.from_archive(archive, "biomedical_entities")


def _brca1_type(predictor):
    """The type the predictor gives BRCA1 in `SENTENCE` (a gene; which of Gene/Protein and DNA
    depends on how it merges its heads)."""
    (brca1,) = [e for e in predictor.predict_json({"text": SENTENCE})["entities"] if e["text"] == "BRCA1"]
    assert brca1["type"] in ("Gene/Protein", "DNA")
    return brca1["type"]


def _spans(spans):
    return [(span.start_char, span.end_char, span.label_) for span in spans]


def test_the_factory_is_found_through_the_entry_point_without_importing_the_plugin():
    code = (
        "import sys, spacy\n"
        "assert 'biomtl_allennlp' not in sys.modules\n"
        "from importlib.metadata import entry_points\n"
        "assert [e.value for e in entry_points(group='spacy_factories') if e.name == 'biomtl_ner'] == "
        "['biomtl_allennlp.pipelines.spacy_component:make_biomtl_ner']\n"
        "nlp = spacy.blank('en')  # spaCy imports the entry points' modules here\n"
        "component = nlp.add_pipe('biomtl_ner')\n"
        "print(type(component).__name__, nlp.pipe_names, component.model)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["BiomtlNer", "['biomtl_ner']", "mtm_cw"]


def test_the_issue_example(nlp, default_predictor):
    doc = nlp(SENTENCE)
    brca1 = _brca1_type(default_predictor)
    assert [(ent.text, ent.label_) for ent in doc.ents] == [
        ("Cisplatin", "Chemical"),
        ("nephrotoxicity", "Disease"),
        ("BRCA1", brca1),
    ]
    for ent in doc.ents:
        assert 0.9 < ent._.biomtl_score <= 1.0
        assert ent._.biomtl_head in ent._.biomtl_heads
        assert ent._.biomtl_offsets == (ent.start_char, ent.end_char)
    assert "NCBI-disease" in doc.ents[1]._.biomtl_heads
    group = doc.spans["biomtl"]
    # Every entity is in the group, which also has the other heads' readings of BRCA1.
    assert set(_spans(doc.ents)) < set(_spans(group))
    readings = [span for span in group if span.text == "BRCA1"]
    assert len(readings) > 1 and {"Gene/Protein", brca1} <= {span.label_ for span in readings}
    # Each type keeps its own values on the same tokens.
    assert len({(span.label_, span._.biomtl_score) for span in readings}) == len(readings)
    assert doc._.biomtl_alignment["ents"]["entities"] == 3 + doc._.biomtl_alignment["ents"]["overlapping"]


def test_the_fixture_abstracts_in_batches_agree_with_the_predictor(nlp, default_predictor, monkeypatch):
    component = nlp.get_pipe("biomtl_ner")
    calls = []
    predict = component.predictor.predict_batch_json
    monkeypatch.setattr(
        component.predictor, "predict_batch_json", lambda inputs: calls.append(len(inputs)) or predict(inputs)
    )
    texts = [_text(document) for document in ABSTRACTS]
    docs = list(nlp.pipe(texts, batch_size=4))
    assert calls == [4, 4, 2]
    expected = default_predictor.predict_batch_json([{"text": text} for text in texts])
    total = 0
    for text, doc, output in zip(texts, docs, expected):
        assert doc.text == text
        default = {(e["start"], e["end"], e["type"]): e for e in output["entities"]}
        alignment = doc._.biomtl_alignment
        # doc.ents: the predictor's default entities, less those overlapping a better one.
        assert alignment["ents"]["unaligned"] == 0
        assert len(doc.ents) + alignment["ents"]["overlapping"] == len(default)
        for ent in doc.ents:
            entity = default[(*ent._.biomtl_offsets, ent.label_)]
            assert ent._.biomtl_score == entity["score"]
            assert list(ent._.biomtl_heads) == entity["datasets"]
            assert ent.start_char <= entity["start"] < entity["end"] <= ent.end_char
            if (ent.start_char, ent.end_char) == (entity["start"], entity["end"]):
                assert ent.text == entity["text"]
        # The span group holds every default entity (and more readings).
        group = {(*span._.biomtl_offsets, span.label_) for span in doc.spans["biomtl"]}
        assert set(default) <= group
        assert alignment["spans"]["unaligned"] == 0
        total += len(doc.ents)
    assert total > 200


def test_predictor_readings_gives_the_default_output_as_merged(nlp, default_predictor):
    """The coupling to the predictor: `merged` is exactly what the predictor gives with its
    default arguments (this fails when the predictor's default merge changes)."""
    texts = [_text(document) for document in ABSTRACTS[:4]]
    readings = predictor_readings(nlp.get_pipe("biomtl_ner").predictor, texts)
    expected = default_predictor.predict_batch_json([{"text": text} for text in texts])
    for reading, output in zip(readings, expected):
        assert [entity.to_json() for entity in reading.merged] == output["entities"]
        assert {(e.start, e.end, e.type) for e in reading.merged} <= {(e.start, e.end, e.type) for e in reading.every}
    assert sum(len(r.every) for r in readings) > sum(len(r.merged) for r in readings)


def test_after_the_sentencizer(nlp):
    with_sentences = spacy.blank("en")
    with_sentences.add_pipe("sentencizer")
    with_sentences.add_pipe("biomtl_ner")
    text = _text(ABSTRACTS[0])
    doc, alone = with_sentences(text), nlp(text)
    assert len(list(doc.sents)) > 3
    assert doc.ents and _spans(doc.ents) == _spans(alone.ents)
    assert _spans(doc.spans["biomtl"]) == _spans(alone.spans["biomtl"])


def test_displacy_renders_entities_and_the_span_group(nlp):
    doc = nlp(SENTENCE)
    entities = displacy.render(doc, style="ent", jupyter=False)
    for ent in doc.ents:
        assert ent.text in entities and ent.label_ in entities
    spans = displacy.render(doc, style="span", options={"spans_key": "biomtl"}, jupyter=False)
    for label in {span.label_ for span in doc.spans["biomtl"]}:
        assert label in spans


def test_spans_off_spacy_token_boundaries_are_expanded_and_counted(nlp):
    whitespace = spacy.blank("en")
    whitespace.tokenizer = lambda text: Doc(whitespace.vocab, words=text.split(" "))
    whitespace.add_pipe("biomtl_ner")
    doc = whitespace(SENTENCE)  # "carriers." is one token here
    assert [token.text for token in doc][-1] == "carriers."
    doc = whitespace("Cisplatin induced nephrotoxicity.")
    (disease,) = [ent for ent in doc.ents if ent.label_ == "Disease"]
    assert disease.text == "nephrotoxicity."
    assert disease._.biomtl_offsets == (18, 32)
    assert doc._.biomtl_alignment["ents"]["expanded"] >= 1
    assert doc._.biomtl_alignment["spans"]["expanded"] >= 1


def test_an_entity_no_token_covers_is_counted_not_dropped_silently(nlp, caplog):
    component = nlp.get_pipe("biomtl_ner")
    doc = spacy.blank("en")("Short text.")
    outside = Entity(start=20, end=25, text="?????", type="Chemical", dataset="BC5CDR", score=0.9)
    inside = Entity(start=0, end=5, text="Short", type="Chemical", dataset="BC5CDR", score=0.8)
    component._set(doc, Readings(merged=[outside, inside], every=[outside, inside]))
    assert _spans(doc.ents) == [(0, 5, "Chemical")]
    assert doc._.biomtl_alignment["ents"]["unaligned"] == 1
    assert doc._.biomtl_alignment["spans"] == {"readings": 2, "expanded": 0, "unaligned": 1}
    assert "2 entities cover no spaCy token" in caplog.text


def test_existing_entities_are_kept_unless_overwritten(nlp, default_predictor):
    keep = spacy.blank("en")
    ruler = keep.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "MY_GENE", "pattern": "BRCA1"}])
    keep.add_pipe("biomtl_ner", config={"overwrite_ents": False})
    doc = keep(SENTENCE)
    assert [(ent.text, ent.label_) for ent in doc.ents] == [
        ("Cisplatin", "Chemical"),
        ("nephrotoxicity", "Disease"),
        ("BRCA1", "MY_GENE"),
    ]
    assert doc._.biomtl_alignment["ents"]["existing"] >= 1
    overwrite = spacy.blank("en")
    overwrite.add_pipe("entity_ruler").add_patterns([{"label": "MY_GENE", "pattern": "BRCA1"}])
    overwrite.add_pipe("biomtl_ner")
    assert [ent.label_ for ent in overwrite(SENTENCE).ents][-1] == _brca1_type(default_predictor)


def test_heads_and_min_score(nlp):
    chosen = spacy.blank("en")
    chosen.add_pipe("biomtl_ner", config={"heads": ["BC5CDR"], "min_score": 0.99})
    doc = chosen(_text(ABSTRACTS[0]))
    assert doc.ents and doc.spans["biomtl"]
    for span in list(doc.ents) + list(doc.spans["biomtl"]):
        assert span._.biomtl_heads == ("BC5CDR",) and span._.biomtl_score >= 0.99
        assert span.label_ in ("Chemical", "Disease")


def test_an_empty_doc(nlp):
    doc = nlp("   ")
    assert list(doc.ents) == [] and list(doc.spans["biomtl"]) == []


@pytest.mark.parametrize("model", ["mtm_cw", "path"])
def test_to_disk_and_spacy_load_round_trip(nlp, tmp_path, model):
    config = {"min_score": 0.5}
    if model == "path":
        config["model"] = str(tagger_path())
    original = spacy.blank("en")
    original.add_pipe("sentencizer")
    original.add_pipe("biomtl_ner", config=config)
    original.to_disk(tmp_path / "pipeline")
    saved = tmp_path / "pipeline" / "biomtl_ner" / "model.tar.gz"
    assert saved.is_file() == (model == "path")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["sentencizer", "biomtl_ner"]
    component = loaded.get_pipe("biomtl_ner")
    assert isinstance(component, BiomtlNer) and component.min_score == 0.5
    assert component.predictor  # loads from the saved copy when there is one
    assert (component._saved_archive == saved) if model == "path" else component._saved_archive is None
    a, b = original(SENTENCE), loaded(SENTENCE)
    assert _spans(a.ents) == _spans(b.ents) and _spans(a.spans["biomtl"]) == _spans(b.spans["biomtl"])
    assert [ent._.biomtl_score for ent in a.ents] == [ent._.biomtl_score for ent in b.ents]


def test_bad_settings_are_clear_errors():
    blank = spacy.blank("en")
    with pytest.raises(ValueError, match="overlap_policy must be one of"):
        blank.add_pipe("biomtl_ner", config={"overlap_policy": "keep_all"})
    with pytest.raises(ValueError, match=r"min_score must be a number in \[0, 1\]"):
        blank.add_pipe("biomtl_ner", config={"min_score": 2})
    blank.add_pipe("biomtl_ner", config={"model": "no/such/model.tar.gz"})
    with pytest.raises(ValueError, match=r"no/such/model.tar.gz: not found \(a model.tar.gz, or a shipped model: \['mtm_cw'\]\)"):
        blank(SENTENCE)
