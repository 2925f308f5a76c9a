import json
import logging
from typing import Any, Dict, List, Mapping, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.common.util import JsonDict, sanitize
from allennlp.data import DatasetReader
from allennlp.models import Model
from allennlp.predictors.predictor import Predictor

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents import conll, pubtator
from biomtl_allennlp.documents.document import Document, ids_of
from biomtl_allennlp.documents.json_lines import format_json_line
from biomtl_allennlp.documents.lines import INPUT_FORMATS, InputLine, LineReader, describe, error_output
from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger
from biomtl_allennlp.predictors.entity_extractor import EntityExtractor, Extraction
from biomtl_allennlp.predictors.entity_merging import DEFAULT_COEXIST_SCORE, DEFAULT_SPAN_TYPE_PRIOR

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("json", "pubtator", "conll")


@Predictor.register("biomedical_entities")
class BiomedicalEntitiesPredictor(Predictor):
    """
    Finds biomedical entities in raw documents with a `multitask_crf_tagger`: every head
    (one per training dataset) tags every sentence in the same forward pass, and the
    entities of all heads are mapped to common types and merged (`EntityExtractor`, which
    documents the merge and overlap settings).

    Inputs (one per line for `allennlp predict`, read by `documents.lines.LineReader`, or
    dicts for `predict_json` / `predict_batch_json`, which also take `Document`s read
    already, as `allennlp tag-corpus` gives them):

    - `{"text": ...}`, optionally with an id under `pmid`, `id`, `doc_id`, `document_id`
      or `pmcid` (echoed under the same key);
    - `{"pmid": ..., "title": ..., "abstract": ...}`: the text is `title + " " + abstract`
      (as in PubTator, so offsets agree with PubTator files) and the title is a sentence of
      its own; `abstract` may be missing or null;
    - PubTator lines (`PMID|t|title`, `PMID|a|abstract`; mention and relation lines are
      ignored): the document is predicted at its `|a|` line (lines that complete no
      document give no output). A title whose `|a|` line is missing is predicted alone
      when the next `|t|` or mention line arrives; at the end of a file `allennlp predict`
      loses it (it cannot ask), `allennlp tag-file` tags it (through `flush`);
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

    Registered as a `Predictor` with name "biomedical_entities" (the default predictor of
    `multitask_crf_tagger`).

    # Parameters

    model : `Model`
        A `multitask_crf_tagger`.
    dataset_reader : `DatasetReader`
        The archive's `multitask_ner` reader (for `text_to_instance` and its indexers).
    frozen : `bool`, optional (default = `True`)
    input_format : `str`, optional (default = `"auto"`)
        How `load_line` reads a line: `"json"`, `"pubtator"`, `"text"`, or `"auto"` (see
        `documents.lines`).
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
    type_map, overlap_policy, overlap_scope, min_score, split_hyphens, max_sentence_tokens,
    sentence_batch_size, heads, merge, min_votes, span_type_prior, coexist_score, alternatives
        As for `EntityExtractor` (`heads` also selects the CoNLL columns; `alternatives`
        adds `"alternatives"` to each output: every selected head's entities, common
        types, `dataset` the head, before merging).
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
        ):
            if value not in allowed:
                raise ConfigurationError(
                    f"biomedical_entities: {name} must be one of {allowed}, got {value!r}"
                )
        self.extractor = EntityExtractor(
            model,
            dataset_reader,
            type_map=type_map,
            overlap_policy=overlap_policy,
            overlap_scope=overlap_scope,
            min_score=min_score,
            split_hyphens=split_hyphens,
            max_sentence_tokens=max_sentence_tokens,
            sentence_batch_size=sentence_batch_size,
            heads=heads,
            merge=merge,
            min_votes=min_votes,
            span_type_prior=span_type_prior,
            coexist_score=coexist_score,
            alternatives=alternatives,
            sentences=output_format == "conll",
        )
        self.input_format = input_format
        self.output_format = output_format
        self._lines = LineReader(input_format)

    @property
    def tokens_processed(self) -> int:
        """The number of tokens tagged so far (for throughput measurements)."""
        return self.extractor.tokens_processed

    # ------------------------------------------------------------------ line IO

    def load_line(self, line: str) -> JsonDict:
        """Reads one non-blank input line (`LineReader.read_line`); a line that completes no
        document or is malformed gives an input whose prediction is `{}` or an error."""
        return self._lines.read_line(line)

    def load_bytes(self, data: bytes) -> JsonDict:
        """`load_line` for a line read as bytes (`allennlp tag-file` reads files so): a line
        that is not valid UTF-8 gives an error output naming the first bad byte."""
        return self._lines.read_bytes(data)

    def flush(self) -> Optional[JsonDict]:
        """At the end of the input: the pending PubTator title (a `|t|` line whose `|a|`
        line never came) as an input of its own, or `None` (`LineReader.flush`)."""
        return self._lines.flush()

    @staticmethod
    def error_input(
        message: str, line: Optional[str] = None, ids: Optional[Mapping[str, Any]] = None
    ) -> JsonDict:
        """
        An input that `predict_json` and `predict_batch_json` answer with the error output
        `{**ids, "error": message, "line": line}`, tagging nothing: for inputs found bad
        before the predictor (a line that is not UTF-8, a document over a size limit).
        """
        return InputLine(line=line, error=message, ids=ids)

    def dump_line(self, outputs: JsonDict) -> str:
        """One JSON line, or a document's PubTator or CoNLL lines; nothing for an empty output
        (and, for PubTator and CoNLL, nothing but a warning for an error output)."""
        if not outputs:
            return ""
        if self.output_format == "json":
            return format_json_line(outputs)
        if "error" in outputs:
            logger.warning("biomedical_entities: %s", json.dumps(outputs))
            return ""
        if self.output_format == "conll":
            return conll.format_conll(outputs, heads=self.extractor.heads)
        return pubtator.format_output(outputs)

    # ------------------------------------------------------------------ prediction

    def predict_json(self, inputs: JsonDict) -> JsonDict:
        return self.predict_batch_json([inputs])[0]

    def predict_batch_json(self, inputs: List[JsonDict]) -> List[JsonDict]:
        """
        Predicts several documents at once: their sentences are tagged together, sorted by
        length, `sentence_batch_size` at a time. Returns one output per input, in order.
        """
        results: List[JsonDict] = [{} for _ in inputs]
        documents: List[Document] = []
        positions: List[int] = []
        for position, json_dict in enumerate(inputs):
            if isinstance(json_dict, Document):  # read already (`allennlp tag-corpus`)
                documents.append(json_dict)
                positions.append(position)
                continue
            line = json_dict.line if isinstance(json_dict, InputLine) else None
            if isinstance(json_dict, InputLine) and (json_dict.skip or json_dict.error is not None):
                if json_dict.error is not None:
                    results[position] = error_output(json_dict.error, json_dict.ids, line)
                continue
            try:
                documents.append(Document.from_json(json_dict))
            except InputFormatError as error:
                ids = ids_of(json_dict) if isinstance(json_dict, dict) else {}
                results[position] = error_output(str(error), ids, describe(json_dict) if line is None else line)
                continue
            positions.append(position)
        for position, document, extraction in zip(positions, documents, self.extractor.extract(documents)):
            results[position] = self._output(document, extraction)
        return results

    def _output(self, document: Document, extraction: Extraction) -> JsonDict:
        if extraction.error is not None:
            return error_output(extraction.error, document.ids)
        output: JsonDict = dict(sanitize(document.ids))
        if document.title is not None:
            output["title"] = document.title
            output["abstract"] = document.abstract
        output["text"] = document.text
        output["entities"] = [entity.to_json() for entity in extraction.entities]
        if self.extractor.alternatives:
            output["alternatives"] = [entity.to_json() for entity in extraction.alternatives]
        if self.output_format == "conll":
            output["sentences"] = [{"tokens": tokens, "tags": tags} for tokens, tags in extraction.sentences]
        return output

