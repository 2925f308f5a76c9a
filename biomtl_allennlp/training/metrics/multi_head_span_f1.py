"""
The span metrics of a multi-head tagger: one exact-match span F1 per head, each in its own
label namespace, and their macro mean, under the names of
`biomtl_allennlp.common.metric_keys`.
"""
from typing import Any, Dict, List, Sequence

import torch
import torch.distributed as dist
from allennlp.common.util import is_distributed
from allennlp.data import Vocabulary

from biomtl_allennlp.common.datasets import label_namespace
from biomtl_allennlp.common.metric_keys import MACRO_F1, MEASURES, metric_key
from biomtl_allennlp.training.metrics.distributed_span_f1 import DistributedSpanBasedF1Measure


class MultiHeadSpanF1:
    """
    A `DistributedSpanBasedF1Measure` per head, and which heads were evaluated since the
    last reset: a batch of one dataset updates only its head, and `macro_f1` averages the
    heads evaluated (on any worker in distributed training).

    # Parameters

    vocab : `Vocabulary`
    heads : `Sequence[str]`
        Dataset names; head `name` reads its tags from the `"<name>_labels"` namespace.
    label_encoding : `str`
        The tags' encoding (`"BIOUL"`, ...), for the span extraction.
    """

    def __init__(self, vocab: Vocabulary, heads: Sequence[str], label_encoding: str) -> None:
        self.heads = list(heads)
        self._metrics = {
            name: DistributedSpanBasedF1Measure(
                vocab, tag_namespace=label_namespace(name), label_encoding=label_encoding
            )
            for name in self.heads
        }
        self._evaluated: set = set()

    def __call__(
        self,
        head: str,
        predictions: torch.Tensor,
        gold_labels: torch.Tensor,
        mask: torch.BoolTensor,
    ) -> None:
        """
        Scores rows of one head.

        # Parameters

        head : `str`
        predictions : `torch.Tensor`
            Shape: (head_rows, num_tokens, tags_of_head), e.g. the one-hot decoded tags.
        gold_labels : `torch.Tensor`
            Shape: (head_rows, num_tokens)
        mask : `torch.BoolTensor`
            Shape: (head_rows, num_tokens)
        """
        self._metrics[head](predictions, gold_labels, mask)
        self._evaluated.add(head)

    def get_metric(self, reset: bool = False) -> Dict[str, float]:
        """
        Per head `<dataset>_precision`, `_recall`, `_f1` (exact span match) and `macro_f1`,
        their mean over the heads evaluated since the last reset. At a reset (end of an
        epoch, `allennlp evaluate`) also `<dataset>_<type>_precision|recall|f1` per entity
        type. In distributed training the counts are summed over the workers, so every
        worker reports the whole split's F1.
        """
        metrics: Dict[str, float] = {}
        evaluated = [name for name in self.heads if name in self._evaluated_anywhere()]
        for name in evaluated:
            values = self._metrics[name].get_metric(reset=reset)
            for measure in MEASURES:
                allennlp_name = "f1-measure" if measure == "f1" else measure
                metrics[metric_key(name, measure)] = values[f"{allennlp_name}-overall"]
                if reset:
                    for key, value in values.items():
                        if key.startswith(f"{allennlp_name}-") and not key.endswith("-overall"):
                            entity_type = key[len(allennlp_name) + 1 :]
                            metrics[metric_key(name, measure, entity_type)] = value
        if evaluated:
            f1s = [metrics[metric_key(name, "f1")] for name in evaluated]
            metrics[MACRO_F1] = sum(f1s) / len(f1s)
        if reset:
            self._evaluated = set()
        return metrics

    def _evaluated_anywhere(self) -> set:
        """The heads evaluated since the last reset, on any worker in distributed training
        (each worker sees other batches; their span metrics are summed over workers)."""
        if not is_distributed():
            return self._evaluated
        gathered: List[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, sorted(self._evaluated))
        return set().union(*gathered)
