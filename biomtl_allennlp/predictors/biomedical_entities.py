import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from allennlp.common.checks import ConfigurationError
from allennlp.common.util import JsonDict, sanitize
from allennlp.data import DatasetReader, Instance
from allennlp.data.tokenizers import Token
from allennlp.models import Model
from allennlp.predictors.predictor import Predictor

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.tags import bioul_to_spans
from biomtl_allennlp.documents.entity import ID_KEYS, Entity
from biomtl_allennlp.documents.pubtator import (
    PubtatorAnnotation,
    PubtatorDocument,
    clean_field,
    clean_pmid,
    format_pubtator,
    is_annotation_line,
    looks_like_pubtator,
    parse_text_line,
)
from biomtl_allennlp.data.text_lines import strip_byte_order_mark
from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger
from biomtl_allennlp.data.tokenizers import (
    BiomedicalSentenceSplitter,
    BiomedicalTokenizer,
    tokenize_document,
)
from biomtl_allennlp.common.datasets import label_namespace
from biomtl_allennlp.common.tags import split_tag
from biomtl_allennlp.predictors.entity_merging import (
    DEFAULT_MIN_VOTES,
    DEFAULT_COEXIST_SCORE,
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

INPUT_FORMATS = ("auto", "json", "pubtator", "text")
OUTPUT_FORMATS = ("json", "pubtator", "conll")

# Internal marker that `load_line` adds to what it returns (how the line was read).
_LINE_KEY = "_biomedical_entities_line"
_MAX_ECHOED_LINE = 1000


@dataclass
class _Document:
    text: str
    ids: Dict[str, Any]
    title: Optional[str] = None
    abstract: Optional[str] = None
    entities: List[Entity] = field(default_factory=list)
    # Every head's entities (common types, after `min_score`), for `alternatives=True`.
    alternatives: List[Entity] = field(default_factory=list)
    error: Optional[str] = None
    # Per window, in text order: (tokens, {head: BIOUL tags}) (for the CoNLL output).
    sentences: List[Tuple[List[str], Dict[str, List[str]]]] = field(default_factory=list)

    @property
    def title_end(self) -> Optional[int]:
        return len(self.title) if self.title is not None and self.abstract else None


@Predictor.register("biomedical_entities")
class BiomedicalEntitiesPredictor(Predictor):
    """
    Finds biomedical entities in raw documents with a `multitask_crf_tagger`: every head
    (one per training dataset) tags every sentence in the same forward pass, and the
    entities of all heads are mapped to common types and merged.

    Inputs (one per line for `allennlp predict`, or dicts for `predict_json` /
    `predict_batch_json`):

    - `{"text": ...}`, optionally with an id under `pmid`, `id`, `doc_id`, `document_id`
      or `pmcid` (echoed under the same key);
    - `{"pmid": ..., "title": ..., "abstract": ...}`: the text is `title + " " + abstract`
      (as in PubTator, so offsets agree with PubTator files) and the title is a sentence of
      its own; `abstract` may be missing or null;
    - PubTator lines (`PMID|t|title`, `PMID|a|abstract`; mention and relation lines are
      ignored): the `|t|` line is buffered and the document is predicted at its `|a|` line
      (lines that complete no document give no output). A title whose `|a|` line is
      missing is predicted alone when the next `|t|` or mention line arrives; at the end
      of a file `allennlp predict` loses it (it cannot ask), `allennlp tag-file` tags it
      (through `flush`);
    - plain text: one document per line (the line without its line break).

    Output per document: the echoed ids, `title` and `abstract` (when given), `text`, and
    `entities`, each `{"start", "end", "text", "type", "dataset", "datasets", "score"}`
    with character offsets into `text` (`text[start:end] == entity["text"]`), the common
    type, the best-scoring head that found it, all heads that found it, and its
    confidence: the CRF posterior probability that its tokens carry exactly the predicted
    tags (B-..I-..L- or U-), by forward-backward on the head's constrained CRF.

    A bad input (invalid JSON, a JSON value that is not an object, missing keys,
    non-string values, empty or whitespace-only text, a line that is not UTF-8 given to
    `load_bytes`) gives `{"error": ..., "line": ...}` (plus its ids when known) instead,
    and the other inputs are processed as usual. A UTF-8 byte-order mark at the start of
    the first line given to `load_line` (the start of the input file) is removed. JSON
    lines are read as JSON says: control characters (a carriage return, a tab, ...) inside
    a string must be escaped, a raw one makes the line an error line; between values they
    are whitespace. `allennlp predict` reads its input as text and splits it at carriage
    returns too, and dies on bytes that are not UTF-8: `allennlp tag-file` reads files as
    bytes, split at line feeds only, and gives such a line an error output naming it.

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
    below the best head on new text. With `alternatives=True` the output also lists every
    head's reading.

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

    Registered as a `Predictor` with name "biomedical_entities" (the default predictor of
    `multitask_crf_tagger`).

    # Parameters

    model : `Model`
        A `multitask_crf_tagger`.
    dataset_reader : `DatasetReader`
        The archive's `multitask_ner` reader (for `text_to_instance` and its indexers).
    frozen : `bool`, optional (default = `True`)
    input_format : `str`, optional (default = `"auto"`)
        How `load_line` reads a line: `"json"`, `"pubtator"`, `"text"`, or `"auto"`: a line
        starting with `{`, or `[` and a JSON value (`[{`, `[1`, not `[Treatment of ...]`),
        or that is a whole JSON value (a string, number, `true`, `false`, `null`), is JSON
        (and an error line unless it is an object), one matching
        `^\\d+\\|[ta]\\|` is PubTator (and, after one, lines matching `^\\d+\\t` are its
        mention lines, ignored), anything else is plain text.
    output_format : `str`, optional (default = `"json"`)
        How `dump_line` writes a result: `"json"` (one JSON object per line, non-ASCII
        characters escaped as `\\uXXXX`) or `"pubtator"`: `PMID<TAB>start<TAB>end<TAB>
        mention<TAB>type` lines after the `PMID|t|` / `PMID|a|` lines of documents that had
        a title, and a blank line after each document. The PMID column is the first id of
        `ID_KEYS` present, else `-`. Tabs and line breaks inside title, abstract or
        mention are written as spaces (one for one, so offsets stay right). Or `"conll"`:
        per document a `# doc <id>` line and a `# columns: token<TAB>HEAD...` line (the
        model's heads, sorted), then per sentence (window) one `token<TAB>tag...` line per
        token, each head's BIOUL tag in its column, and a blank line after each
        sentence. With `"conll"` the JSON outputs of `predict_json` also carry
        `"sentences"`: `[{"tokens": [...], "tags": {head: [...]}}]`, in text order. Errors
        are logged as warnings and not written (pubtator, conll).
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
        The sentences of all documents of a `predict_batch_json` call are sorted by length
        and tagged in batches of this many.
    heads : `List[str]`, optional (default = `None`: all)
        Only these heads' entities (and CoNLL columns) are output, e.g. `["NCBI-disease"]`
        for diseases in NCBI's conventions alone. Every head is still computed. One head's
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
        Add `"alternatives"` to each output: every selected head's entities (common types,
        `dataset` the head), before merging, so no reading is lost.
    """

    def __init__(
        self,
        model: Model,
        dataset_reader: DatasetReader,
        frozen: bool = True,
        input_format: str = "auto",
        output_format: str = "json",
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
    ) -> None:
        super().__init__(model, dataset_reader, frozen)
        if not isinstance(model, MultiTaskCrfTagger):
            raise ConfigurationError(
                f"biomedical_entities needs a multitask_crf_tagger model, got "
                f"{type(model).__name__}"
            )
        for name, value, allowed in (
            ("input_format", input_format, INPUT_FORMATS),
            ("output_format", output_format, OUTPUT_FORMATS),
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
        self.input_format = input_format
        self.output_format = output_format
        self.overlap_policy = overlap_policy
        self.overlap_scope = overlap_scope
        self.min_score = float(min_score)
        self.max_sentence_tokens = max_sentence_tokens
        self.sentence_batch_size = sentence_batch_size
        self._tokenizer = BiomedicalTokenizer(split_hyphens=split_hyphens)
        self._splitter = BiomedicalSentenceSplitter()
        # Number of tokens tagged so far (for throughput measurements).
        self.tokens_processed = 0
        # PubTator state of `load_line`.
        self._pending_title: Optional[Tuple[str, str, str]] = None  # (pmid, title, line)
        self._seen_pubtator = False
        # Whether `load_line` has not been called yet (its line may start with a BOM).
        self._at_first_line = True

    # ------------------------------------------------------------------ line IO

    def load_line(self, line: str) -> JsonDict:
        """
        Reads one non-blank input line (see `input_format`). Returns the document to
        predict, or a marker for a line that completes no document or is malformed (their
        prediction is `{}` or an error). A byte-order mark starting the first line is
        removed (a line left blank by that gives no output).
        """
        if self._at_first_line:
            self._at_first_line = False
            line = strip_byte_order_mark(line)
            if not line.strip():
                return {_LINE_KEY: {"skip": True}}
        raw = line[:-1] if line.endswith("\n") else line
        raw = raw[:-1] if raw.endswith("\r") else raw
        kind = self.input_format
        if kind == "auto":
            if _looks_like_json_container(raw):
                kind = "json"
            elif looks_like_pubtator(raw, after_pubtator_lines=self._seen_pubtator):
                kind = "pubtator"
            elif _is_json_scalar(raw):
                kind = "json"
            else:
                kind = "text"
        if kind == "json":
            self._drop_pending_title()
            try:
                value = json.loads(raw)
            except ValueError as error:
                return {_LINE_KEY: {"line": raw, "error": f"invalid JSON: {error}"}}
            if not isinstance(value, dict):
                return {
                    _LINE_KEY: {
                        "line": raw,
                        "error": f"expected a JSON object, got {type(value).__name__}",
                    }
                }
            value[_LINE_KEY] = {"line": raw}
            return value
        if kind == "pubtator":
            return self._load_pubtator_line(raw)
        self._drop_pending_title()
        return {"text": raw, _LINE_KEY: {"line": raw}}

    def load_bytes(self, data: bytes) -> JsonDict:
        """
        `load_line` for a line read as bytes (`allennlp tag-file` reads files so). A line
        that is not valid UTF-8 gives an error output naming the first bad byte, with the
        line shown with that byte escaped (`\\xe4`); the others go to `load_line`.
        """
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self._at_first_line = False
            self._drop_pending_title()
            shown = data.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
            return self.error_input(
                f"not valid UTF-8: byte 0x{data[error.start]:02x} at byte {error.start + 1} "
                "of the line (the file must be UTF-8)",
                line=shown,
            )
        return self.load_line(line)

    @staticmethod
    def error_input(
        message: str, line: Optional[str] = None, ids: Optional[Mapping[str, Any]] = None
    ) -> JsonDict:
        """
        An input that `predict_json` and `predict_batch_json` answer with the error output
        `{**ids, "error": message, "line": line}`, tagging nothing: for inputs found bad
        before the predictor (a line that is not UTF-8, a document over a size limit).
        """
        info: Dict[str, Any] = {"error": message}
        if line is not None:
            info["line"] = line
        if ids:
            info["ids"] = dict(ids)
        return {_LINE_KEY: info}

    def _drop_pending_title(self) -> None:
        if self._pending_title is not None:
            logger.warning(
                "PubTator document %s: title line without an abstract line before a "
                "non-PubTator line; not predicted",
                self._pending_title[0],
            )
            self._pending_title = None

    def _title_only(self) -> Optional[JsonDict]:
        """The pending title as a document of its own (its `|a|` line never came)."""
        if self._pending_title is None:
            return None
        pmid, title, line = self._pending_title
        self._pending_title = None
        return {"pmid": pmid, "title": title, "abstract": "", _LINE_KEY: {"line": line}}

    def flush(self) -> Optional[JsonDict]:
        """
        At the end of the input: the pending PubTator title (a `|t|` line whose `|a|` line
        never came) as a document input of its own (to predict as `load_line`'s inputs),
        or `None` when there is none. `load_line` cannot know that a title is the last
        line, so a reader calls this at the end (`allennlp tag-file` does).
        """
        return self._title_only()

    def _load_pubtator_line(self, raw: str) -> JsonDict:
        self._seen_pubtator = True
        text_line = parse_text_line(raw)
        if text_line is None:
            flushed = self._title_only()
            if is_annotation_line(raw):
                return flushed or {_LINE_KEY: {"skip": True}}
            error = {
                "line": raw,
                "error": "expected 'PMID|t|title', 'PMID|a|abstract' or a tab-separated "
                "PubTator annotation line",
            }
            return flushed or {_LINE_KEY: error}
        pmid, kind, content = text_line
        if kind == "t":
            flushed = self._title_only()
            self._pending_title = (pmid, content, raw)
            return flushed or {_LINE_KEY: {"skip": True}}
        pending = self._pending_title
        if pending is None or pending[0] != pmid:
            message = (
                f"abstract line of PMID {pmid} without its title line"
                if pending is None
                else f"abstract line of PMID {pmid} after the title line of PMID {pending[0]}"
            )
            self._pending_title = None
            return {_LINE_KEY: {"line": raw, "error": message, "ids": {"pmid": pmid}}}
        self._pending_title = None
        return {"pmid": pmid, "title": pending[1], "abstract": content, _LINE_KEY: {"line": raw}}

    def dump_line(self, outputs: JsonDict) -> str:
        """One JSON line, or a document's PubTator or CoNLL lines; nothing for an empty output
        (and, for PubTator and CoNLL, nothing but a warning for an error output)."""
        if not outputs:
            return ""
        if self.output_format == "json":
            return json.dumps(outputs) + "\n"
        if "error" in outputs:
            logger.warning("biomedical_entities: %s", json.dumps(outputs))
            return ""
        if self.output_format == "conll":
            return self.format_conll(outputs, heads=self.heads)
        return self.format_pubtator(outputs)

    @staticmethod
    def format_conll(outputs: JsonDict, heads: Optional[Sequence[str]] = None) -> str:
        """
        The CoNLL lines of one predicted document (it needs the `"sentences"` that
        `output_format="conll"` adds): `# doc <id>` (the first id of `ID_KEYS` present,
        cleaned with `clean_pmid`, else `-`), `# columns: token<TAB>HEAD...`, then per
        sentence one `token<TAB>tag...` line per token and a blank line. `heads` gives the
        columns (default: the sorted heads of the sentences; `dump_line` passes the model's
        sorted `datasets`, so a document without tokens gets the same columns line).
        Raises `ValueError` for a token that is empty or contains whitespace (it would
        break the line / column structure) and for tags that do not fit the tokens.
        """
        pmid = next((str(outputs[key]) for key in ID_KEYS if outputs.get(key) is not None), "-")
        sentences = outputs.get("sentences")
        if sentences is None:
            raise ValueError("format_conll: the output has no 'sentences' (output_format='conll')")
        if heads is None:
            heads = sorted({head for sentence in sentences for head in sentence["tags"]})
        heads = list(heads)
        lines = [f"# doc {clean_pmid(pmid)}", "# columns: " + "\t".join(["token"] + heads)]
        for number, sentence in enumerate(sentences):
            tokens, tags = sentence["tokens"], sentence["tags"]
            if sorted(tags) != sorted(heads):
                raise ValueError(
                    f"format_conll: sentence {number} has tags of heads {sorted(tags)}, "
                    f"expected {sorted(heads)}"
                )
            for head in heads:
                if len(tags[head]) != len(tokens):
                    raise ValueError(
                        f"format_conll: sentence {number}: {len(tags[head])} tags of head "
                        f"{head!r} for {len(tokens)} tokens"
                    )
            for position, token in enumerate(tokens):
                row = [token] + [tags[head][position] for head in heads]
                for column, value in enumerate(row):
                    if not value or any(character.isspace() for character in value):
                        raise ValueError(
                            f"format_conll: {'tag' if column else 'token'} {value!r} "
                            f"(sentence {number}, token {position}) is empty or contains "
                            "whitespace; it cannot be written as a CoNLL column"
                        )
                lines.append("\t".join(row))
            lines.append("")
        return "\n".join(lines) + "\n"

    @staticmethod
    def format_pubtator(outputs: JsonDict) -> str:
        """
        The PubTator lines of one predicted document and a blank line (a document without
        title and entities gives two blank lines, so each has its block). Fields are
        cleaned with `clean_field` / `clean_pmid`.
        """
        pmid = next((str(outputs[key]) for key in ID_KEYS if outputs.get(key) is not None), "-")
        entities = [Entity.from_json(entity) for entity in outputs["entities"]]
        document = PubtatorDocument(
            pmid=clean_pmid(pmid),
            title=clean_field(outputs.get("title") or ""),
            abstract=clean_field(outputs.get("abstract") or ""),
            annotations=[
                PubtatorAnnotation(e.start, e.end, clean_field(e.text), clean_field(e.type))
                for e in entities
            ],
        )
        return (format_pubtator(document, text_lines="title" in outputs) or "\n") + "\n"

    # ------------------------------------------------------------------ prediction

    def predict_json(self, inputs: JsonDict) -> JsonDict:
        return self.predict_batch_json([inputs])[0]

    def predict_batch_json(self, inputs: List[JsonDict]) -> List[JsonDict]:
        """
        Predicts several documents at once: their sentences are tagged together, sorted by
        length, `sentence_batch_size` at a time. Returns one output per input, in order.
        """
        results: List[Optional[JsonDict]] = [None] * len(inputs)
        documents: List[Tuple[int, _Document]] = []
        for position, json_dict in enumerate(inputs):
            line_info = json_dict.get(_LINE_KEY) if isinstance(json_dict, dict) else None
            line_info = line_info if isinstance(line_info, dict) else {}
            if line_info.get("skip"):
                results[position] = {}
                continue
            if "error" in line_info:
                results[position] = self._error_output(
                    line_info["error"], line_info.get("ids", {}), line_info.get("line")
                )
                continue
            try:
                document = self._parse(json_dict)
            except InputFormatError as error:
                ids = _ids(json_dict) if isinstance(json_dict, dict) else {}
                line = line_info.get("line")
                if line is None:
                    line = _describe(json_dict)
                results[position] = self._error_output(str(error), ids, line)
                continue
            documents.append((position, document))
        self._tag([document for _, document in documents])
        for position, document in documents:
            results[position] = self._output(document)
        return [result if result is not None else {} for result in results]

    def _error_output(self, message: str, ids: Dict[str, Any], line: Optional[str]) -> JsonDict:
        output: JsonDict = dict(sanitize(ids))
        output["error"] = message
        if line is not None:
            output["line"] = line if len(line) <= _MAX_ECHOED_LINE else line[:_MAX_ECHOED_LINE] + "..."
        return output

    @staticmethod
    def _parse(json_dict: Any) -> _Document:
        if not isinstance(json_dict, dict):
            raise InputFormatError(f"expected a JSON object, got {type(json_dict).__name__}")
        ids = _ids(json_dict)
        if "text" in json_dict:
            text = json_dict["text"]
            if not isinstance(text, str):
                raise InputFormatError(f"'text' must be a string, got {_type_name(text)}")
            document = _Document(text=text, ids=ids)
        elif "title" in json_dict or "abstract" in json_dict:
            parts = []
            for key in ("title", "abstract"):
                value = json_dict.get(key)
                if value is None:
                    value = ""
                if not isinstance(value, str):
                    raise InputFormatError(f"'{key}' must be a string, got {_type_name(value)}")
                parts.append(value)
            title, abstract = parts
            # As `PubtatorDocument.text`, so offsets agree with PubTator files.
            text = f"{title} {abstract}" if abstract else title
            document = _Document(text=text, ids=ids, title=title, abstract=abstract)
        else:
            keys = sorted(key for key in json_dict if key != _LINE_KEY)
            raise InputFormatError(
                f"missing key: expected 'text', or 'title' and 'abstract'; got keys {keys}"
            )
        if not document.text:
            raise InputFormatError("empty text")
        if not document.text.strip():
            raise InputFormatError("text contains only whitespace")
        return document

    def _output(self, document: _Document) -> JsonDict:
        if document.error is not None:
            return self._error_output(document.error, document.ids, None)
        output: JsonDict = dict(sanitize(document.ids))
        if document.title is not None:
            output["title"] = document.title
            output["abstract"] = document.abstract
        output["text"] = document.text
        output["entities"] = [entity.to_json() for entity in document.entities]
        if self.alternatives:
            output["alternatives"] = [entity.to_json() for entity in document.alternatives]
        if self.output_format == "conll":
            output["sentences"] = [
                {"tokens": tokens, "tags": tags} for tokens, tags in document.sentences
            ]
        return output

    def _instance(self, tokens: List[Token]) -> Instance:
        instance = self._dataset_reader.text_to_instance([token.text for token in tokens])
        self._dataset_reader.apply_token_indexers(instance)
        return instance

    def _tag(self, documents: List[_Document]) -> None:
        """Finds, scores and merges the entities of all documents (sets `.entities`, and for
        `output_format="conll"` `.sentences`: each window's tokens and tags, in text order)."""
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
        raw: List[List[Entity]] = [[] for _ in documents]
        sentences: Dict[int, Tuple[List[str], Dict[str, List[str]]]] = {}
        for first in range(0, len(order), self.sentence_batch_size):
            chunk = order[first : first + self.sentence_batch_size]
            for window_id, output in zip(chunk, self._forward([windows[i][1] for i in chunk])):
                index, tokens = windows[window_id]
                if isinstance(output, str):
                    documents[index].error = output
                    continue
                tags = {head: output["tags"][head] for head in self.heads}
                raw[index].extend(self._window_entities(documents[index].text, tokens, output, tags))
                if self.output_format == "conll":
                    sentences[window_id] = ([t.text for t in tokens], tags)
            self.tokens_processed += sum(len(windows[i][1]) for i in chunk)
        for window_id in sorted(sentences):  # windows are in text order
            documents[windows[window_id][0]].sentences.append(sentences[window_id])
        for document, entities in zip(documents, raw):
            if document.error is None:
                entities = [entity for entity in entities if entity.score >= self.min_score]
                document.entities = self.merge_heads(entities)
                if self.alternatives:
                    document.alternatives = sorted(
                        (self._map_type(entity) for entity in entities),
                        key=lambda e: (e.start, e.end, e.type, e.dataset),
                    )

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
        The output entities of one document from its heads' entities, by the predictor's
        `merge` (or `merge`), `min_votes`, `coexist_score` and overlap settings: what the
        predictor outputs with `heads` (default: its own) selected. The entities carry their
        heads' own types, or common types with `types_mapped=True` (an output's
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

    def _forward(self, batch: List[List[Token]]) -> List[Any]:
        """Model outputs for a batch of windows; if the batch fails, each window alone
        (a window that still fails gets an error message instead of an output)."""
        try:
            return self._model.forward_on_instances(
                [self._instance(t) for t in batch], span_scores=True
            )
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


# The whitespace of JSON (RFC 8259): space, tab, line feed, carriage return.
_JSON_WHITESPACE = " \t\n\r"


def _looks_like_json_container(line: str) -> bool:
    """Whether `line` starts a JSON object or array: `{`, or `[` followed by what can start
    a JSON value (`[{`, `[1`, `["`, `[]`, ...). A bracketed plain-text start such as
    PubMed's translated titles (`[Treatment of hypertension in the elderly].`) is text."""
    stripped = line.lstrip(_JSON_WHITESPACE)
    if stripped.startswith("{"):
        return True
    if not stripped.startswith("["):
        return False
    rest = stripped[1:].lstrip(_JSON_WHITESPACE)
    return not rest or rest[0] in '{["]-0123456789' or rest.startswith(("true", "false", "null"))


def _is_json_scalar(line: str) -> bool:
    """Whether `line` is one JSON string, number, `true`, `false` or `null` (a JSON value
    that is not an object: an error line, not plain text)."""
    stripped = line.strip(_JSON_WHITESPACE)
    if not stripped or stripped[0] not in '"-0123456789tfn':
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def check_document_input(json_dict: Any) -> None:
    """
    Raises the `InputFormatError` (without a place) whose message `predict_json` answers
    `json_dict` with (as its error output) when it is no document: not an object, missing
    keys, a `text`, `title` or `abstract` that is not a string, empty or whitespace-only
    text. For readers that turn inputs into something else before they reach the
    predictor (`allennlp tag-corpus` writing JSON lines as BioC), so both refuse alike.
    """
    BiomedicalEntitiesPredictor._parse(json_dict)


def _ids(json_dict: Mapping[str, Any]) -> Dict[str, Any]:
    return {key: json_dict[key] for key in ID_KEYS if key in json_dict}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _describe(value: Any) -> str:
    """A short JSON rendering of a bad input for the error output."""
    if isinstance(value, dict):
        value = {key: item for key, item in value.items() if key != _LINE_KEY}
    try:
        return json.dumps(sanitize(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
