import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
from allennlp.common import Lazy
from allennlp.common.checks import ConfigurationError
from allennlp.data import TextFieldTensors, Vocabulary
from allennlp.models.model import Model
from allennlp.modules import Seq2SeqEncoder, TextFieldEmbedder
from allennlp.modules.token_embedders import TokenEmbedder
from allennlp.nn import InitializerApplicator, util

from biomtl_allennlp.common.datasets import LABEL_NAMESPACE_SUFFIX, label_namespace
from biomtl_allennlp.modules.multi_head_crf import MultiHeadCrf
from biomtl_allennlp.nn.head_rows import HeadRows
from biomtl_allennlp.training.metrics.multi_head_span_f1 import MultiHeadSpanF1

logger = logging.getLogger(__name__)

# What the weighted sum of a batch's sentence NLLs is divided by (`loss_normalization`).
LOSS_NORMALIZATIONS = ("sentence", "token", "sum")


@Model.register("multitask_crf_tagger")
class MultiTaskCrfTagger(Model):
    """
    The multi-task tagger of Wang et al. 2019: word embeddings and a character layer feed a
    word-level encoder, followed by one CRF per dataset, each over its own label set.

    The heads follow from the vocabulary: one per `"<dataset>_labels"` namespace, i.e. per
    dataset the reader read (or the ones named in `datasets`). What is shared is set by
    where a layer is configured:

    - MTM-CW: every token embedder in `text_field_embedder`, one `encoder` (all shared);
    - MTM-C: `private_encoder` instead of `encoder` (each dataset its own word encoder);
    - MTM-W: the char-stream embedder under `private_token_embedders` (each dataset its own
      character layer, keyed by its token indexer, `"chars"`);
    - STM: one dataset.

    Each private layer is built once per dataset from its configuration (fresh
    parameters).

    `forward` follows the paper's figure: which rows go to which head
    (`HeadRows.of_batch`) -> shared and private embeddings and the word encoder (`_encode`) ->
    per-head logits (`_head_logits`) -> CRF loss (`_loss`) / decoding -> metrics. Batches
    may mix datasets: layers shared by all heads run once over the batch; below a private
    layer, each head's rows are stacked, so one encoder pass (MTM-W) and one CRF loop (all
    variants, `MultiHeadCrf`) serve every head. The loss is
    `sum_i loss_weights[dataset_i] * NLL_i`, the paper's weighted sum of per-dataset
    negative log-likelihoods, divided by the batch's sentences (default), its tokens, or
    nothing (`loss_normalization`).

    Instances without a dataset (raw text at prediction time) are tagged by every head.

    Registered as a `Model` with name "multitask_crf_tagger".

    # Parameters

    vocab : `Vocabulary`
    text_field_embedder : `TextFieldEmbedder`, optional
        The shared token embedders (all but the private ones).
    encoder : `Seq2SeqEncoder`, optional
        The shared word-level encoder (a BiLSTM in the paper). Give this or
        `private_encoder`.
    private_token_embedders : `Dict[str, Lazy[TokenEmbedder]]`, optional
        Token indexer key -> embedder configuration; each dataset gets its own embedder
        built from it. Its output is concatenated after the shared embeddings.
    private_encoder : `Lazy[Seq2SeqEncoder]`, optional
        A word-level encoder configuration; each dataset gets its own.
    datasets : `List[str]`, optional
        Heads to build; default: every `*_labels` namespace of the vocabulary.
    loss_weights : `Dict[str, float]`, optional
        lambda per dataset (default 1).
    loss_normalization : `str`, optional (default = `"sentence"`)
        What the weighted sum of the batch's sentence NLLs is divided by: `"sentence"` (the
        number of sentences in the batch), `"token"` (the number of tokens in the batch) or
        `"sum"` (nothing; the paper code's CRF loss sums over its batch). With Adam the
        choice matters mostly through gradient-norm clipping and through how much weight
        batches of long sentences get.
    dropout : `float`, optional (default = `0.5`)
        Dropout on the embeddings and on the encoder output.
    label_encoding : `str`, optional (default = `"BIOUL"`)
        Used for the CRF constraints and the span metrics.
    include_start_end_transitions : `bool`, optional (default = `True`)
    crf_algorithm : `str`, optional (default = `"loop"`)
        How the CRF computes its partition function and Viterbi path: `"loop"` (one step
        per token; fastest on CPU) or `"scan"` (a tree of matrix products, log2 of the
        sentence length in steps; for GPUs). Same results up to float rounding
        (`MultiHeadCrf`).
    training_metrics : `bool`, optional (default = `False`)
        Decode and score during training too (costs a Viterbi pass per batch).
    initializer : `InitializerApplicator`, optional
    """

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: Optional[TextFieldEmbedder] = None,
        encoder: Optional[Seq2SeqEncoder] = None,
        private_token_embedders: Optional[Dict[str, Lazy[TokenEmbedder]]] = None,
        private_encoder: Optional[Lazy[Seq2SeqEncoder]] = None,
        datasets: Optional[List[str]] = None,
        loss_weights: Optional[Dict[str, float]] = None,
        loss_normalization: str = "sentence",
        dropout: float = 0.5,
        label_encoding: str = "BIOUL",
        include_start_end_transitions: bool = True,
        crf_algorithm: str = "loop",
        training_metrics: bool = False,
        initializer: InitializerApplicator = InitializerApplicator(),
        **kwargs,
    ) -> None:
        super().__init__(vocab, **kwargs)
        self.datasets = self._head_names(vocab, datasets)
        loss_weights = dict(loss_weights or {})
        unknown = sorted(set(loss_weights) - set(self.datasets))
        if unknown:
            raise ValueError(f"loss_weights names datasets without a head: {unknown}")
        self._loss_weights = {name: float(loss_weights.get(name, 1.0)) for name in self.datasets}
        if loss_normalization not in LOSS_NORMALIZATIONS:
            raise ConfigurationError(
                f"multitask_crf_tagger: loss_normalization must be one of "
                f"{list(LOSS_NORMALIZATIONS)}, not {loss_normalization!r}"
            )
        self._loss_normalization = loss_normalization
        self._training_metrics = training_metrics

        # Shared and private layers.
        self._text_field_embedder = text_field_embedder
        self._private_embedders = torch.nn.ModuleDict(
            {
                key: torch.nn.ModuleDict({name: lazy.construct() for name in self.datasets})
                for key, lazy in sorted((private_token_embedders or {}).items())
            }
        )
        if (encoder is None) == (private_encoder is None):
            raise ConfigurationError(
                "multitask_crf_tagger: give exactly one of 'encoder' (shared) and "
                "'private_encoder' (one per dataset)"
            )
        if encoder is not None:
            self._encoder = encoder
        else:
            self._encoder = None
            self._encoders = torch.nn.ModuleDict(
                {name: private_encoder.construct() for name in self.datasets}  # type: ignore
            )
        word_encoder = encoder if encoder is not None else self._encoders[self.datasets[0]]
        embedding_dim = (text_field_embedder.get_output_dim() if text_field_embedder else 0) + sum(
            embedders[self.datasets[0]].get_output_dim()
            for embedders in self._private_embedders.values()
        )
        if embedding_dim == 0:
            raise ConfigurationError(
                "multitask_crf_tagger: no token embedder (text_field_embedder or "
                "private_token_embedders)"
            )
        if word_encoder.get_input_dim() != embedding_dim:
            raise ValueError(
                f"encoder input_dim is {word_encoder.get_input_dim()}, the embeddings have "
                f"{embedding_dim} dimensions"
            )
        self._dropout = torch.nn.Dropout(dropout)

        # One projection, CRF and span metric per dataset.
        labels = {
            name: vocab.get_index_to_token_vocabulary(label_namespace(name))
            for name in self.datasets
        }
        self._projections = torch.nn.ModuleDict(
            {
                name: torch.nn.Linear(word_encoder.get_output_dim(), len(labels[name]))
                for name in self.datasets
            }
        )
        self._crf = MultiHeadCrf(labels, label_encoding, include_start_end_transitions, crf_algorithm)
        self._metrics = MultiHeadSpanF1(vocab, self.datasets, label_encoding)
        initializer(self)

    @staticmethod
    def _head_names(vocab: Vocabulary, datasets: Optional[List[str]]) -> List[str]:
        if datasets is None:
            datasets = sorted(
                namespace[: -len(LABEL_NAMESPACE_SUFFIX)]
                for namespace in vocab.get_namespaces()
                if namespace.endswith(LABEL_NAMESPACE_SUFFIX)
                and vocab.get_vocab_size(namespace) > 0
            )
        if not datasets:
            raise ValueError(
                "multitask_crf_tagger: the vocabulary has no '<dataset>_labels' namespace; "
                "read the data with the 'multitask_ner' reader"
            )
        for name in datasets:
            if not vocab.get_index_to_token_vocabulary(label_namespace(name)):
                raise ValueError(
                    f"no labels in vocabulary namespace {label_namespace(name)!r}"
                )
        return list(datasets)

    # ------------------------------------------------------------------ forward

    def forward(  # type: ignore
        self,
        tokens: TextFieldTensors,
        metadata: Optional[List[Dict[str, Any]]] = None,
        tags: Optional[torch.LongTensor] = None,
        span_scores: bool = False,
        **kwargs,
    ) -> Dict[str, Any]:
        """
        # Parameters

        tokens : `TextFieldTensors`
        metadata : `List[Dict[str, Any]]`, optional
            Per row: `"words"` and `"dataset"` (the head that scores the row; `None` for
            every head).
        tags : `torch.LongTensor`, optional
            Shape: (batch_size, num_tokens), BIOUL tag ids in each row's dataset namespace.
        span_scores : `bool`, optional (default = `False`)
            Also return `span_score_parts` when decoding (a forward-backward pass;
            `EntityExtractor.run_model` asks for them).

        # Returns

        `loss` when tags are given; when decoding (evaluation, prediction), `predicted_tags`:
        per row a dict `{dataset: [tag ids]}`; with `span_scores`, `span_score_parts`: per
        row `{dataset: (left, right)}`, two lists of floats such that the posterior
        probability that tokens `s..e` carry exactly their predicted tags is
        `exp(left[s] + right[e])` (see `MultiHeadCrf.span_log_probability_parts`).
        """
        # Shape: (batch_size, num_tokens)
        mask = util.get_text_field_mask(tokens)
        rows = HeadRows.of_batch(self.datasets, metadata, mask, labelled=tags is not None)
        # Shape: (num_rows, num_tokens, encoder_dim)
        encoded = self._encode(tokens, mask, rows)
        # Shape: (num_rows, num_tokens, num_tags)
        logits = self._head_logits(encoded, rows)
        # Shape: (num_rows, num_tokens)
        row_mask = rows.stack(mask)
        row_tags = rows.stack(tags) if tags is not None else None

        output: Dict[str, Any] = {}
        if row_tags is not None:
            output["loss"] = self._loss(logits, row_tags, row_mask, rows)
        if row_tags is None or not self.training or self._training_metrics:
            # Shape: (num_rows, num_tokens)
            best_tags, _ = self._crf.viterbi_tags(logits, row_mask, rows.heads)
            lengths = row_mask.sum(dim=1).tolist()
            paths = [path[:length] for path, length in zip(best_tags.tolist(), lengths)]
            output["predicted_tags"] = rows.unstack(paths)
            if span_scores:
                output["span_score_parts"] = self._span_score_parts(
                    logits, row_mask, best_tags, rows, lengths
                )
            if row_tags is not None:
                self._update_metrics(best_tags, row_tags, row_mask, rows)
        if metadata is not None:
            output["words"] = [entry.get("words") for entry in metadata]
        return output

    def _encode(
        self, tokens: TextFieldTensors, mask: torch.BoolTensor, rows: HeadRows
    ) -> torch.Tensor:
        """
        Shared and private embeddings -> word encoder. Layers shared by every head run on
        the batch rows; from the first private layer on, on the stacked rows of each head.

        # Returns

        `torch.Tensor`
            Shape: (num_rows, num_tokens, encoder_dim), stacked.
        """
        # Shape: (batch_size, num_tokens, shared_embedding_dim)
        shared = self._shared_embeddings(tokens)
        if self._encoder is not None and not self._private_embedders:
            # MTM-CW, STM: one pass over the batch, then each head's rows.
            return rows.stack(self._encode_with(self._encoder, shared, mask))
        # Shape: (num_rows, num_tokens, embedding_dim)
        embedded = self._stacked_embeddings(tokens, shared, rows)
        # Shape: (num_rows, num_tokens)
        row_mask = rows.stack(mask)
        if self._encoder is not None:
            # MTM-W: private character layers, one shared encoder pass over all rows.
            return self._encode_with(self._encoder, embedded, row_mask)
        # MTM-C: each head's own encoder on its rows.
        return torch.cat(
            [
                self._encode_with(self._encoders[head], head_embedded, head_mask)
                for (head, head_embedded), (_, head_mask) in zip(
                    rows.split(embedded), rows.split(row_mask)
                )
            ]
        )

    def _shared_embeddings(self, tokens: TextFieldTensors) -> Optional[torch.Tensor]:
        """Shape: (batch_size, num_tokens, shared_embedding_dim), or `None`."""
        if self._text_field_embedder is None:
            return None
        shared_tokens = {
            key: value for key, value in tokens.items() if key not in self._private_embedders
        }
        return self._text_field_embedder(shared_tokens)

    def _stacked_embeddings(
        self, tokens: TextFieldTensors, shared: Optional[torch.Tensor], rows: HeadRows
    ) -> torch.Tensor:
        """Shape: (num_rows, num_tokens, embedding_dim): shared, then each private embedder."""
        missing = sorted(set(self._private_embedders) - set(tokens))
        if missing:
            raise ConfigurationError(
                f"private_token_embedders {missing} have no token indexer of that name; "
                f"the text field has {sorted(tokens)}"
            )
        parts = [] if shared is None else [rows.stack(shared)]
        for key, embedders in self._private_embedders.items():
            # Each head embeds its own rows with its own copy.
            parts.append(
                torch.cat(
                    [
                        embedders[head](
                            **{name: t.index_select(0, head_rows) for name, t in tokens[key].items()}
                        )
                        for head, head_rows in rows.segments
                    ]
                )
            )
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    def _encode_with(
        self, encoder: Seq2SeqEncoder, embedded: torch.Tensor, mask: torch.BoolTensor
    ) -> torch.Tensor:
        return self._dropout(encoder(self._dropout(embedded), mask))

    def _head_logits(self, encoded: torch.Tensor, rows: HeadRows) -> torch.Tensor:
        """Each head's tag scores on its rows. Shape: (num_rows, num_tokens, num_tags),
        padded to the largest label set (`MultiHeadCrf.stack_logits`)."""
        return self._crf.stack_logits(
            [self._projections[head](head_encoded) for head, head_encoded in rows.split(encoded)]
        )

    def _loss(
        self,
        logits: torch.Tensor,
        row_tags: torch.LongTensor,
        row_mask: torch.BoolTensor,
        rows: HeadRows,
    ) -> torch.Tensor:
        """`sum_i lambda_i * NLL_i` over the stacked rows, divided as `loss_normalization`
        says (the rows of a sentence tagged by several heads count once per head)."""
        # Shape: (num_rows,)
        log_likelihood = self._crf.log_likelihood(logits, row_tags, row_mask, rows.heads)
        weights = logits.new_tensor([self._loss_weights[name] for name in self.datasets])
        weights = weights.index_select(0, rows.heads)
        loss = -(weights * log_likelihood).sum()
        if self._loss_normalization == "sentence":
            return loss / rows.batch_size
        if self._loss_normalization == "token":
            return loss / row_mask.sum()
        return loss

    def _span_score_parts(
        self,
        logits: torch.Tensor,
        row_mask: torch.BoolTensor,
        best_tags: torch.LongTensor,
        rows: HeadRows,
        lengths: List[int],
    ) -> List[Dict[str, Tuple[List[float], List[float]]]]:
        left, right = self._crf.span_log_probability_parts(logits, row_mask, best_tags, rows.heads)
        return rows.unstack(
            [
                (row_left[:length], row_right[:length])
                for row_left, row_right, length in zip(left.tolist(), right.tolist(), lengths)
            ]
        )

    def _update_metrics(
        self,
        best_tags: torch.LongTensor,
        row_tags: torch.LongTensor,
        row_mask: torch.BoolTensor,
        rows: HeadRows,
    ) -> None:
        parts = zip(rows.split(best_tags), rows.split(row_tags), rows.split(row_mask))
        for (head, head_best), (_, head_tags), (_, head_mask) in parts:
            # Shape: (head_rows, num_tokens, tags_of_head)
            one_hot = torch.nn.functional.one_hot(head_best, self._crf.crfs[head].num_tags)
            self._metrics(head, one_hot.float(), head_tags, head_mask)

    def make_output_human_readable(self, output_dict: Dict[str, Any]) -> Dict[str, Any]:
        """Adds `tags`: per row `{dataset: [BIOUL tag strings]}`."""
        if "predicted_tags" not in output_dict:
            return output_dict
        output_dict["tags"] = [
            {
                head: [
                    self.vocab.get_token_from_index(tag, namespace=label_namespace(head))
                    for tag in tag_ids
                ]
                for head, tag_ids in row.items()
            }
            for row in output_dict["predicted_tags"]
        ]
        return output_dict

    # ------------------------------------------------------------------ metrics

    def get_metrics(self, reset: bool = False) -> Dict[str, float]:
        """
        Per dataset `<dataset>_precision`, `_recall`, `_f1` (exact span match) and
        `macro_f1`, their mean over the datasets evaluated since the last reset; at a reset
        also per entity type (`MultiHeadSpanF1`). Names: `biomtl_allennlp.common.metric_keys`.
        """
        return self._metrics.get_metric(reset)

    default_predictor = "biomedical_entities"

