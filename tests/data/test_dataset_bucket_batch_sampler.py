import random
from collections import Counter

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data.samplers import BatchSampler

from biomtl_allennlp.dataset_readers.multitask_ner import MultiTaskNerDatasetReader

SIZES = {"a": 30, "b": 6, "c": 3}


@pytest.fixture(scope="module")
def instances():
    reader = MultiTaskNerDatasetReader(["a"])
    result = []
    for dataset, size in SIZES.items():
        for i in range(size):
            words = ["w"] * (1 + (i * 7) % 5)
            result.append(reader.text_to_instance(words, ["O"] * len(words), dataset=dataset))
    random.Random(0).shuffle(result)
    return result


def sampler(**kwargs):
    return BatchSampler.from_params(
        Params({"type": "dataset_bucket", "batch_size": 4, "sorting_keys": ["tokens"], **kwargs})
    )


def dataset_of(instances, index):
    return instances[index]["metadata"]["dataset"]


def test_mixed_is_allennlps_bucket(instances):
    random.seed(1)
    ours = list(sampler().get_batch_indices(instances))
    random.seed(1)
    theirs = list(
        BatchSampler.from_params(
            Params({"type": "bucket", "batch_size": 4, "sorting_keys": ["tokens"]})
        ).get_batch_indices(instances)
    )
    assert ours == theirs
    assert sampler().get_num_batches(instances) == len(ours) == 10


def test_homogeneous_batches_cover_every_sentence_once(instances):
    batches = list(sampler(mixing="homogeneous").get_batch_indices(instances))
    assert all(len({dataset_of(instances, i) for i in batch}) == 1 for batch in batches)
    assert sorted(i for batch in batches for i in batch) == list(range(len(instances)))
    # ceil(30 / 4) + ceil(6 / 4) + ceil(3 / 4)
    assert len(batches) == sampler(mixing="homogeneous").get_num_batches(instances) == 8 + 2 + 1
    # Bucketed within a dataset: lengths in a batch come from allennlp's noisy argsort.
    for batch in batches:
        assert all(len(instances[i]["tokens"]) >= 1 for i in batch)


def test_temperature_samples_datasets(instances):
    random.seed(2)
    uniform = sampler(mixing="homogeneous", temperature=1000.0)
    counts = Counter()
    for _ in range(200):
        for batch in uniform.get_batch_indices(instances):
            counts[dataset_of(instances, batch[0])] += 1
    total = sum(counts.values())
    assert total == 200 * 11
    for name in SIZES:  # about a third each (p = 1/3 up to 0.1%)
        assert abs(counts[name] / total - 1 / 3) < 0.03
    random.seed(3)
    proportional = sampler(mixing="homogeneous", temperature=1.0)
    counts = Counter(
        dataset_of(instances, batch[0])
        for _ in range(200)
        for batch in proportional.get_batch_indices(instances)
    )
    assert abs(counts["a"] / sum(counts.values()) - 30 / 39) < 0.03


def test_one_dataset_per_epoch(instances):
    random.seed(4)
    schedule = sampler(mixing="one_dataset_per_epoch")
    seen = Counter()
    for _ in range(60):
        expected = schedule.get_num_batches(instances)
        batches = list(schedule.get_batch_indices(instances))
        assert len(batches) == expected
        names = {dataset_of(instances, i) for batch in batches for i in batch}
        assert len(names) == 1
        [name] = names
        assert sum(len(batch) for batch in batches) == SIZES[name]
        seen[name] += 1
    assert set(seen) == set(SIZES) and min(seen.values()) >= 10


def test_bad_arguments_are_clear_errors(instances):
    with pytest.raises(ConfigurationError, match="mixing must be one of"):
        sampler(mixing="round_robin")
    with pytest.raises(ConfigurationError, match="temperature"):
        sampler(temperature=2.0)
    reader = MultiTaskNerDatasetReader(["a"])
    raw = [reader.text_to_instance(["w"])]
    raw[0]["metadata"].metadata.pop("dataset", None)
    with pytest.raises(ConfigurationError, match="instance 0 has no metadata naming its dataset"):
        list(sampler(mixing="homogeneous").get_batch_indices(raw))
