"""
`EntityExtractor`: finding the entities of documents with a `multitask_crf_tagger`, the one
component behind the `biomedical_entities` predictor (and so `allennlp predict`,
`tag-file`, `tag-corpus`, the spaCy component and the evaluations): sentence windows ->
the model (every head on every window, in one forward pass) -> each head's spans with
their scores -> the merge of the heads (`entity_merging`). Registers nothing.
"""
import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Batch, DatasetReader, Instance
from allennlp.data.tokenizers import Token
from allennlp.nn import util

from biomtl_allennlp.common.datasets import label_namespace
from biomtl_allennlp.common.tags import bioul_to_spans, split_tag
from biomtl_allennlp.data.tokenizers import BiomedicalSentenceSplitter, BiomedicalTokenizer, tokenize_document
from biomtl_allennlp.documents.document import Document
from biomtl_allennlp.documents.entity import Entity
from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger
from biomtl_allennlp.predictors.entity_merging import (
    DEFAULT_COEXIST_SCORE,
    DEFAULT_MIN_VOTES,
    DEFAULT_SPAN_TYPE_PRIOR,
    MERGE_RULES,
    OVERLAP_POLICIES,
    OVERLAP_SCOPES,
    TypeMapper,
    consensus_merge,
    heads_per_type,
    merge_entities,
)

logger = logging.getLogger(__name__)

# Per window, in text order: (tokens, {head: BIOUL tags}).
Sentence = Tuple[List[str], Dict[str, List[str]]]


@dataclass
class Extraction:
    """What `EntityExtractor.extract` finds in one document: its merged `entities`; every
    head's entities (common types, after `min_score`), with `alternatives=True`; each
    window's tokens and tags, with `sentences=True`; or the `error` that stopped it."""

    entities: List[Entity] = field(default_factory=list)
    alternatives: List[Entity] = field(default_factory=list)
    sentences: List[Sentence] = field(default_factory=list)
    error: Optional[str] = None


