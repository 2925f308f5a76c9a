"""
Tagging one very large document with the `biomedical_entities` predictor: time, memory and
the merging step's share, at growing sizes, to show time grows linearly with the text (the
overlap resolution is O(n log n)) and memory stays bounded.

    python benchmarks/large_document.py [ARCHIVE] [--sizes 100000 1000000 10000000] [--threads 2]

The text is the shipped fixture abstracts (`fixtures/pubmed/abstracts.pubtator`) repeated
until it has the size asked for (characters). Each size runs in a process of its own, so
the peak resident memory printed is that size's.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(archive: str, size: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from biomtl_allennlp.common.archives import predictor_from_path
    from biomtl_allennlp.documents.entity import Entity
    from biomtl_allennlp.documents.pubtator import read_pubtator

    abstracts = [d.text for d in read_pubtator(ROOT / "fixtures" / "pubmed" / "abstracts.pubtator")]
    text = ""
    while len(text) < size:
        text += " ".join(abstracts) + " "
    text = text[:size]
    predictor = predictor_from_path(archive, "biomedical_entities", alternatives=True)
    started = time.perf_counter()
    output = predictor.predict_json({"text": text})
    seconds = time.perf_counter() - started
    readings = [Entity.from_json(entity) for entity in output["alternatives"]]
    started = time.perf_counter()
    predictor.extractor.merge_heads(readings, types_mapped=True)
    merging = time.perf_counter() - started
    assert output["text"] == text and "error" not in output
    return {"characters": len(text), "tokens": predictor.tokens_processed, "seconds": seconds,
            "merging_seconds": merging, "entities": len(output["entities"]), "readings": len(readings),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.archive is None:
        from biomtl_allennlp.pretrained import tagger_path

        args.archive = str(tagger_path())
    if args.one:
        print(json.dumps(one(args.archive, args.one, args.threads)))
        return
    print("# One large document\n")
    print(f"- command: `python {' '.join(sys.argv)}`; archive {args.archive}, {args.threads} threads\n")
    print("| characters | tokens | seconds | characters/s | merging (s) | entities | head readings | peak memory (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        result = subprocess.run(
            [sys.executable, __file__, args.archive, "--one", str(size), "--threads", str(args.threads)],
            check=True, capture_output=True, text=True,
        )
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {row['characters']:,} | {row['tokens']:,} | {row['seconds']:.1f} | "
              f"{row['characters'] / row['seconds']:,.0f} | {row['merging_seconds']:.2f} | {row['entities']:,} | "
              f"{row['readings']:,} | {row['peak_rss_mib']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
