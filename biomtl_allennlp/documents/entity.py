"""
`Entity`: one entity mention found in a document, as it travels from the
`biomedical_entities` predictor through the merging of heads
(`biomtl_allennlp.predictors.entity_merging`) to its JSON output, the visualiser and the
PubTator evaluation.
"""
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from biomtl_allennlp.common.errors import InputFormatError

# The document id keys echoed from an input record to its output (the predictor's JSON, a
# BioC document's id), in this order of preference (for the PubTator PMID column too).
ID_KEYS = ("pmid", "id", "doc_id", "document_id", "pmcid")


@dataclass(frozen=True)
class Entity:
    """
    # Parameters

    start : `int`
        Character offset of the first character in the document's text.
    end : `int`
        Character offset just after the last character (`text == document[start:end]`).
    text : `str`
        The mention as it is in the document.
    type : `str`
        The entity type (the head's type, or the common type once mapped).
    dataset : `str`, optional (default = `""`)
        The head (training dataset) that found it; after merging, the best-scoring one
        (`""` for a gold entity read from a file).
    score : `float`, optional (default = `1.0`)
        The head's confidence (the CRF posterior probability of the entity's tags).
    datasets : `Tuple[str, ...]`
        All heads that found this span with this type, sorted; empty before merging.
    concept_id : `str`, optional
        The normalised concept id of a gold entity (a PubTator mention line's sixth column,
        kept verbatim; a BioC annotation's `identifier`); `None` when there is none.
    extra_columns : `Tuple[str, ...]`
        Any further columns of a PubTator mention line, so that writing it back keeps them.
    """

    start: int
    end: int
    text: str
    type: str
    dataset: str = ""
    score: float = 1.0
    datasets: Tuple[str, ...] = ()
    concept_id: Optional[str] = None
    extra_columns: Tuple[str, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        """The predictor's output form: keys `start, end, text, type, dataset, score,
        datasets`, in this order, `datasets` a list."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "type": self.type,
            "dataset": self.dataset,
            "score": self.score,
            "datasets": list(self.datasets),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "Entity":
        """
        Reads `to_json`'s form back. `start`, `end` (integers, or strings of digits) and
        `type` are required; `text` and `dataset` default to `""`, `score` to 1.0 and
        `datasets` to none. Raises `InputFormatError` naming the field that is missing or
        not of its type.
        """
        if not isinstance(value, Mapping):
            raise InputFormatError(f"an entity must be a JSON object, got {value!r}")
        fields: Dict[str, Any] = {}
        for key, convert in (("start", int), ("end", int), ("type", str)):
            if key not in value:
                raise InputFormatError(f"entity without '{key}': {dict(value)!r}")
            try:
                fields[key] = convert(value[key])
            except (TypeError, ValueError):
                raise InputFormatError(
                    f"entity '{key}' must be {convert.__name__}, got {value[key]!r}"
                ) from None
        try:
            score = float(value.get("score", 1.0))
        except (TypeError, ValueError):
            raise InputFormatError(
                f"entity 'score' must be a number, got {value['score']!r}"
            ) from None
        datasets = value.get("datasets") or ()
        if not isinstance(datasets, (list, tuple)) or not all(isinstance(d, str) for d in datasets):
            raise InputFormatError(f"entity 'datasets' must be a list of names, got {datasets!r}")
        return cls(
            start=fields["start"],
            end=fields["end"],
            text=str(value.get("text", "")),
            type=fields["type"],
            dataset=str(value.get("dataset", "")),
            score=score,
            datasets=tuple(datasets),
        )
