"""
`biomtl_ner`, a spaCy pipeline component that tags a `Doc` with a `multitask_crf_tagger`
(the `biomedical_entities` predictor), every head at once:

    import spacy
    nlp = spacy.blank("en")
    nlp.add_pipe("biomtl_ner")            # the shipped model, offline
    doc = nlp("Cisplatin induced nephrotoxicity in BRCA1 carriers.")
    [(ent.text, ent.label_, ent._.biomtl_score) for ent in doc.ents]
    [(span.text, span.label_, span._.biomtl_heads) for span in doc.spans["biomtl"]]

spaCy finds the factory through the `spacy_factories` entry point of `setup.py`, so nothing
needs importing first (after the project's editable install).

What it sets:

- `doc.ents`: the predictor's default merged output (see `predictor_readings`), mapped onto
  the `Doc`'s tokens. spaCy's entities cannot overlap, whereas the predictor keeps
  overlapping entities of different types (a chemical inside a disease name): among those,
  `overlap_policy` picks (the highest score, or the longest), and the others stay in the
  span group only.
- `doc.spans[span_key]` (default `"biomtl"`): every head's reading, overlapping ones
  included, one span per mention and type (identical readings of several heads are one
  span, with all the heads).
- Span extensions, on the spans of both: `span._.biomtl_score` (the CRF posterior of the
  mention, the best head's), `span._.biomtl_heads` (the heads that found it),
  `span._.biomtl_head` (the best-scoring head), `span._.biomtl_offsets` (the model's own
  `(start, end)` character offsets, which differ from the span's when it was expanded).
  They are stored per `(start, end, label)` in `doc.user_data`, so spans of the same
  tokens with different types keep their own values.
- `doc._.biomtl_alignment`: what the mapping onto spaCy's tokens did, as counts (below).

Tokens: the model tokenizes `doc.text` with its own tokenizer, as it was trained; its
entities are mapped onto the `Doc` by character offsets with `doc.char_span(...,
alignment_mode="expand")`. An entity that does not fall on spaCy token boundaries (`IL-2`
when spaCy keeps `IL-2R` one token) becomes the smallest span of tokens that covers it,
counted under `expanded`; one that no token covers (not seen in practice: every
non-space character is in a token) is counted under `unaligned` with a warning. Entities
left out of `doc.ents` are counted too (`overlapping`; `existing` for those that overlap
entities already in the `Doc` when `overwrite_ents` is false).

`nlp.pipe(texts, batch_size=...)` tags each batch of documents with one
`predict_batch_json` call. `nlp.to_disk` saves the component's settings in the pipeline's
config; a model given by path is copied into the component's folder, which `spacy.load`
then uses, so a saved pipeline does not depend on the original file. An archive is loaded
once per process (and device), however many components or pipelines use it.
"""
import functools
import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.predictors.entity_merging import merge_identical

logger = logging.getLogger(__name__)

FACTORY_NAME = "biomtl_ner"
# The archive's file name inside the component's folder of a saved pipeline.
SAVED_ARCHIVE = "model.tar.gz"
# `doc.user_data[USER_DATA_KEY]`: {"spans": {"start:end:label": reading}, "alignment": ...}
USER_DATA_KEY = "biomtl_ner"
ENTS_POLICIES = ("highest_score", "longest")

# Archives loaded in this process, by (SHA-256 of the file, cuda device): a pipeline saved
# with a copy of an archive that is already loaded uses the loaded one.
_ARCHIVES: Dict[Tuple[str, int], Any] = {}


@dataclass
class Readings:
    """What the predictor says about one text: `merged`, its default merged output (one
    entity per mention and type; entities of different types may overlap), `every`, every
    head's reading, and `error` when the text could not be tagged."""

    merged: List[Entity] = field(default_factory=list)
    every: List[Entity] = field(default_factory=list)
    error: Optional[str] = None


