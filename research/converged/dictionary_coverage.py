"""
How much of each split's gold mentions the training-mention dictionary holds (issue 11,
the dictionary feature): the share of mentions, as lowercased word sequences (the
dictionary indexer's default matching), found among the training mentions of the corpora.

    BIOMTL_DATA_ROOT=../shared/data .venv/bin/python -m research.converged.dictionary_coverage
"""
import argparse

from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans

from biomtl_allennlp.common.datasets import (
    BENCHMARK_DATASETS,
    SPLITS,
    dataset_folder,
    resolve_data_root,
    split_file,
)
from biomtl_allennlp.data.crichton_tsv import read_sentences


def mentions(dataset: str, split: str, data_root: str):
    for words, tags in read_sentences(split_file(dataset_folder(dataset, data_root), split)):
        for _, (start, end) in bioul_tags_to_spans(tags):
            yield " ".join(word.lower() for word in words[start : end + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None, help="default: $BIOMTL_DATA_ROOT")
    parser.add_argument("--datasets", nargs="+", default=list(BENCHMARK_DATASETS))
    args = parser.parse_args()
    root = resolve_data_root(args.data_root)
    dictionary = {m for d in args.datasets for m in mentions(d, "train", root)}
    print("| dataset | " + " | ".join(f"{split}: in dictionary (mentions)" for split in SPLITS) + " |")
    print("|---" * (len(SPLITS) + 1) + "|")
    for dataset in args.datasets:
        cells = []
        for split in SPLITS:
            found = [m in dictionary for m in mentions(dataset, split, root)]
            cells.append(f"{100 * sum(found) / len(found):.1f}% ({len(found):,})")
        print(f"| {dataset} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
