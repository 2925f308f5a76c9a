"""
Data loading for training (issue 12): how much of producing an epoch's batches stays in
the training process, with the data loader's worker processes and without.

    python benchmarks/data_loading.py [--config gpu/mtm_cw.jsonnet] [--workers 0 2 4] \
        [--epochs 2] [--batch-size 10] [--max-instances-in-memory N]

The loader is the config's `data_loader` (allennlp's `MultiProcessDataLoader` with the
config's batch sampler) over the training split of `--datasets`, indexed with the
vocabulary the config's `vocabulary` section builds, with `num_workers` set to each of
`--workers`; with workers, `max_instances_in_memory` (default: the config's, else every
training sentence) makes the workers build the tensors as well as read the files, every
epoch. Each epoch is iterated as a training loop would, with nothing else done with the
batches, and reports wall seconds and the CPU seconds of this (the training) process:
what a GPU step has to wait for or share its core with. With 0 workers the first epoch
also reads the files (the loader keeps the instances); later epochs only batch and
tensorize. Every epoch is checked to hold each training sentence exactly once.
"""
import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_common_arguments, config_params, markdown_table, setup  # noqa: E402

from allennlp.common import Params  # noqa: E402
from allennlp.data import DataLoader, DatasetReader, Vocabulary  # noqa: E402


def loader_params(params: Params, workers: int, max_instances: Optional[int], batch_size: int) -> Dict:
    loader = params["data_loader"].as_dict()
    loader["batch_sampler"]["batch_size"] = batch_size
    loader["num_workers"] = workers
    loader.pop("max_instances_in_memory", None)
    if workers > 0:
        loader["max_instances_in_memory"] = max_instances
    return loader


def time_epochs(
    reader: DatasetReader, vocab: Vocabulary, loader: Dict, epochs: int, expected: Dict[str, int]
) -> List[Dict]:
    data_loader = DataLoader.from_params(
        Params(json.loads(json.dumps(loader))), reader=reader, data_path="train"
    )
    data_loader.index_with(vocab)
    rows = []
    for epoch in range(epochs):
        counts: collections.Counter = collections.Counter()
        batches = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in data_loader:
            batches += 1
            counts.update(metadata["dataset"] for metadata in batch["metadata"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if dict(counts) != expected:
            raise SystemExit(f"epoch {epoch} with {loader['num_workers']} workers gave {dict(counts)} "
                             f"sentences per corpus, not {expected}")
        rows.append({"epoch": epoch, "batches": batches, "sentences": sum(counts.values()),
                     "wall_s": wall, "cpu_s": cpu})
    return rows


def main(argv: Optional[Sequence[str]] = None) -> Dict[int, List[Dict]]:
    """Per `--workers` value, a row per epoch (batches, sentences, wall_s, cpu_s)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, batch_size=10, num_batches=None)
    parser.add_argument("--config", default="gpu/mtm_cw.jsonnet",
                        help="training config under training_configs/ (default: %(default)s)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="num_workers values to compare (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per setting (default: %(default)s)")
    parser.add_argument("--max-instances-in-memory", type=int, default=None,
                        help="with workers (default: the config's, else every training sentence)")
    args = parser.parse_args(argv)
    setup(args, "Data loading: training-process time per epoch, with and without worker processes",
          __file__, argv)

    params = config_params(args.config, args.datasets, args.data_root)
    if args.max_sentences is not None:
        params["dataset_reader"]["max_instances_per_dataset"] = args.max_sentences
    reader_params = params["dataset_reader"].as_dict()
    instances = list(DatasetReader.from_params(Params(dict(reader_params))).read("train"))
    expected = dict(collections.Counter(instance["metadata"]["dataset"] for instance in instances))
    vocab = Vocabulary.from_params(params.pop("vocabulary"), instances=instances)
    max_instances = (args.max_instances_in_memory or params["data_loader"].get("max_instances_in_memory")
                     or len(instances))
    print(f"- config: training_configs/{args.config}; training sentences: {len(instances):,} "
          f"({', '.join(f'{name} {count:,}' for name, count in expected.items())}); batch size "
          f"{args.batch_size}; with workers, max_instances_in_memory {max_instances:,}\n", flush=True)

    results = {}
    for workers in args.workers:
        loader = loader_params(params, workers, max_instances, args.batch_size)
        reader = DatasetReader.from_params(Params(dict(reader_params)))
        results[workers] = time_epochs(reader, vocab, loader, args.epochs, expected)
    # Later epochs (the steady state of a run): training-process CPU relative to 0 workers.
    steady = {workers: rows[1:] or rows for workers, rows in results.items()}
    baseline = min(steady)
    base_cpu = sum(row["cpu_s"] for row in steady[baseline]) / len(steady[baseline])
    table = []
    for workers, rows in results.items():
        for row in rows:
            table.append([
                workers, row["epoch"], f"{row['batches']:,}", f"{row['sentences']:,}",
                f"{row['wall_s']:.2f}", f"{row['cpu_s']:.2f}", f"{row['sentences'] / row['wall_s']:,.0f}",
            ])
    print(markdown_table(
        ["workers", "epoch", "batches", "sentences", "wall s", "training-process CPU s", "sentences/s (wall)"],
        table,
    ))
    print()
    for workers, rows in steady.items():
        cpu = sum(row["cpu_s"] for row in rows) / len(rows)
        print(f"- {workers} workers, epochs {rows[0]['epoch']}-{rows[-1]['epoch']}: training-process CPU "
              f"{cpu:.2f} s per epoch, {cpu / base_cpu:.2f}x that of {baseline} workers")
    return results


if __name__ == "__main__":
    main()
