"""
Throughput of `allennlp tag-corpus` (Ray workers, 1 thread each) against one `allennlp
predict` process (1 thread) on the same documents: whole commands, timed from outside.

The documents are the titles and abstracts of PubTator files (default: the CDR and NCBI
development sets, 600 PubMed abstracts), written as PubMed XML files of `--per-file`
citations for `tag-corpus` and as one JSON-lines file for `allennlp predict`. For each
command: wall time of the whole process, time to its first output, documents/s and
tokens/s over the whole run and after the first output (the steady rate: the documents
after the first batch over the time after it; start-up and model loading excluded), and peak memory (per worker for `tag-corpus`, from its summary;
of the process for `allennlp predict`). Then the ratio per worker / one `predict` process
and a projection, stated as such, of the hours for 36M abstracts on N workers.

Run it alone on the machine (nothing else using the cores):

    BIOMTL_DATA_ROOT=../shared/data .venv/bin/python benchmarks/tag_corpus_throughput.py [ARCHIVE] [--rounds 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from biomtl_allennlp.documents.medline_xml import format_citation  # noqa: E402
from biomtl_allennlp.documents.pubtator import read_pubtator  # noqa: E402

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
PUBMED_ABSTRACTS = 36_000_000


def write_inputs(documents: List[Dict[str, str]], folder: Path, per_file: int) -> None:
    (folder / "xml").mkdir(parents=True)
    for number, first in enumerate(range(0, len(documents), per_file), start=1):
        parts = ["<?xml version='1.0' encoding='utf-8'?>\n<PubmedArticleSet>"]
        for d in documents[first : first + per_file]:
            parts.append(format_citation(d["pmid"], d["title"], d["abstract"]))
        parts.append("</PubmedArticleSet>\n")
        (folder / "xml" / f"pubmed_sample{number:04d}.xml").write_text("\n".join(parts), encoding="utf-8")
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as handle:
        for d in documents:
            handle.write(json.dumps(d) + "\n")


def timed(command: List[str], watch: Path) -> Dict[str, Optional[float]]:
    """Runs `command` (1 torch thread), polling `watch` (a file or folder) for its first
    output; returns wall seconds, seconds to first output and the process's peak RSS
    (for `tag-corpus` the driver's; its workers report their own)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first, peak_kb = None, 0
    while process.poll() is None:
        if first is None and _has_output(watch):
            first = time.perf_counter() - started
        peak_kb = max(peak_kb, _peak_rss_kb(process.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - started
    log = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{log[-3000:]}")
    return {"wall": wall, "first": first if first is not None else wall, "peak_mb": peak_kb / 1024}


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _has_output(watch: Path) -> bool:
    if watch.is_dir():
        return any(
            entry.stat().st_size > 0 for entry in watch.iterdir() if entry.name.endswith(".jsonl")
            or entry.name.endswith(".jsonl.partial")
        )
    return watch.exists() and watch.stat().st_size > 0


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", default=str(ROOT / "biomtl_allennlp/pretrained/mtm_cw/model.tar.gz"))
    data_root = Path(os.environ.get("BIOMTL_DATA_ROOT", ROOT.parent / "shared/data"))
    parser.add_argument("--data", nargs="+", default=[
        str(data_root / "pubtator/CDR_DevelopmentSet.PubTator.txt"),
        str(data_root / "pubtator/NCBIdevelopset_corpus.txt"),
    ])  # fmt: skip
    parser.add_argument("--max-documents", type=int, default=None)
    parser.add_argument("--per-file", type=int, default=100, help="citations per XML file")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)

    documents = [d.to_json() for path in args.data for d in read_pubtator(path)][: args.max_documents]
    print("# tag-corpus throughput\n")
    print(f"- command: `python {' '.join(sys.argv)}`")
    print(f"- load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"CPUs: {os.cpu_count()}")
    print(f"- {len(documents)} documents from {', '.join(Path(p).name for p in args.data)}, "
          f"{args.per_file} per XML file; batch size {args.batch_size}; 1 thread per process/worker\n")
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_inputs(documents, folder, args.per_file)
        tokens = None
        for round_ in range(1, args.rounds + 1):
            out = folder / f"predict{round_}.jsonl"
            result = timed(
                [ALLENNLP, "predict", args.archive, str(folder / "documents.jsonl"), "--output-file", str(out),
                 "--include-package", "biomtl_allennlp", "--silent", "--batch-size", str(args.batch_size)],
                out,
            )  # fmt: skip
            rows.append({"command": "allennlp predict (1 process)", "workers": 1, "round": round_, **result})
            for workers in args.workers:
                out_dir = folder / f"tagged_w{workers}_r{round_}"
                result = timed(
                    [ALLENNLP, "tag-corpus", args.archive, str(folder / "xml"), "--output-dir", str(out_dir),
                     "--include-package", "biomtl_allennlp", "--workers", str(workers), "--num-cpus",
                     str(workers), "--batch-size", str(args.batch_size), "--no-progress"],
                    out_dir,
                )  # fmt: skip
                summary = json.loads((out_dir / "tag-corpus-summary.json").read_text())
                if summary["documents"] != len(documents) or summary["files_failed"]:
                    raise SystemExit(f"tag-corpus did not tag every document: {summary}")
                tokens = summary["tokens"]
                rows.append({
                    "command": f"allennlp tag-corpus --workers {workers}", "workers": workers,
                    "round": round_, **result, "peak_mb": max(summary["worker_peak_memory_mb"]),
                })  # fmt: skip

    n = len(documents)
    print(f"Tokens tagged: {tokens} ({tokens / n:.0f} per document).\n")
    print("| command | round | wall s | first output s | docs/s (whole) | docs/s (after first output) "
          "| tokens/s (after first output) | peak MB per process/worker |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        row["rate"] = n / row["wall"]
        # The first output is the first batch of `batch_size` documents (both commands).
        row["steady"] = max(n - args.batch_size, 0) / max(row["wall"] - row["first"], 1e-9)
        print(f"| {row['command']} | {row['round']} | {row['wall']:.1f} | {row['first']:.1f} | "
              f"{row['rate']:.1f} | {row['steady']:.1f} | {row['steady'] * tokens / n:.0f} | {row['peak_mb']:.0f} |")
    print("\nPer-worker throughput / one `allennlp predict` process (same round):\n")
    print("| workers | round | whole run | after first output |")
    print("|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        base = next(r for r in rows if r["round"] == round_ and r["command"].startswith("allennlp predict"))
        for row in rows:
            if row["round"] == round_ and row is not base:
                print(f"| {row['workers']} | {round_} | {row['rate'] / row['workers'] / base['rate']:.2f} | "
                      f"{row['steady'] / row['workers'] / base['steady']:.2f} |")
    per_worker = max(r["steady"] / r["workers"] for r in rows if r["command"].startswith("allennlp tag-corpus"))
    print(f"\nProjection (not measured): {PUBMED_ABSTRACTS:,} abstracts at the best measured steady rate "
          f"per worker ({per_worker:.1f} documents/s, 1 CPU thread each), assuming workers scale linearly "
          "and PubMed abstracts are as long as these:\n")
    print("| workers | hours |")
    print("|---|---|")
    for workers in (1, 2, 16, 64, 256, 1024):
        print(f"| {workers} | {PUBMED_ABSTRACTS / (per_worker * workers) / 3600:,.1f} |")


if __name__ == "__main__":
    main()
