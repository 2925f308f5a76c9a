"""
Prediction throughput of the `biomedical_entities` predictor on raw PubMed abstracts
(title + abstract of a PubTator file), every head of the archive in one pass.

Reports, per batch size (documents per `predict_batch_json` call, as `allennlp predict
--batch-size`): tokens/s of the prediction calls (sentence splitting, tokenization,
indexing, model, merging; archive loading excluded), and the start-up cost: archive
loading in-process, and the wall time of a whole `allennlp predict` command on one
document (imports included).

    python benchmarks/predict_throughput.py ARCHIVE [--data FILE] [--batch-sizes 1 16 64]
        [--compare-merge [ROUNDS]]

`--compare-merge` also times the predictor's default merge (`merge="consensus"`) against
`merge="union"` side by side (alternating, ROUNDS each, the largest batch size), and the
merging step alone (`merge_heads` over every head's reading of every document) as a share
of the prediction time.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import biomtl_allennlp  # noqa: E402,F401
from biomtl_allennlp.common.archives import predictor_from_path  # noqa: E402
from biomtl_allennlp.documents.pubtator import read_pubtator  # noqa: E402
from biomtl_allennlp.evaluation.pubtator_eval import predict_documents  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive")
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared/data/pubtator/CDR_DevelopmentSet.PubTator.txt")
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare-merge", type=int, nargs="?", const=3, default=0, metavar="ROUNDS")
    parser.add_argument("--no-startup", action="store_true", help="skip the `allennlp predict` timing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    documents = list(read_pubtator(args.data))
    print("# Prediction throughput\n")
    print(f"- command: `python {' '.join(sys.argv)}`")
    print(f"- torch {torch.__version__}, threads {args.threads}; load average at start: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- documents: {len(documents)} from {args.data}\n")

    started = time.perf_counter()
    predictor = predictor_from_path(args.archive, "biomedical_entities")
    load_seconds = time.perf_counter() - started
    heads = predictor._model.datasets
    print(f"Archive: {args.archive}, heads: {', '.join(heads)}; loading took {load_seconds:.1f} s\n")

    predict_documents(predictor, documents[:20], batch_size=16)  # warm-up
    print("| batch size (documents) | tokens | seconds | tokens/s | documents/s |")
    print("|---|---|---|---|---|")
    for batch_size in args.batch_sizes:
        _, throughput = predict_documents(predictor, documents, batch_size=batch_size)
        print(f"| {batch_size} | {throughput['tokens']:,} | {throughput['seconds']:.1f} | "
              f"{throughput['tokens_per_second']:,.0f} | "
              f"{throughput['documents'] / throughput['seconds']:.1f} |")

    if args.compare_merge:
        compare_merge(args.archive, documents, max(args.batch_sizes), args.compare_merge)
    if args.no_startup:
        return
    # Start-up of the command itself: one document through `allennlp predict`.
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.jsonl"
        one.write_text('{"pmid": "1", "text": "Cisplatin induced nephrotoxicity."}\n')
        command = [str(ROOT / ".venv/bin/allennlp"), "predict", args.archive, str(one),
                   "--include-package", "biomtl_allennlp", "--silent",
                   "--output-file", str(Path(tmp) / "out.jsonl")]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        startup = time.perf_counter() - started
    print(f"\n`allennlp predict` on one document, whole command (imports, archive loading, "
          f"one prediction): {startup:.1f} s")


def compare_merge(archive: str, documents, batch_size: int, rounds: int) -> None:
    """The default merge against the union, side by side, and the merging step's share."""
    predictors = {
        merge: predictor_from_path(archive, "biomedical_entities", merge=merge, alternatives=True)
        for merge in ("union", "consensus")
    }
    seconds = {merge: [] for merge in predictors}
    for _ in range(rounds):
        for merge, predictor in predictors.items():
            readings, throughput = predict_documents(
                predictor, documents, batch_size=batch_size, field="alternatives"
            )
            seconds[merge].append(throughput["seconds"])
    merging = {}
    for merge, predictor in predictors.items():
        started = time.perf_counter()
        for entities in readings.values():
            predictor.extractor.merge_heads(entities, types_mapped=True)
        merging[merge] = time.perf_counter() - started
    median = {merge: sorted(values)[len(values) // 2] for merge, values in seconds.items()}
    print(f"\n## Merge rule, side by side (batch {batch_size}, {rounds} rounds each, alternating)\n")
    print("| merge | prediction seconds per round | median | merging alone (s) | merging / median |")
    print("|---|---|---|---|---|")
    for merge in predictors:
        print(f"| {merge} | {', '.join(f'{s:.2f}' for s in seconds[merge])} | {median[merge]:.2f} | "
              f"{merging[merge]:.3f} | {100 * merging[merge] / median[merge]:.2f}% |")
    print(f"\nconsensus / union prediction time (medians): {median['consensus'] / median['union']:.3f}")


if __name__ == "__main__":
    main()
