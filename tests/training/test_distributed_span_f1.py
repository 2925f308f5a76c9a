"""`distributed_span_f1` over two gloo workers equals allennlp's `SpanBasedF1Measure` on
all the rows in one process."""
import pickle

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from allennlp.data import Vocabulary
from allennlp.training.metrics import SpanBasedF1Measure

from biomtl_allennlp.training.metrics.distributed_span_f1 import DistributedSpanBasedF1Measure

TAGS = ["O"] + [f"{prefix}-{kind}" for kind in ("GENE", "Chemical") for prefix in "BI"]


def vocabulary() -> Vocabulary:
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(TAGS, namespace="labels")
    return vocab


def random_batch(seed: int):
    """Random scores and gold tags (BIO: any tag sequence decodes) for 12 sentences of up to 15 tokens (with padding)."""
    generator = torch.Generator().manual_seed(seed)
    # Shape: (batch_size, num_tokens, num_tags)
    predictions = torch.rand(12, 15, len(TAGS), generator=generator)
    # Shape: (batch_size, num_tokens)
    gold = torch.randint(len(TAGS), (12, 15), generator=generator)
    lengths = torch.randint(1, 16, (12,), generator=generator)
    mask = torch.arange(15)[None, :] < lengths[:, None]
    return predictions, gold, mask


def measure(metric_class, rows=slice(None)):
    metric = metric_class(vocabulary(), tag_namespace="labels", label_encoding="BIO")
    for seed in range(3):
        predictions, gold, mask = random_batch(seed)
        metric(predictions[rows], gold[rows], mask[rows])
    return metric.get_metric(reset=True)


def worker(rank: int, init_file: str, output: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        # Worker `rank` sees the rows rank, rank + 2, ...: a sharded validation split.
        metrics = measure(DistributedSpanBasedF1Measure, slice(rank, None, 2))
    finally:
        dist.destroy_process_group()
    with open(f"{output}.{rank}", "wb") as file:
        pickle.dump(metrics, file)


def test_outside_distributed_training_it_is_allennlps_measure():
    assert measure(DistributedSpanBasedF1Measure) == measure(SpanBasedF1Measure)


def test_two_workers_report_the_span_f1_of_all_their_rows(tmp_path):
    expected = measure(SpanBasedF1Measure)
    assert 0.0 < expected["f1-measure-overall"] < 1.0
    assert {"f1-measure-GENE", "f1-measure-Chemical"} <= set(expected)
    mp.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path / "metrics")), nprocs=2)
    for rank in (0, 1):
        with open(tmp_path / f"metrics.{rank}", "rb") as file:
            metrics = pickle.load(file)
        assert metrics == pytest.approx(expected, abs=1e-15)
        assert set(metrics) == set(expected)
    # One worker's rows alone give other counts: the sum over workers is what matched.
    assert measure(SpanBasedF1Measure, slice(0, None, 2)) != expected
