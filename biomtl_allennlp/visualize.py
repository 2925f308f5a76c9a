"""
Renders the output of the `biomedical_entities` predictor (JSON lines) as an HTML page with
the entities highlighted by type, using spaCy's displaCy in manual mode, with a legend.

    allennlp visualize entities.jsonl -o entities.html [--max-documents N]

(`biomtl_allennlp/commands/visualize.py`.) displaCy's entity style cannot show overlapping
entities: where entities overlap, the longest is shown (ties: higher score, then earlier).
Error lines and lines without `text` / `entities` are skipped (and counted on stderr), and
so are entities that `Entity.from_json` cannot read or whose offsets fall outside the text.
"""
import hashlib
import html
import re
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.entity import ID_KEYS, Entity
from biomtl_allennlp.documents.json_lines import read_outputs
from biomtl_allennlp.predictors.entity_merging import resolve_overlaps

# Colours of the common types of `DEFAULT_TYPE_MAP`; other types get one from `_PALETTE`.
TYPE_COLORS: Dict[str, str] = {
    "Gene/Protein": "#7aecec",
    "Chemical": "#feca74",
    "Disease": "#ff9561",
    "CellLine": "#c887fb",
    "CellType": "#bfe1d9",
    "DNA": "#aa9cfc",
    "RNA": "#e4e7d2",
    "Organism": "#bfeeb7",
}
_PALETTE = ("#ddd", "#f0d0ff", "#ffeb80", "#9cc9cc", "#bfeeb7", "#e1c8a8", "#f7a8b8", "#a8d1f7")


def type_color(entity_type: str) -> str:
    """A fixed colour per type (known types: `TYPE_COLORS`; others: hashed into a palette)."""
    if entity_type in TYPE_COLORS:
        return TYPE_COLORS[entity_type]
    digest = hashlib.md5(entity_type.encode("utf-8", "surrogatepass")).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def to_displacy(document: Dict[str, Any]) -> Dict[str, Any]:
    """One document in displaCy's manual format, overlaps resolved by keeping the longest."""
    text = document["text"]
    entities = []
    for item in document["entities"]:
        if not isinstance(item, dict):
            continue
        # Lenient on hand-made input: no type is "ENTITY", a null score 0.
        item = {"type": "ENTITY", **item, "score": item.get("score", 1.0) or 0.0}
        try:
            entity = Entity.from_json(item)
        except InputFormatError:
            continue
        if 0 <= entity.start < entity.end <= len(text):
            entities.append(entity)
    shown = resolve_overlaps(entities, policy="longest", scope="all")
    title = next(
        (html.escape(f"{key}: {document[key]}") for key in ID_KEYS if key in document), None
    )
    return {
        "text": text,
        "ents": [{"start": e.start, "end": e.end, "label": e.type} for e in shown],
        "title": title,
    }


def legend_html(types: Sequence[str]) -> str:
    items = "".join(
        f'<span style="background: {type_color(t)}; padding: 0.25em 0.6em; margin: 0 0.5em '
        f'0.5em 0; border-radius: 0.35em; display: inline-block; font-weight: bold; '
        f'font-size: 0.85em">{html.escape(t)}</span>'
        for t in types
    )
    return (
        '<div class="entity-legend" style="margin-bottom: 2rem"><strong>Entity types:</strong> '
        f"{items or '(none)'}</div>"
    )


def render(documents: List[Dict[str, Any]]) -> str:
    """The HTML page of `documents` (predictor outputs)."""
    from spacy import displacy

    parsed = [to_displacy(document) for document in documents]
    types = sorted({entity["label"] for doc in parsed for entity in doc["ents"]})
    colors = {entity_type: type_color(entity_type) for entity_type in types}
    if not parsed:
        parsed = [{"text": "(no documents)", "ents": [], "title": None}]
    page = displacy.render(
        parsed,
        style="ent",
        manual=True,
        page=True,
        jupyter=False,
        options={"colors": colors, "ents": types} if types else {"colors": colors},
    )
    page = page.replace("<title>displaCy</title>", "<title>Biomedical entities</title>", 1)
    body = re.search(r"<body[^>]*>", page)
    if body is None:  # displaCy's page template changed: put the legend first
        return legend_html(types) + page
    return page[: body.end()] + legend_html(types) + page[body.end():]


def visualize_file(
    input_file: str, output_file: str, max_documents: Optional[int] = None
) -> Tuple[int, int]:
    """
    Renders the predictor output in `input_file` (`"-"`: stdin) as HTML in `output_file`,
    at most `max_documents` documents. Returns the numbers of documents written and of
    lines skipped.
    """
    if input_file == "-":
        documents, skipped = read_outputs(sys.stdin)
    else:
        with open(input_file, encoding="utf-8") as handle:
            documents, skipped = read_outputs(handle)
    if max_documents is not None:
        documents = documents[:max_documents]
    page = render(documents)
    with open(output_file, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(page)
    return len(documents), skipped
