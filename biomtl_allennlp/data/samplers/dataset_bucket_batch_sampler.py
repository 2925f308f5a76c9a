import math
import random
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence

from allennlp.common.checks import ConfigurationError
from allennlp.data.instance import Instance
from allennlp.data.samplers import BatchSampler, BucketBatchSampler

MIXINGS = ("mixed", "homogeneous", "one_dataset_per_epoch")


@BatchSampler.register("dataset_bucket")
class DatasetBucketBatchSampler(BucketBatchSampler):
    """
    Length-bucketed batches (allennlp's `bucket` sampler) with a choice of how the datasets
    of a `multitask_ner` reader mix, for comparing training schedules:

    - `"mixed"` (default): allennlp's `bucket` over all instances; a batch mixes datasets
      in proportion to their size.
    - `"homogeneous"`: every batch holds one dataset (bucketed within it). Without
      `temperature`, every batch of every dataset once per epoch, in random order (each
      dataset in proportion to its size). With `temperature` T, each of the epoch's
      batches comes from a dataset drawn with probability proportional to `n_i ** (1 / T)`
      (`n_i` its number of sentences): T = 1 is proportional, a large T uniform; a dataset
      whose batches run out is bucketed and shuffled again.
    - `"one_dataset_per_epoch"`: the schedule of the paper's code (`train_wc.py` of
      Multi-BioNER): each epoch is one whole pass over a single dataset drawn uniformly at
      random. Give the trainer a `validation_data_loader` with a plain `bucket` sampler so
      validation still covers every dataset. The draw sequence starts anew when training
      is resumed with `--recover`.

    The dataset of an instance is `instance["metadata"]["dataset"]`.

    Registered as a `BatchSampler` with name "dataset_bucket".

    # Parameters

    batch_size : `int`
    sorting_keys : `List[str]`, optional
    padding_noise : `float`, optional (default = `0.1`)
    drop_last : `bool`, optional (default = `False`)
    shuffle : `bool`, optional (default = `True`)
        As for allennlp's `bucket` sampler.
    mixing : `str`, optional (default = `"mixed"`)
        One of `"mixed"`, `"homogeneous"`, `"one_dataset_per_epoch"`.
    temperature : `float`, optional (default = `None`)
        Only with `"homogeneous"`: sample each batch's dataset (see above).
    """

    def __init__(
        self,
        batch_size: int,
        sorting_keys: List[str] = None,
        padding_noise: float = 0.1,
        drop_last: bool = False,
        shuffle: bool = True,
        mixing: str = "mixed",
        temperature: Optional[float] = None,
    ) -> None:
        super().__init__(batch_size, sorting_keys, padding_noise, drop_last, shuffle)
        if mixing not in MIXINGS:
            raise ConfigurationError(f"dataset_bucket: mixing must be one of {MIXINGS}, got {mixing!r}")
        if temperature is not None and (mixing != "homogeneous" or temperature <= 0):
            raise ConfigurationError(
                "dataset_bucket: temperature must be positive and needs mixing='homogeneous'"
            )
        self.mixing = mixing
        self.temperature = temperature
        # `one_dataset_per_epoch`: the dataset of the coming epoch, drawn when the loader
        # first asks for the epoch's length or batches.
        self._epoch_dataset: Optional[str] = None

    def get_batch_indices(self, instances: Sequence[Instance]) -> Iterable[List[int]]:
        if self.mixing == "mixed":
            yield from super().get_batch_indices(instances)
            return
        by_dataset = _indices_by_dataset(instances)
        if self.mixing == "one_dataset_per_epoch":
            dataset = self._dataset_of_epoch(by_dataset)
            self._epoch_dataset = None
            yield from self._shuffled(self._bucket(instances, by_dataset[dataset]))
        elif self.temperature is None:
            batches = [b for indices in by_dataset.values() for b in self._bucket(instances, indices)]
            yield from self._shuffled(batches)
        else:
            yield from self._sampled(instances, by_dataset)

    def get_num_batches(self, instances: Sequence[Instance]) -> int:
        if self.mixing == "mixed":
            return super().get_num_batches(instances)
        by_dataset = _indices_by_dataset(instances)
        if self.mixing == "one_dataset_per_epoch":
            return self._num_batches(len(by_dataset[self._dataset_of_epoch(by_dataset)]))
        return sum(self._num_batches(len(indices)) for indices in by_dataset.values())

    def _dataset_of_epoch(self, by_dataset: Dict[str, List[int]]) -> str:
        if self._epoch_dataset is None:
            self._epoch_dataset = random.choice(sorted(by_dataset))
        return self._epoch_dataset

    def _num_batches(self, num_instances: int) -> int:
        if self.drop_last:
            return num_instances // self.batch_size
        return math.ceil(num_instances / self.batch_size)

    def _bucket(self, instances: Sequence[Instance], indices: List[int]) -> List[List[int]]:
        """Length-bucketed batches of the instances at `indices` (allennlp's argsort)."""
        order, _ = self._argsort_by_padding([instances[i] for i in indices])
        ordered = [indices[i] for i in order]
        batches = [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _shuffled(self, batches: List[List[int]]) -> List[List[int]]:
        if self.shuffle:
            random.shuffle(batches)
        return batches

    def _sampled(
        self, instances: Sequence[Instance], by_dataset: Dict[str, List[int]]
    ) -> Iterable[List[int]]:
        names = list(by_dataset)
        weights = [len(by_dataset[name]) ** (1.0 / self.temperature) for name in names]  # type: ignore
        queues: Dict[str, List[List[int]]] = {name: [] for name in names}
        total = sum(self._num_batches(len(indices)) for indices in by_dataset.values())
        for name in random.choices(names, weights=weights, k=total):
            if not queues[name]:
                queues[name] = self._shuffled(self._bucket(instances, by_dataset[name]))
            if queues[name]:  # empty only with drop_last and fewer than batch_size sentences
                yield queues[name].pop()


def _indices_by_dataset(instances: Sequence[Instance]) -> Dict[str, List[int]]:
    by_dataset: Dict[str, List[int]] = defaultdict(list)
    for index, instance in enumerate(instances):
        metadata = instance.fields.get("metadata")
        dataset = metadata.metadata.get("dataset") if metadata is not None else None  # type: ignore
        if dataset is None:
            raise ConfigurationError(
                f"dataset_bucket: instance {index} has no metadata naming its dataset "
                "(read the data with the 'multitask_ner' reader)"
            )
        by_dataset[dataset].append(index)
    return dict(by_dataset)