class EntityExtractor:
    """
    Every head (one per training dataset) tags every sentence in the same forward pass, and
    the entities of all heads are mapped to common types and merged. An entity's score is
    the CRF posterior probability that its tokens carry exactly the predicted tags (B-..I-..L-
    or U-), by forward-backward on the head's constrained CRF.

    Merging the heads (`merge`): every head tags every sentence with its own corpus's types,
    so one mention may come out of several heads, with one type or several (`WT1` as a gene
    by the gene heads and as a chemical by a chemical head). The default
    `merge="consensus"` (`entity_merging.consensus_merge`): a span is kept for a type when
    the heads producing that type vote for it enough (the sum of their scores, at least
    `min_votes`; a type only one head produces is kept as that head gives it), and of
    types that one corpus annotates together (gene or chemical) a span keeps the
    best-supported one; types no corpus told apart (Anatomy and CellType) may share it.
    `merge="union"` keeps every head's entities (identical spans of one type merged).
    Chosen on the leave-corpora-out protocol of `docs/new_text.md`, where the union falls
    below the best head on new text. With `alternatives=True` every head's reading is kept
    too.

    Overlapping entities: identical spans of the same common type from several heads are
    always merged. The default `overlap_policy="highest_score"` with
    `overlap_scope="type"` then keeps, among overlapping entities of the same type, the
    one whose exact boundaries the CRF is most confident about: two heads that disagree
    about a mention's extent (`IL-2` vs `IL-2 receptor`) give two competing readings of
    the same mention, and the posterior of the exact span is a direct measure of which
    reading the model supports, whereas preferring the longest favours over-extended
    spans. Entities of different types may overlap (a chemical inside a disease name,
    a gene inside a cell-line name are real in biomedical text, and each head was trained
    on a corpus annotating only its own types), so by default they are all kept; use
    `overlap_scope="all"` for flat, non-overlapping output.

    A window whose batch fails is tagged alone; a window that still fails gives its
    document an `error` (the other documents are tagged as usual).

    # Parameters

    model : `MultiTaskCrfTagger`
    dataset_reader : `DatasetReader`
        The archive's `multitask_ner` reader (for `text_to_instance` and its indexers).
    type_map : `Dict[str, str]`, optional (default = `None`)
        Dataset entity type -> common type, added to `DEFAULT_TYPE_MAP` (GENE, protein ->
        `Gene/Protein`; DNA, RNA kept; Chemical; Disease and NCBI's disease classes ->
        `Disease`; cell_line -> `CellLine`; cell_type -> `CellType`); keys match
        case-insensitively; unknown types are kept as they are.
    overlap_policy : `str`, optional (default = `"highest_score"`)
        `"keep_all"`, `"longest"` or `"highest_score"`, see above.
    overlap_scope : `str`, optional (default = `"type"`)
        `"type"`: only entities of the same common type compete; `"all"`: all do.
    min_score : `float`, optional (default = `0.0`)
        Entities with a lower score are dropped (before overlap resolution).
    split_hyphens : `bool`, optional (default = `True`)
        `BiomedicalTokenizer`'s option: `True` for models trained on BC2GM / BC4CHEMD /
        BC5CDR / NCBI-disease style tokens, `False` for JNLPBA-only models.
    max_sentence_tokens : `int`, optional (default = `200`)
        Longer sentences are cut into windows (see `tokenize_document`).
    sentence_batch_size : `int`, optional (default = `64`)
        The sentences of all documents of an `extract` call are sorted by length and
        tagged in batches of this many.
    heads : `List[str]`, optional (default = `None`: all)
        Only these heads' entities (and tags) are output, e.g. `["NCBI-disease"]` for
        diseases in NCBI's conventions alone. Every head is still computed. One head's
        output is that head's entities whatever `merge` is.
    merge : `str`, optional (default = `"consensus"`)
        `"consensus"` or `"union"`, see above.
    min_votes : `Dict[str, float]`, optional (default = `None`: `DEFAULT_MIN_VOTES`)
        The consensus rule's minimum votes (sum of the agreeing heads' scores) per common
        type (`"*"`: other types; keys the model's common types): 0 keeps every head's
        entities, 2 asks two certain heads.
    span_type_prior : `float`, optional (default = `DEFAULT_SPAN_TYPE_PRIOR`, 4.0)
        Which type keeps a span several types claim (`consensus_merge`): the one with the
        highest score sum over its number of heads plus this prior.
    coexist_score : `float`, optional (default = `DEFAULT_COEXIST_SCORE`)
        Types one head produces together (its corpus annotated both, so its guidelines chose
        one per span: Gene/Protein and Chemical, Chemical and Disease) never share a span;
        other types (Anatomy and CellType, which no corpus told apart) share it when the
        weaker one's score reaches this (above 1: never, one type per span).
    alternatives : `bool`, optional (default = `False`)
        Also keep every selected head's entities (common types, `dataset` the head),
        before merging, so no reading is lost.
    sentences : `bool`, optional (default = `False`)
        Also keep each window's tokens and the selected heads' tags (for CoNLL output).
    """

    def __init__(
        self,
        model: MultiTaskCrfTagger,
        dataset_reader: DatasetReader,
        type_map: Optional[Dict[str, str]] = None,
        overlap_policy: str = "highest_score",
        overlap_scope: str = "type",
        min_score: float = 0.0,
        split_hyphens: bool = True,
        max_sentence_tokens: int = 200,
        sentence_batch_size: int = 64,
        heads: Optional[List[str]] = None,
        merge: str = "consensus",
        min_votes: Optional[Dict[str, float]] = None,
        span_type_prior: float = DEFAULT_SPAN_TYPE_PRIOR,
        coexist_score: float = DEFAULT_COEXIST_SCORE,
        alternatives: bool = False,
        sentences: bool = False,
    ) -> None:
        for name, value, allowed in (
            ("overlap_policy", overlap_policy, OVERLAP_POLICIES),
            ("overlap_scope", overlap_scope, OVERLAP_SCOPES),
            ("merge", merge, MERGE_RULES),
        ):
            if value not in allowed:
                raise ConfigurationError(
                    f"biomedical_entities: {name} must be one of {allowed}, got {value!r}"
                )
        for name, value in (
            ("max_sentence_tokens", max_sentence_tokens),
            ("sentence_batch_size", sentence_batch_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"biomedical_entities: {name} must be a positive integer, got {value!r}"
                )
        if heads is not None:
            listed = isinstance(heads, (list, tuple))
            unknown = [head for head in heads if head not in model.datasets] if listed else [heads]
            if not heads or unknown:
                raise ConfigurationError(
                    f"biomedical_entities: heads must name some of the model's heads "
                    f"{sorted(model.datasets)}, got {heads!r}"
                )
        # The heads whose entities and CoNLL columns are output, sorted.
        self.heads = sorted(heads if heads is not None else model.datasets)
        try:
            self._type_mapper = TypeMapper(type_map)
        except ValueError as error:
            raise ConfigurationError(f"biomedical_entities: {error}") from None
        self.merge = merge
        if (
            isinstance(span_type_prior, bool)
            or not isinstance(span_type_prior, (int, float))
            or not span_type_prior >= 0
        ):
            raise ConfigurationError(
                f"biomedical_entities: span_type_prior must be a number >= 0, got {span_type_prior!r}"
            )
        self.span_type_prior = float(span_type_prior)
        if isinstance(coexist_score, bool) or not isinstance(coexist_score, (int, float)):
            raise ConfigurationError(
                f"biomedical_entities: coexist_score must be a number, got {coexist_score!r}"
            )
        self.coexist_score = float(coexist_score)
        self.alternatives = bool(alternatives)
        # Each head's entity types (from its label namespace).
        self.types_of_head = {
            head: sorted(
                {
                    split_tag(tag)[1]
                    for tag in model.vocab.get_token_to_index_vocabulary(label_namespace(head))
                    if split_tag(tag)[1] is not None
                }
            )
            for head in model.datasets
        }
        # `consensus_merge`'s groups of types that exclude each other on a span: each head's
        # common types; and the number of the selected heads producing each common type.
        self.exclusive_types = [
            sorted({self._type_mapper(t) for t in types}) for types in self.types_of_head.values()
        ]
        self._heads_of_type = heads_per_type(
            {head: self.types_of_head[head] for head in self.heads}, self._type_mapper
        )
        if min_votes is None:
            min_votes = DEFAULT_MIN_VOTES
        common_types = {self._type_mapper(t) for types in self.types_of_head.values() for t in types}
        if not isinstance(min_votes, Mapping) or not all(
            isinstance(key, str) and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
            for key, value in min_votes.items()
        ):
            raise ConfigurationError(
                "biomedical_entities: min_votes must map common types (or '*') to numbers "
                f">= 0, got {min_votes!r}"
            )
        # The defaults name types a model may lack; a user's key must be one of the model's.
        unknown = sorted(set(min_votes) - common_types - {"*"}) if min_votes is not DEFAULT_MIN_VOTES else []
        if unknown:
            raise ConfigurationError(
                f"biomedical_entities: min_votes names types no head produces: {unknown}; the "
                f"model's common types: {sorted(common_types)} (or '*')"
            )
        self.min_votes = dict(min_votes)
        self.overlap_policy = overlap_policy
        self.overlap_scope = overlap_scope
        self.min_score = float(min_score)
        self.max_sentence_tokens = max_sentence_tokens
        self.sentence_batch_size = sentence_batch_size
        self._tokenizer = BiomedicalTokenizer(split_hyphens=split_hyphens)
        self._splitter = BiomedicalSentenceSplitter()
        self.sentences = sentences
        self._model = model
        self._dataset_reader = dataset_reader
        # Number of tokens tagged so far (for throughput measurements).
        self.tokens_processed = 0


    def extract(self, documents: Sequence[Document]) -> List[Extraction]:
        """Finds, scores and merges the entities of all `documents` (their windows tagged
        together, sorted by length, `sentence_batch_size` at a time); one `Extraction` per
        document, in order."""
        windows: List[Tuple[int, List[Token]]] = []
        for index, document in enumerate(documents):
            for tokens in tokenize_document(
                document.text,
                self._tokenizer,
                self._splitter,
                max_sentence_tokens=self.max_sentence_tokens,
                title_end=document.title_end,
            ):
                if tokens:
                    windows.append((index, tokens))
        order = sorted(range(len(windows)), key=lambda i: len(windows[i][1]))
        results = [Extraction() for _ in documents]
        raw: List[List[Entity]] = [[] for _ in documents]
        sentences: Dict[int, Sentence] = {}
        for first in range(0, len(order), self.sentence_batch_size):
            chunk = order[first : first + self.sentence_batch_size]
            for window_id, output in zip(chunk, self._forward([windows[i][1] for i in chunk])):
                index, tokens = windows[window_id]
                if isinstance(output, str):
                    results[index].error = output
                    continue
                tags = {head: output["tags"][head] for head in self.heads}
                raw[index].extend(self._window_entities(documents[index].text, tokens, output, tags))
                if self.sentences:
                    sentences[window_id] = ([t.text for t in tokens], tags)
            self.tokens_processed += sum(len(windows[i][1]) for i in chunk)
        for window_id in sorted(sentences):  # windows are in text order
            results[windows[window_id][0]].sentences.append(sentences[window_id])
        for result, entities in zip(results, raw):
            if result.error is None:
                entities = [entity for entity in entities if entity.score >= self.min_score]
                result.entities = self.merge_heads(entities)
                if self.alternatives:
                    result.alternatives = sorted(
                        (self._map_type(entity) for entity in entities),
                        key=lambda e: (e.start, e.end, e.type, e.dataset),
                    )
        return results

    def _map_type(self, entity: Entity) -> Entity:
        return dataclasses.replace(entity, type=self._type_mapper(entity.type))

    def merge_heads(
        self,
        entities: List[Entity],
        heads: Optional[Sequence[str]] = None,
        merge: Optional[str] = None,
        types_mapped: bool = False,
    ) -> List[Entity]:
        """
        The output entities of one document from its heads' entities, by the extractor's
        `merge` (or `merge`), `min_votes`, `coexist_score` and overlap settings: what the
        extractor outputs with `heads` (default: its own) selected. The entities carry their
        heads' own types, or common types with `types_mapped=True` (an extraction's
        `alternatives`: a `type_map` need not map a common type to itself). `allennlp
        corpus-eval` scores each head alone and the union through this.
        """
        heads = self.heads if heads is None else sorted(heads)
        if heads != self.heads:
            entities = [entity for entity in entities if entity.dataset in set(heads)]
        if not types_mapped:
            entities = [self._map_type(entity) for entity in entities]
        if (merge or self.merge) == "union":
            return merge_entities(entities, None, self.overlap_policy, self.overlap_scope)
        heads_of_type = (
            self._heads_of_type
            if heads == self.heads
            else heads_per_type({head: self.types_of_head[head] for head in heads}, self._type_mapper)
        )
        return consensus_merge(
            entities,
            heads_of_type,
            self.min_votes,
            self.overlap_policy,
            self.overlap_scope,
            self.span_type_prior,
            self.exclusive_types,
            self.coexist_score,
        )

    def run_model(self, instances: List[Instance]) -> List[Dict[str, Any]]:
        """
        The model's outputs per instance, with the span scores (`span_score_parts`) and
        the BIOUL `tags` of every head. Every output of the model but `loss` is a list with
        one entry per row, so they split per instance as they are.
        """
        model = self._model
        with torch.no_grad():
            batch = Batch(instances)
            batch.index_instances(model.vocab)
            device = next(model.parameters()).device
            model_input = util.move_to_device(batch.as_tensor_dict(), device)
            outputs = model.make_output_human_readable(model(**model_input, span_scores=True))
        outputs.pop("loss", None)
        return [{name: value[row] for name, value in outputs.items()} for row in range(len(instances))]

    def _instance(self, tokens: List[Token]) -> Instance:
        instance = self._dataset_reader.text_to_instance([token.text for token in tokens])
        self._dataset_reader.apply_token_indexers(instance)
        return instance

    def _forward(self, batch: List[List[Token]]) -> List[Any]:
        """Model outputs for a batch of windows; if the batch fails, each window alone
        (a window that still fails gets an error message instead of an output)."""
        try:
            return self.run_model([self._instance(t) for t in batch])
        except Exception as error:  # noqa: BLE001  (isolate the window that fails)
            if len(batch) == 1:
                logger.exception("biomedical_entities: tagging a sentence failed")
                return [f"tagging failed: {type(error).__name__}: {error}"]
            logger.warning("biomedical_entities: a batch failed (%s); retrying one by one", error)
            return [self._forward([tokens])[0] for tokens in batch]

    @staticmethod
    def _window_entities(
        text: str, tokens: List[Token], output: Dict[str, Any], tags_of_heads: Dict[str, List[str]]
    ) -> List[Entity]:
        """The entities of one window's `tags_of_heads` (head -> BIOUL tags), scored by the
        span posteriors of `output`."""
        entities = []
        parts = output.get("span_score_parts", {})
        for head, tags in tags_of_heads.items():
            left, right = parts.get(head, (None, None))
            for span in bioul_to_spans(tags):
                start, end = tokens[span.start].idx, tokens[span.end].idx_end
                if left is not None:
                    score = math.exp(min(0.0, left[span.start] + right[span.end]))
                else:
                    score = 1.0
                entities.append(
                    Entity(
                        start=start,
                        end=end,
                        text=text[start:end],
                        type=span.label,
                        dataset=head,
                        score=round(score, 6),
                    )
                )
        return entities
