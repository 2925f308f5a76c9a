"""
Cross-corpus evaluation on a token-level corpus (Crichton et al. TSV): how the
`biomedical_entities` predictor does on raw text of a corpus, as a user's text would reach
it. Each sentence's tokens joined by single spaces is one document; its gold entities are
the corpus's spans as character offsets into that text, their types mapped to common types
(`DEFAULT_TYPE_MAP` plus `--type-map`). The predictor tags the text with its own sentence
splitting and tokenization, and is scored by exact start, end and common type
(`pubtator_eval.score_mentions`) three ways from one pass over the text:

- `merged`: the predictor's output with its settings (by default the consensus of all
  heads);
- `union`: every head's entities (`merge="union"`);
- `heads`: each head alone (what `heads=[head]` outputs), on the types it produces.

Only the common types of the gold corpus are scored (or `types`); each row also counts the
predicted entities of other types, which the corpus does not annotate.

Command line: `allennlp corpus-eval ARCHIVE CORPUS.tsv` (`biomtl_allennlp/commands/corpus_eval.py`).
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

from biomtl_allennlp.common.tags import bioul_to_spans
from biomtl_allennlp.data.crichton_tsv import read_sentences
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.data.text_lines import PathLike
from biomtl_allennlp.evaluation.pubtator_eval import (
    gold_mentions,
    predict_documents,
    predicted_mentions,
    score_mentions,
)
from biomtl_allennlp.predictors.entity_merging import TypeMapper


def corpus_documents(path: PathLike) -> List[Document]:
    """
    The sentences of a Crichton-format file as documents: id `s<N>` (N counts sentences
    from 1), text the tokens joined by single spaces, annotations the gold spans (dataset
    types) with character offsets into that text.
    """
    documents = []
    for number, (words, tags) in enumerate(read_sentences(path), start=1):
        starts, offset = [], 0
        for word in words:
            starts.append(offset)
            offset += len(word) + 1
        text = " ".join(words)
        annotations = []
        for span in bioul_to_spans(tags):
            start, end = starts[span.start], starts[span.end] + len(words[span.end])
            annotations.append(Entity(start, end, text[start:end], span.label))
        documents.append(Document.from_parts(text, "", {"pmid": f"s{number}"}, entities=annotations))
    return documents


def evaluate_corpus(
    predictor,
    documents: Sequence[Document],
    type_map: Optional[Mapping[str, str]] = None,
    types: Optional[Sequence[str]] = None,
    batch_size: int = 64,
) -> Dict[str, Any]:
    """
    Tags `documents` (from `corpus_documents`) once with every head's reading kept (it
    turns the predictor's `alternatives` on), and scores the merged output, the union and
    each head alone (see the module docs).

    # Returns

    `{"merged": metrics, "union": metrics, "heads": {head: metrics}, "types_of_heads":
    {common type: [heads]}, "sentences": n, "throughput": {...}}`, each metrics as
    `score_mentions` gives it; a head's metrics score only the types it produces.
    """
    type_mapper = TypeMapper(type_map)
    gold = gold_mentions(documents, type_mapper)
    if types is None:
        types = sorted({mention[3] for mention in gold})
    extractor = predictor.extractor
    extractor.alternatives = True
    readings, throughput = predict_documents(predictor, documents, batch_size, field="alternatives")
    for document in documents:
        readings.setdefault(document.pmid, [])

    def scores(heads: Optional[Sequence[str]] = None, merge: Optional[str] = None, scored=types):
        merged = {
            pmid: extractor.merge_heads(entities, heads, merge, types_mapped=True)
            for pmid, entities in readings.items()
        }
        return score_mentions(gold, predicted_mentions(merged), scored)

    types_of_heads: Dict[str, List[str]] = {}
    for head in extractor.heads:
        for entity_type in {type_mapper(t) for t in extractor.types_of_head[head]}:
            types_of_heads.setdefault(entity_type, []).append(head)
    heads = {}
    for head in extractor.heads:
        produced = [t for t in types if head in types_of_heads.get(t, [])]
        if produced:
            heads[head] = scores([head], scored=produced)
    return {
        "merged": scores(),
        "union": scores(merge="union"),
        "heads": heads,
        "types_of_heads": {t: sorted(types_of_heads[t]) for t in sorted(types_of_heads)},
        "sentences": len(documents),
        "throughput": throughput,
    }


def format_table(metrics: Mapping[str, Any]) -> str:
    """A Markdown table: per scored type, F1 (precision / recall) of the merged output, the
    union and the best head alone (named), and how many heads produce the type."""
    rows = [
        "| type | heads | merged | union | best head alone |",
        "|---|---|---|---|---|",
    ]

    def cell(values: Mapping[str, float]) -> str:
        return f"{100 * values['f1']:.2f} ({100 * values['precision']:.1f} / {100 * values['recall']:.1f})"

    for entity_type, merged in metrics["merged"]["per_type"].items():
        candidates = {
            head: values["per_type"][entity_type]
            for head, values in metrics["heads"].items()
            if entity_type in values["per_type"]
        }
        if candidates:
            best = max(candidates, key=lambda head: candidates[head]["f1"])
            best_cell = f"{cell(candidates[best])} {best}"
        else:
            best_cell = "-"
        rows.append(
            f"| {entity_type} | {len(candidates)} | {cell(merged)} | "
            f"{cell(metrics['union']['per_type'][entity_type])} | {best_cell} |"
        )
    return "\n".join(rows)
