"""
End-to-end evaluation on raw PubTator documents: the `biomedical_entities` predictor tags
the raw title + abstract of every gold document (its own sentence splitting and
tokenization, all heads, entities merged), and the predicted entities are scored against
the gold mentions by exact character offsets.

Types: gold and predicted types are both mapped to common types with the predictor's type
table (`DEFAULT_TYPE_MAP`, which maps NCBI's SpecificDisease / DiseaseClass / Modifier /
CompositeMention to Disease and keeps BC5CDR's Chemical and Disease), plus `--type-map`
entries. Only the common types that occur in the gold file are scored (or those given with
`--types`): a model with a gene head is not penalised on BC5CDR for its genes; predicted
entities of other types are counted under `ignored_predicted_types`.

A predicted entity is a true positive when a gold mention of its document has the same
start, end and common type. Repeated identical mentions count once on either side.
Precision, recall and F1 are given per type and micro-averaged over the scored types
(`overall`). Throughput is the number of tokens tagged per second of prediction (archive
loading excluded).

Command line (`biomtl_allennlp/commands/pubtator_eval.py`):

    allennlp pubtator-eval ARCHIVE GOLD.PubTator \\
        [--type-map '{"DNA": "Gene/Protein"}'] [--types Chemical Disease] \\
        [--output-file metrics.json] [--batch-size 64] [--cuda-device -1] \\
        [--predictor-args '{"overlap_policy": "keep_all"}']
"""
import time
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from biomtl_allennlp.common.scoring import precision_recall_f1
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.predictors.entity_merging import TypeMapper

# (document id, start, end, common type)
Mention = Tuple[str, int, int, str]


def gold_mentions(documents: Iterable[Document], type_mapper: TypeMapper) -> Set[Mention]:
    return {
        (document.pmid, annotation.start, annotation.end, type_mapper(annotation.type))
        for document in documents
        for annotation in document.entities
    }


def predicted_mentions(
    predictions: Mapping[str, Iterable[Union[Entity, Mapping[str, Any]]]],
    type_mapper: Optional[TypeMapper] = None,
) -> Set[Mention]:
    """`predictions`: document id -> entities (`Entity`s, or their JSON form, read with
    `Entity.from_json`). `type_mapper`: for entities of dataset types; `None` for the
    predictor's output, whose types are already common types (mapping them again could
    move them: `{"GENE": "Protein"}` with the default `protein -> Gene/Protein`)."""
    mentions: Set[Mention] = set()
    for pmid, entities in predictions.items():
        for item in entities:
            entity = item if isinstance(item, Entity) else Entity.from_json(item)
            entity_type = type_mapper(entity.type) if type_mapper is not None else entity.type
            mentions.add((pmid, entity.start, entity.end, entity_type))
    return mentions


def score_mentions(
    gold: Set[Mention], predicted: Set[Mention], types: Optional[Sequence[str]] = None
) -> Dict[str, Any]:
    """
    Exact-match scores per type and overall (micro) over `types` (default: the types of
    `gold`). Returns `{"per_type": {type: {precision, recall, f1, tp, fp, fn}}, "overall":
    {...}, "ignored_predicted_types": {type: count}}`.
    """
    scored = sorted(set(types) if types is not None else {m[3] for m in gold})
    per_type: Dict[str, Dict[str, float]] = {}
    totals = Counter()
    for entity_type in scored:
        gold_t = {m for m in gold if m[3] == entity_type}
        predicted_t = {m for m in predicted if m[3] == entity_type}
        counts = {
            "tp": len(gold_t & predicted_t),
            "fp": len(predicted_t - gold_t),
            "fn": len(gold_t - predicted_t),
        }
        totals.update(counts)
        per_type[entity_type] = precision_recall_f1(**counts)
    ignored = Counter(m[3] for m in predicted if m[3] not in set(scored))
    return {
        "per_type": per_type,
        "overall": precision_recall_f1(totals["tp"], totals["fp"], totals["fn"]),
        "ignored_predicted_types": dict(sorted(ignored.items())),
    }


def predict_documents(
    predictor, documents: Sequence[Document], batch_size: int = 64, field: str = "entities"
) -> Tuple[Dict[str, List[Entity]], Dict[str, float]]:
    """
    Runs a `biomedical_entities` predictor on the raw text of `documents`,
    `batch_size` documents per `predict_batch_json` call.

    # Returns

    `(predictions, throughput)`: document id -> `Entity`s of the output's `field`
    (`"entities"`, or `"alternatives"` for every head's reading), and `{"documents",
    "tokens", "seconds", "tokens_per_second"}` of the prediction calls.
    """
    predictions: Dict[str, List[Entity]] = {}
    tokens_before = predictor.tokens_processed
    seconds = 0.0
    for first in range(0, len(documents), batch_size):
        batch = documents[first : first + batch_size]
        inputs = [d.to_json() for d in batch]
        started = time.perf_counter()
        outputs = predictor.predict_batch_json(inputs)
        seconds += time.perf_counter() - started
        for document, output in zip(batch, outputs):
            if "error" in output:
                raise ValueError(f"PMID {document.pmid}: the predictor failed: {output['error']}")
            if output["text"] != document.text:
                raise ValueError(f"PMID {document.pmid}: the predictor changed the text")
            predictions.setdefault(document.pmid, []).extend(
                Entity.from_json(entity) for entity in output[field]
            )
    tokens = predictor.tokens_processed - tokens_before
    throughput = {
        "documents": len(documents),
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
    }
    return predictions, throughput


def evaluate(
    predictor,
    gold_documents: Sequence[Document],
    type_map: Optional[Mapping[str, str]] = None,
    types: Optional[Sequence[str]] = None,
    batch_size: int = 64,
) -> Dict[str, Any]:
    """Predicts `gold_documents` with `predictor` and scores them (see the module docs)."""
    type_mapper = TypeMapper(type_map)
    predictions, throughput = predict_documents(predictor, gold_documents, batch_size)
    metrics = score_mentions(
        gold_mentions(gold_documents, type_mapper),
        predicted_mentions(predictions),
        types,
    )
    metrics["throughput"] = throughput
    return metrics