def predictor_readings(predictor: Any, texts: Sequence[str]) -> List[Readings]:
    """
    Both readings of the component's predictor (made with `alternatives=True`) for `texts`,
    with one `predict_batch_json` call (one forward pass): its `entities` are its default
    merged output, its `"alternatives"` every head's entities (identical ones of several
    heads are merged here, `merge_identical`).
    """
    outputs = predictor.predict_batch_json([{"text": text} for text in texts])
    readings = []
    for output in outputs:
        if "error" in output:
            readings.append(Readings(error=str(output["error"])))
            continue
        merged = [Entity.from_json(entity) for entity in output["entities"]]
        every = merge_identical(Entity.from_json(entity) for entity in output["alternatives"])
        readings.append(Readings(merged=merged, every=every))
    return readings


def resolve_model(model: str) -> Path:
    """The archive file of `model`: a shipped model's name (`mtm_cw`) or a `model.tar.gz`
    path (`resolve_archive`; a folder is refused, as the pipeline saves the file)."""
    from biomtl_allennlp.pretrained import resolve_archive

    archive = Path(resolve_archive(model))
    if not archive.is_file():
        raise InputFormatError(f"{FACTORY_NAME}: the model must be a model.tar.gz file, not a folder", model)
    return archive


def _load_predictor(archive_path: Path, cuda_device: int, predictor_args: Dict[str, Any]) -> Any:
    from allennlp.predictors import Predictor

    import biomtl_allennlp  # noqa: F401  (registers the components)
    from biomtl_allennlp.common.archives import load_archive_safely
    from biomtl_allennlp.pretrained import archive_overrides

    digest = hashlib.sha256()
    with open(archive_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    key = (digest.hexdigest(), cuda_device)
    if key not in _ARCHIVES:
        _ARCHIVES[key] = load_archive_safely(
            str(archive_path), cuda_device=cuda_device, overrides=archive_overrides(cuda_device)
        )
    return Predictor.from_archive(_ARCHIVES[key], "biomedical_entities", extra_args=predictor_args)


def _key(start: int, end: int, label: str) -> str:
    return f"{start}:{end}:{label}"


def _reading_field(span: Span, name: str) -> Any:
    spans = span.doc.user_data.get(USER_DATA_KEY, {}).get("spans", {})
    reading = spans.get(_key(span.start_char, span.end_char, span.label_))
    if reading is None:
        return None
    value = reading[name]
    return tuple(value) if isinstance(value, list) else value


def _alignment(doc: Doc) -> Optional[Dict[str, Dict[str, int]]]:
    return doc.user_data.get(USER_DATA_KEY, {}).get("alignment")


def register_extensions() -> None:
    """The `Span` and `Doc` extension attributes of the component (idempotent)."""
    for name, reading_field in (
        ("biomtl_score", "score"),
        ("biomtl_heads", "heads"),
        ("biomtl_head", "head"),
        ("biomtl_offsets", "offsets"),
    ):
        if not Span.has_extension(name):
            Span.set_extension(name, getter=functools.partial(_reading_field, name=reading_field))
    if not Doc.has_extension("biomtl_alignment"):
        Doc.set_extension("biomtl_alignment", getter=_alignment)


class BiomtlNer:
    """
    The `biomtl_ner` component (see the module docstring). Made by spaCy from its config:
    `nlp.add_pipe("biomtl_ner", config={...})`.

    # Parameters

    nlp : `Language`
    name : `str`
        The component's name in the pipeline.
    model : `str`, optional (default = `"mtm_cw"`)
        A shipped model's name or the path of a `multitask_crf_tagger` archive. Loaded at
        the first document (a name that is neither fails there).
    heads : `List[str]`, optional (default = `None`: all)
        Only these heads' entities (the predictor's `heads`).
    min_score : `float`, optional (default = `0.0`)
        Entities with a lower score are left out of both `doc.ents` and the span group.
    overlap_policy : `str`, optional (default = `"highest_score"`)
        `"highest_score"` or `"longest"`: the predictor's merge among overlapping entities
        of the same type, and the choice among overlapping entities of different types for
        `doc.ents` (all of them stay in the span group).
    overwrite_ents : `bool`, optional (default = `True`)
        Replace the `Doc`'s entities; `False` keeps those already set (by an earlier
        component) and adds the tagger's entities that do not overlap them.
    span_key : `str`, optional (default = `"biomtl"`)
        The key of the span group with every head's reading.
    cuda_device : `int`, optional (default = `-1`)
        The GPU to tag on, -1 for CPU.
    """

    def __init__(
        self,
        nlp: Language,
        name: str = FACTORY_NAME,
        model: str = "mtm_cw",
        heads: Optional[List[str]] = None,
        min_score: float = 0.0,
        overlap_policy: str = "highest_score",
        overwrite_ents: bool = True,
        span_key: str = "biomtl",
        cuda_device: int = -1,
    ) -> None:
        if overlap_policy not in ENTS_POLICIES:
            raise ValueError(
                f"{FACTORY_NAME}: overlap_policy must be one of {ENTS_POLICIES} (spaCy's "
                f"doc.ents cannot overlap; every reading is in doc.spans), got {overlap_policy!r}"
            )
        if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1:
            raise ValueError(f"{FACTORY_NAME}: min_score must be a number in [0, 1], got {min_score!r}")
        if heads is not None and (
            isinstance(heads, str) or not heads or not all(isinstance(h, str) for h in heads)
        ):
            raise ValueError(f"{FACTORY_NAME}: heads must be a non-empty list of head names, got {heads!r}")
        if not isinstance(span_key, str) or not span_key:
            raise ValueError(f"{FACTORY_NAME}: span_key must be a non-empty string, got {span_key!r}")
        register_extensions()
        self.name = name
        self.model = model
        self.heads = list(heads) if heads is not None else None
        self.min_score = float(min_score)
        self.overlap_policy = overlap_policy
        self.overwrite_ents = bool(overwrite_ents)
        self.span_key = span_key
        self.cuda_device = cuda_device
        # Set by `from_disk` when the saved pipeline holds its own copy of the archive.
        self._saved_archive: Optional[Path] = None
        self._predictor: Any = None

    @property
    def predictor(self) -> Any:
        """The `biomedical_entities` predictor, loaded at first use."""
        if self._predictor is None:
            archive = self._saved_archive or resolve_model(self.model)
            self._predictor = _load_predictor(
                archive,
                self.cuda_device,
                {
                    "alternatives": True,
                    "heads": self.heads,
                    "min_score": self.min_score,
                    "overlap_policy": self.overlap_policy,
                },
            )
        return self._predictor

    # ------------------------------------------------------------------ tagging

    def __call__(self, doc: Doc) -> Doc:
        self._annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for docs in minibatch(stream, size=batch_size):
            self._annotate(docs)
            yield from docs

    def _annotate(self, docs: List[Doc]) -> None:
        todo = [doc for doc in docs if doc.text.strip()]
        readings = predictor_readings(self.predictor, [doc.text for doc in todo]) if todo else []
        found = {id(doc): reading for doc, reading in zip(todo, readings)}
        for doc in docs:
            self._set(doc, found.get(id(doc), Readings()))

    def _set(self, doc: Doc, readings: Readings) -> None:
        table: Dict[str, Dict[str, Any]] = {}
        alignment = {
            "spans": {"readings": len(readings.every), "expanded": 0, "unaligned": 0},
            "ents": {"entities": len(readings.merged), "expanded": 0, "unaligned": 0, "overlapping": 0, "existing": 0},
        }
        if readings.error is not None:
            logger.warning("%s: a document could not be tagged: %s", self.name, readings.error)
            alignment["error"] = readings.error  # type: ignore[assignment]

        def align(entities: List[Entity], counts: Dict[str, int]) -> List[Tuple[Span, Entity]]:
            aligned = []
            for entity in entities:
                span = doc.char_span(entity.start, entity.end, label=entity.type, alignment_mode="expand")
                if span is None:
                    counts["unaligned"] += 1
                    continue
                if (span.start_char, span.end_char) != (entity.start, entity.end):
                    counts["expanded"] += 1
                _remember(table, span, entity)
                aligned.append((span, entity))
            return aligned

        group: Dict[Tuple[int, int, str], Span] = {}
        for span, _ in align(readings.every, alignment["spans"]):
            group.setdefault((span.start, span.end, span.label_), span)
        ents = align(readings.merged, alignment["ents"])
        unaligned = alignment["spans"]["unaligned"] + alignment["ents"]["unaligned"]
        if unaligned:
            logger.warning("%s: %d entities cover no spaCy token; left out", self.name, unaligned)
        doc.user_data[USER_DATA_KEY] = {"spans": table, "alignment": alignment}
        doc.spans[self.span_key] = [group[key] for key in sorted(group)]

        taken = set()
        existing = [] if self.overwrite_ents else list(doc.ents)
        for ent in existing:
            taken.update(range(ent.start, ent.end))
        chosen = []
        for span, _ in sorted(ents, key=self._rank):
            tokens = range(span.start, span.end)
            if any(token in taken for token in tokens):
                alignment["ents"]["existing" if any(_overlaps(span, e) for e in existing) else "overlapping"] += 1
                continue
            taken.update(tokens)
            chosen.append(span)
        doc.ents = sorted(existing + chosen, key=lambda span: span.start)

    def _rank(self, item: Tuple[Span, Entity]) -> Tuple[Any, ...]:
        span, entity = item
        length = span.end_char - span.start_char
        if self.overlap_policy == "longest":
            return (-length, -entity.score, span.start, span.label_)
        return (-entity.score, -length, span.start, span.label_)

    # ------------------------------------------------------------------ serialization

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        """Copies a model given by path (not a shipped one) into `path`, so the saved
        pipeline holds it."""
        from biomtl_allennlp.pretrained import SHIPPED_MODELS

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self._saved_archive is not None:
            source: Optional[Path] = self._saved_archive
        elif self.model in SHIPPED_MODELS:
            source = None
        else:
            source = resolve_model(self.model)
        if source is not None and source.resolve() != (path / SAVED_ARCHIVE).resolve():
            shutil.copyfile(source, path / SAVED_ARCHIVE)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "BiomtlNer":
        """Uses the archive saved by `to_disk`, if there is one."""
        saved = Path(path) / SAVED_ARCHIVE
        if saved.is_file():
            self._saved_archive = saved
            self._predictor = None
        return self


def _remember(table: Dict[str, Dict[str, Any]], span: Span, entity: Entity) -> None:
    """Stores the extension values of `span`; two entities on the same span and label (after
    expansion) share them: the best score and its head, the union of the heads."""
    key = _key(span.start_char, span.end_char, span.label_)
    heads = list(entity.datasets or (entity.dataset,))
    reading = {"score": entity.score, "head": entity.dataset, "heads": heads, "offsets": [entity.start, entity.end]}
    current = table.get(key)
    if current is not None:
        union = sorted(set(current["heads"]) | set(heads))
        if current["score"] >= entity.score:
            reading = dict(current)
        reading["heads"] = union
    table[key] = reading


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


@Language.factory(
    FACTORY_NAME,
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": "mtm_cw",
        "heads": None,
        "min_score": 0.0,
        "overlap_policy": "highest_score",
        "overwrite_ents": True,
        "span_key": "biomtl",
        "cuda_device": -1,
    },
)
def make_biomtl_ner(
    nlp: Language,
    name: str,
    model: str,
    heads: Optional[List[str]],
    min_score: float,
    overlap_policy: str,
    overwrite_ents: bool,
    span_key: str,
    cuda_device: int,
) -> BiomtlNer:
    """The factory of `biomtl_ner` (the `spacy_factories` entry point)."""
    return BiomtlNer(
        nlp,
        name,
        model=model,
        heads=heads,
        min_score=min_score,
        overlap_policy=overlap_policy,
        overwrite_ents=overwrite_ents,
        span_key=span_key,
        cuda_device=cuda_device,
    )
