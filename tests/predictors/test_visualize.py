import json

import pytest

from biomtl_allennlp.visualize import render, to_displacy, type_color
from tests.run_allennlp import run_allennlp


def entity(start, end, type_, score=0.5):
    return {"start": start, "end": end, "type": type_, "score": score, "text": "", "dataset": "d"}


def test_overlaps_keep_the_longest():
    text = "IL-2 receptor deficiency"
    doc = to_displacy(
        {
            "pmid": "1",
            "text": text,
            "entities": [
                entity(0, 4, "Gene/Protein", 0.9),
                entity(0, 13, "Gene/Protein", 0.2),
                entity(5, 24, "Disease", 0.8),
                entity(14, 24, "Disease", 0.9),
                entity(30, 40, "Disease"),  # outside the text: ignored
                {"start": "x", "end": 3, "type": "Disease"},  # unreadable: ignored
                "not an entity",
            ],
        }
    )
    # The longest (5-24) wins over everything it overlaps, across types; 0-4 does not
    # overlap it.
    assert doc["ents"] == [
        {"start": 0, "end": 4, "label": "Gene/Protein"},
        {"start": 5, "end": 24, "label": "Disease"},
    ]
    assert doc["title"] == "pmid: 1"


def test_lenient_entities():
    # No type: "ENTITY"; a null score counts as 0 (the longer 0-3 still wins).
    doc = to_displacy(
        {"text": "abc", "entities": [{"start": 0, "end": 3}, {"start": 0, "end": 1, "type": "X", "score": None}]}
    )
    assert doc["ents"] == [{"start": 0, "end": 3, "label": "ENTITY"}]
    assert doc["title"] is None


def test_page_has_legend_and_escapes(tmp_path, monkeypatch, capsys):
    text = "<b>p53</b> & cisplatin 🧬 α"
    assert text[3:6] == "p53" and text[13:22] == "cisplatin" and text[25] == "α"
    documents = [
        {"id": "x<1>", "text": text, "entities": [entity(3, 6, "Gene/Protein"), entity(13, 22, "Chemical"), entity(25, 26, "Odd")]},
        {"text": "second", "entities": []},
    ]
    lines = [json.dumps(d) for d in documents] + ['{"error": "empty text", "line": "{}"}', "not json", ""]
    path = tmp_path / "entities.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "entities.html"
    run_allennlp(monkeypatch, "visualize", path, "-o", out, "--include-package", "biomtl_allennlp")
    assert "2 documents written" in capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'class="entity-legend"' in page
    for label in ("Gene/Protein", "Chemical", "Odd"):
        assert label in page
    assert type_color("Chemical") in page and type_color("Odd") in page
    assert "&lt;b&gt;" in page and "<b>p53" not in page
    assert "x&lt;1&gt;" in page
    assert "🧬" in page and "α" in page
    assert page.count("<mark") == 3


def test_empty_input_renders():
    assert "(no documents)" in render([])


def test_max_documents_and_help(tmp_path, monkeypatch, capsys):
    path = tmp_path / "entities.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"doc {i}", "entities": []}) for i in range(3)))
    out = tmp_path / "page.html"
    run_allennlp(monkeypatch, "visualize", path, "-o", out, "--max-documents", 2)
    assert "2 documents written" in capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert "doc 1" in page and "doc 2" not in page
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "visualize", "--help")
    assert exit_info.value.code == 0
    assert "displaCy" in capsys.readouterr().out
