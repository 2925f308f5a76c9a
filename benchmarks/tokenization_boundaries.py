"""
How well does raw-text preprocessing (BiomedicalSentenceSplitter + BiomedicalTokenizer)
preserve gold entity mentions of PubTator corpora?

For every gold mention it checks whether its start or end offset falls strictly inside one
of our tokens (then no token sequence can represent the mention exactly), whether it
crosses one of our sentence boundaries, and whether it crosses a window boundary of
`tokenize_document` (sentences cut at `--max-sentence-tokens` tokens). Also reports the
tokenizer's speed.

    python benchmarks/tokenization_boundaries.py [--data ../shared/data/pubtator]
"""
import argparse
import bisect
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from biomtl_allennlp.documents.document import Document  # noqa: E402
from biomtl_allennlp.documents.pubtator import read_pubtator  # noqa: E402
from biomtl_allennlp.data.tokenizers.biomedical_sentence_splitter import (  # noqa: E402
    BiomedicalSentenceSplitter,
    tokenize_document,
)
from biomtl_allennlp.data.tokenizers.biomedical_tokenizer import BiomedicalTokenizer  # noqa

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "pubtator"


@dataclass
class Counts:
    documents: int = 0
    mentions: int = 0
    inside_token: int = 0
    cross_sentence: int = 0
    cross_window: int = 0
    tokens: int = 0
    sentences: int = 0
    windows: int = 0
    examples: List[str] = field(default_factory=list)

    def add(self, other: "Counts") -> None:
        for name in ("documents", "mentions", "inside_token", "cross_sentence",
                     "cross_window", "tokens", "sentences", "windows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _strictly_inside(offset: int, starts: List[int], ends: List[int]) -> bool:
    """Whether `offset` is strictly inside a token (tokens sorted, non-overlapping)."""
    i = bisect.bisect_right(starts, offset) - 1
    return i >= 0 and starts[i] < offset < ends[i]


def _inside_one_span(offset_start: int, offset_end: int, spans: List[Tuple[int, int]]) -> bool:
    """Whether `[offset_start, offset_end)` lies inside a single span."""
    starts = [s for s, _ in spans]
    i = bisect.bisect_right(starts, offset_start) - 1
    return i >= 0 and spans[i][0] <= offset_start and offset_end <= spans[i][1]


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    left = text[max(0, start - width):start]
    right = text[end:end + width]
    return f"...{left}[[{text[start:end]}]]{right}...".replace("\n", " ")


def evaluate_document(
    document: Document,
    tokenizer: BiomedicalTokenizer,
    splitter: BiomedicalSentenceSplitter,
    max_sentence_tokens: int,
) -> Counts:
    counts = Counts(documents=1)
    text = document.text
    token_spans = tokenizer.tokenize_spans(text)
    starts = [s for s, _ in token_spans]
    ends = [e for _, e in token_spans]
    sentence_spans = splitter.split_spans(text, title_end=document.title_end)
    windows = tokenize_document(text, tokenizer, splitter, max_sentence_tokens,
                                title_end=document.title_end)
    window_spans = [(w[0].idx, w[-1].idx_end) for w in windows if w]
    counts.tokens = len(token_spans)
    counts.sentences = len(sentence_spans)
    counts.windows = len(window_spans)
    for annotation in document.entities:
        counts.mentions += 1
        start, end = annotation.start, annotation.end
        if _strictly_inside(start, starts, ends) or _strictly_inside(end, starts, ends):
            counts.inside_token += 1
            tokens = [text[s:e] for s, e in token_spans if e > start - 10 and s < end + 10]
            counts.examples.append(
                f"PMID {document.pmid} {annotation.type}: {_context(text, start, end)} "
                f"tokens: {' | '.join(tokens)}"
            )
        if not _inside_one_span(start, end, sentence_spans):
            counts.cross_sentence += 1
            counts.examples.append(
                f"PMID {document.pmid} crosses a sentence boundary: "
                f"{_context(text, start, end)}"
            )
        elif not _inside_one_span(start, end, window_spans):
            counts.cross_window += 1
    return counts


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "-"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder of PubTator files (default: %(default)s)")
    parser.add_argument("--max-sentence-tokens", type=int, default=200)
    parser.add_argument("--examples", type=int, default=8,
                        help="failures to show per file (default: %(default)s)")
    parser.add_argument("--no-split-hyphens", action="store_true",
                        help="keep hyphenated words whole (JNLPBA style)")
    args = parser.parse_args(argv)

    files = sorted(p for p in args.data.iterdir() if p.is_file() and p.suffix == ".txt")
    if not files:
        sys.exit(f"No PubTator files (*.txt) in {args.data}")
    tokenizer = BiomedicalTokenizer(split_hyphens=not args.no_split_hyphens)
    splitter = BiomedicalSentenceSplitter()

    rows: List[Tuple[str, Counts]] = []
    total = Counts()
    speeds: List[str] = []
    for path in files:
        documents = list(read_pubtator(path))
        counts = Counts()
        for document in documents:
            doc_counts = evaluate_document(document, tokenizer, splitter,
                                           args.max_sentence_tokens)
            counts.add(doc_counts)
            counts.examples.extend(doc_counts.examples)
        rows.append((path.name, counts))
        total.add(counts)

        texts = [d.text for d in documents]
        begin = time.perf_counter()
        for text in texts:
            tokenizer.tokenize(text)
        tokenize_seconds = time.perf_counter() - begin
        begin = time.perf_counter()
        for document in documents:
            tokenize_document(document.text, tokenizer, splitter, args.max_sentence_tokens,
                              title_end=document.title_end)
        pipeline_seconds = time.perf_counter() - begin
        speeds.append(
            f"| {path.name} | {len(texts) / tokenize_seconds:,.0f} | "
            f"{len(texts) / pipeline_seconds:,.0f} |"
        )

    print("| file | docs | mentions | boundary inside a token | crossing a sentence "
          "| crossing a window | tokens | sentences |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, c in rows + [("**overall**", total)]:
        print(f"| {name} | {c.documents} | {c.mentions} | {c.inside_token} "
              f"({_percent(c.inside_token, c.mentions)}) | {c.cross_sentence} "
              f"({_percent(c.cross_sentence, c.mentions)}) | {c.cross_window} | {c.tokens} "
              f"| {c.sentences} |")
    print()
    print("| file | tokenize (docs/s) | split + tokenize + windows (docs/s) |")
    print("|---|---:|---:|")
    print("\n".join(speeds))
    for name, c in rows:
        if c.examples:
            print(f"\nExample failures in {name} ({len(c.examples)} in all):")
            for example in c.examples[:args.examples]:
                print(f"  - {example}")


if __name__ == "__main__":
    main()
