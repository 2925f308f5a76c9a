import copy
import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
from allennlp.data import Batch, Instance, TextFieldTensors, Vocabulary
from allennlp.models.model import Model
from allennlp.modules import ConditionalRandomField, Seq2SeqEncoder, TextFieldEmbedder
from allennlp.modules.conditional_random_field import allowed_transitions
from allennlp.modules.text_field_embedders import BasicTextFieldEmbedder
from allennlp.modules.token_embedders import EmptyEmbedder
from allennlp.nn import InitializerApplicator, util
from allennlp.training.metrics import SpanBasedF1Measure

from biomtl_allennlp.common.datasets import LABEL_NAMESPACE_SUFFIX, label_namespace
from biomtl_allennlp.modules.multi_head_crf import (
    multi_head_log_likelihood,
    multi_head_viterbi,
    pad_logits,
)
from biomtl_allennlp.modules.crf_marginals import path_span_log_probability_parts

logger = logging.getLogger(__name__)

ENCODER = "encoder"

# A view is one head applied to some rows of the batch (None: all rows).
View = Tuple[str, Optional[torch.LongTensor]]


def _fresh_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy with re-initialised parameters (pretrained embeddings are kept)."""
    clone = copy.deepcopy(module)
    for submodule in clone.modules():
        reset = getattr(submodule, "reset_parameters", None)
        if callable(reset):
            reset()
    return clone


def _select_rows(tensors: Dict[str, torch.Tensor], rows: Optional[torch.LongTensor]):
    if rows is None:
        return tensors
    return {key: tensor.index_select(0, rows) for key, tensor in tensors.items()}


@Model.register("multitask_crf_tagger")
class MultiTaskCrfTagger(Model):
    """
    The multi-task tagger of Wang et al. 2019: word embeddings and a character layer feed a
    word-level encoder, followed by one CRF per dataset, each over its own label set.

    The heads follow from the vocabulary: one per `"<dataset>_labels"` namespace, i.e. per
    dataset the reader read (or the ones named in `datasets`). What is shared is set by
    `private_layers`:

    - MTM-CW: `[]` (everything below the CRFs shared),
    - MTM-C: `["encoder"]` (each dataset has its own word-level encoder),
    - MTM-W: `["chars"]` (each dataset has its own character layer; `"chars"` is the key
      of the char-stream embedder in `text_field_embedder`),
    - STM: one dataset.

    Batches may mix datasets: shared layers run once over the whole batch, then each head
    runs on its own dataset's rows (private layers once per dataset present; with private
    character layers and a shared encoder, the rows are stacked again for one encoder
    pass). The loss is `sum_i loss_weights[dataset_i] * NLL_i / batch_size`, i.e. the
    paper's weighted sum of per-dataset negative log-likelihoods, averaged per sentence.

    Instances without a dataset (raw text at prediction time) are tagged by every head.

    Registered as a `Model` with name "multitask_crf_tagger".

    # Parameters

    vocab : `Vocabulary`
    text_field_embedder : `TextFieldEmbedder`
        A `BasicTextFieldEmbedder` when `private_layers` names one of its keys.
    encoder : `Seq2SeqEncoder`
        The word-level encoder (a BiLSTM in the paper).
    private_layers : `List[str]`, optional (default = `[]`)
        Token-embedder keys and/or `"encoder"`: those layers get one copy per dataset.
    datasets : `List[str]`, optional
        Heads to build; default: every `*_labels` namespace of the vocabulary.
    loss_weights : `Dict[str, float]`, optional
        lambda per dataset (default 1).
    dropout : `float`, optional (default = `0.5`)
        Dropout on the embeddings and on the encoder output.
    label_encoding : `str`, optional (default = `"BIOUL"`)
        Used for the CRF constraints and the span metrics.
    include_start_end_transitions : `bool`, optional (default = `True`)
    training_metrics : `bool`, optional (default = `False`)
        Decode and score during training too (costs a Viterbi pass per batch).
    initializer : `InitializerApplicator`, optional
    """

    def __init__(
        self,
        vocab: Vocabulary,
        text_field_embedder: TextFieldEmbedder,
        encoder: Seq2SeqEncoder,
        private_layers: List[str] = (),
        datasets: Optional[List[str]] = None,
        loss_weights: Optional[Dict[str, float]] = None,
        dropout: float = 0.5,
        label_encoding: str = "BIOUL",
        include_start_end_transitions: bool = True,
        training_metrics: bool = False,
        initializer: InitializerApplicator = InitializerApplicator(),
        **kwargs,
    ) -> None:
        super().__init__(vocab, **kwargs)
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
        self.datasets: List[str] = list(datasets)
        loss_weights = dict(loss_weights or {})
        unknown = sorted(set(loss_weights) - set(self.datasets))
        if unknown:
            raise ValueError(f"loss_weights names datasets without a head: {unknown}")
        self._loss_weights = {name: float(loss_weights.get(name, 1.0)) for name in self.datasets}
        self._training_metrics = training_metrics

        # Shared and private layers.
        private_layers = list(private_layers)
        embedder_keys: List[str] = []
        if isinstance(text_field_embedder, BasicTextFieldEmbedder):
            embedder_keys = sorted(text_field_embedder._token_embedders)
        for layer in private_layers:
            if layer != ENCODER and layer not in embedder_keys:
                raise ValueError(
                    f"private_layers: {layer!r} is neither 'encoder' nor a token embedder key "
                    f"of a basic text field embedder ({embedder_keys})"
                )
        self._private_embedder_keys = sorted(set(private_layers) - {ENCODER})
        self._private_embedders = torch.nn.ModuleDict()
        for key in self._private_embedder_keys:
            # Take the embedder out of the shared text field embedder (an `EmptyEmbedder`
            # takes its place, which the embedder skips); each dataset gets a copy.
            template = text_field_embedder._token_embedders[key]  # type: ignore
            empty = EmptyEmbedder()
            text_field_embedder._token_embedders[key] = empty  # type: ignore
            setattr(text_field_embedder, f"token_embedder_{key}", empty)
            self._private_embedders[key] = torch.nn.ModuleDict(
                {name: _fresh_copy(template) for name in self.datasets}
            )
        self._has_shared_embedders = (
            not embedder_keys or len(self._private_embedder_keys) < len(embedder_keys)
        )
        self._text_field_embedder = text_field_embedder
        embedding_dim = (
            text_field_embedder.get_output_dim() if self._has_shared_embedders else 0
        ) + sum(
            self._private_embedders[key][self.datasets[0]].get_output_dim()
            for key in self._private_embedder_keys
        )
        if encoder.get_input_dim() != embedding_dim:
            raise ValueError(
                f"encoder input_dim is {encoder.get_input_dim()}, the embeddings have "
                f"{embedding_dim} dimensions"
            )
        self._private_encoder = ENCODER in private_layers
        if self._private_encoder:
            self._encoders = torch.nn.ModuleDict(
                {name: _fresh_copy(encoder) for name in self.datasets}
            )
        else:
            self._encoder = encoder
        self._dropout = torch.nn.Dropout(dropout)

        # One projection and CRF per dataset.
        self._projections = torch.nn.ModuleDict()
        self._crfs = torch.nn.ModuleDict()
        self._metrics: Dict[str, SpanBasedF1Measure] = {}
        for name in self.datasets:
            namespace = label_namespace(name)
            labels = vocab.get_index_to_token_vocabulary(namespace)
            if not labels:
                raise ValueError(f"no labels in vocabulary namespace {namespace!r}")
            self._projections[name] = torch.nn.Linear(encoder.get_output_dim(), len(labels))
            self._crfs[name] = ConditionalRandomField(
                len(labels),
                allowed_transitions(label_encoding, labels),
                include_start_end_transitions=include_start_end_transitions,
            )
            self._metrics[name] = SpanBasedF1Measure(
                vocab, tag_namespace=namespace, label_encoding=label_encoding
            )
        self._evaluated: set = set()
        initializer(self)

    # ------------------------------------------------------------------ forward

    def _views(
        self, metadata: Optional[List[Dict[str, Any]]], batch_size: int, labelled: bool, device
    ) -> List[View]:
        """Which head runs on which rows."""
        names = [(entry or {}).get("dataset") for entry in (metadata or [{}] * batch_size)]
        if all(name is None for name in names):
            if labelled:
                raise ValueError(
                    "tags were given without metadata naming each row's dataset; tag ids "
                    "only mean something in their dataset's label namespace"
                )
            return [(head, None) for head in self.datasets]
        unknown = sorted({name for name in names if name not in self.datasets} - {None})
        if unknown or None in names:
            raise ValueError(
                f"batch rows name datasets this model has no head for: "
                f"{unknown or ['(none) mixed with named datasets']}; heads: {self.datasets}"
            )
        views = []
        for head in self.datasets:
            rows = [i for i, name in enumerate(names) if name == head]
            if len(rows) == batch_size:
                views.append((head, None))
            elif rows:
                views.append((head, torch.tensor(rows, dtype=torch.long, device=device)))
        return views

    def _embed(self, tokens: TextFieldTensors, view: View, shared: Optional[torch.Tensor]):
        """Embeddings of a view's rows: shared embedders' output plus the head's private ones."""
        head, rows = view
        parts = []
        if shared is not None:
            parts.append(shared if rows is None else shared.index_select(0, rows))
        for key in self._private_embedder_keys:
            parts.append(self._private_embedders[key][head](**_select_rows(tokens[key], rows)))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

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

        # Returns

        `loss` when tags are given; when decoding (evaluation, prediction), `predicted_tags`:
        per row a dict `{dataset: [tag ids]}`. When `span_scores` is true (the
        `biomedical_entities` predictor), also `span_score_parts`: per row
        `{dataset: (left, right)}`, two lists of floats such that the posterior probability
        that tokens `s..e` carry exactly their predicted tags is `exp(left[s] + right[e])`
        (see `crf_marginals.path_span_log_probability_parts`).
        """
        # Shape: (batch_size, num_tokens)
        mask = util.get_text_field_mask(tokens)
        batch_size = mask.size(0)
        views = self._views(metadata, batch_size, tags is not None, mask.device)

        shared_tokens = {
            key: value for key, value in tokens.items() if key not in self._private_embedder_keys
        }
        # Shape: (batch_size, num_tokens, shared_embedding_dim)
        shared = self._text_field_embedder(shared_tokens) if self._has_shared_embedders else None

        head_names = [head for head, _ in views]
        view_rows = [
            torch.arange(batch_size, device=mask.device) if rows is None else rows
            for _, rows in views
        ]
        # Shape: (total_rows,): batch row of each view's rows, stacked view after view.
        all_rows = torch.cat(view_rows)
        # Shape: (total_rows, num_tokens)
        row_mask = mask.index_select(0, all_rows)

        encoded_views: Dict[str, torch.Tensor] = {}
        if not self._private_embedder_keys and not self._private_encoder:
            # Everything shared: one encoder pass for the whole batch.
            # Shape: (batch_size, num_tokens, encoder_dim)
            encoded = self._dropout(self._encoder(self._dropout(shared), mask))
            for head, rows in views:
                encoded_views[head] = encoded if rows is None else encoded.index_select(0, rows)
        elif not self._private_encoder:
            # Private embedders, shared encoder (MTM-W): each head embeds its own rows, and
            # the views are stacked so that one encoder pass serves them all.
            # Shape: (total_rows, num_tokens, embedding_dim)
            embedded = torch.cat([self._embed(tokens, view, shared) for view in views])
            # Shape: (total_rows, num_tokens, encoder_dim)
            encoded = self._dropout(self._encoder(self._dropout(embedded), row_mask))
            sizes = [len(rows) for rows in view_rows]
            encoded_views = dict(zip(head_names, encoded.split(sizes)))
        else:
            for view in views:
                head, rows = view
                view_mask = mask if rows is None else mask.index_select(0, rows)
                encoder = self._encoders[head] if self._private_encoder else self._encoder
                embedded = self._dropout(self._embed(tokens, view, shared))
                encoded_views[head] = self._dropout(encoder(embedded, view_mask))

        decode = tags is None or not self.training or self._training_metrics
        output: Dict[str, Any] = {}
        # Every view's rows stacked, so one CRF pass serves every head.
        crfs = [self._crfs[head] for head in head_names]
        # Shape: (total_rows,): head of each stacked row.
        heads = torch.cat(
            [torch.full_like(rows, index) for index, rows in enumerate(view_rows)]
        )
        head_logits = [
            self._projections[head](encoded_views[head]) for head in head_names
        ]
        # Shape: (total_rows, num_tokens, max_num_tags)
        logits = pad_logits(head_logits, max(crf.num_tags for crf in crfs))
        row_tags = None
        if tags is not None:
            row_tags = tags.index_select(0, all_rows)
            # Shape: (total_rows,)
            log_likelihood = multi_head_log_likelihood(crfs, logits, row_tags, row_mask, heads)
            weights = logits.new_tensor([self._loss_weights[head] for head in head_names])
            output["loss"] = -(weights[heads] * log_likelihood).sum() / batch_size
        if decode:
            # Shape: (total_rows, num_tokens)
            best_tags, _ = multi_head_viterbi(crfs, logits, row_mask, heads)
            predicted: List[Dict[str, List[int]]] = [{} for _ in range(batch_size)]
            lengths = row_mask.sum(dim=1).tolist()
            for row, head_index, length, path in zip(
                all_rows.tolist(), heads.tolist(), lengths, best_tags.tolist()
            ):
                predicted[row][head_names[head_index]] = path[:length]
            output["predicted_tags"] = predicted
            score_parts: List[Dict[str, Tuple[List[float], List[float]]]] = [
                {} for _ in range(batch_size)
            ]
            offset = 0
            for head, rows, view_logits in zip(head_names, view_rows, head_logits):
                part = slice(offset, offset + len(rows))
                offset += len(rows)
                if span_scores:
                    left, right = path_span_log_probability_parts(
                        self._crfs[head], view_logits, row_mask[part], best_tags[part]
                    )
                    for position, (row, length) in enumerate(zip(rows.tolist(), lengths[part])):
                        score_parts[row][head] = (
                            left[position, :length].tolist(),
                            right[position, :length].tolist(),
                        )
                if row_tags is not None:
                    one_hot = torch.nn.functional.one_hot(
                        best_tags[part], view_logits.size(-1)
                    ).float()
                    self._metrics[head](one_hot, row_tags[part], row_mask[part])
                    self._evaluated.add(head)
            if span_scores:
                output["span_score_parts"] = score_parts
        if metadata is not None:
            output["words"] = [entry.get("words") for entry in metadata]
        return output

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
        `macro_f1`, their mean over the datasets evaluated since the last reset. At a reset
        (end of an epoch, `allennlp evaluate`) also `<dataset>_<type>_precision|recall|f1`
        per entity type.
        """
        metrics: Dict[str, float] = {}
        evaluated = [name for name in self.datasets if name in self._evaluated]
        for name in evaluated:
            values = self._metrics[name].get_metric(reset=reset)
            for measure in ("precision", "recall", "f1"):
                key = "f1-measure" if measure == "f1" else measure
                metrics[f"{name}_{measure}"] = values[f"{key}-overall"]
                if reset:
                    for metric_key, value in values.items():
                        if metric_key.startswith(f"{key}-") and not metric_key.endswith("-overall"):
                            entity_type = metric_key[len(key) + 1 :]
                            metrics[f"{name}_{entity_type}_{measure}"] = value
        if evaluated:
            metrics["macro_f1"] = sum(metrics[f"{name}_f1"] for name in evaluated) / len(evaluated)
        if reset:
            self._evaluated = set()
        return metrics

    def forward_on_instances(
        self, instances: List[Instance], span_scores: bool = False
    ) -> List[Dict[str, Any]]:
        """
        `Model.forward_on_instances`, with `span_scores` passed to `forward` (the
        `biomedical_entities` predictor asks for them). Every output but `loss` is a list
        with one entry per row, so the outputs split per instance without allennlp's
        tensor handling.
        """
        with torch.no_grad():
            batch = Batch(instances)
            batch.index_instances(self.vocab)
            model_input = util.move_to_device(
                batch.as_tensor_dict(), self._get_prediction_device()
            )
            outputs = self.make_output_human_readable(self(**model_input, span_scores=span_scores))
        outputs.pop("loss", None)
        return [
            {name: value[row] for name, value in outputs.items()} for row in range(len(instances))
        ]

    default_predictor = "biomedical_entities"
