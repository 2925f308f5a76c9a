"""
How MTM-CW's training step and inference time grow with sentence length and batch size.

- Length sweep (at `--batch-size`, default 10): every sentence of a batch has exactly L
  tokens (L in `--lengths`); sentences are made by concatenating consecutive real
  training sentences of one corpus (corpora taken in turn, so batches mix datasets as in
  training) and cutting at L tokens (a tag sequence cut inside an entity is closed: B- ->
  U-, I- -> L-).
- Batch-size sweep (B in `--batch-sizes`): real length-bucketed batches of the mix of
  `--datasets`.

Training = one step of the config's allennlp trainer (forward + backward + clip + SGD
step, the paper's optimiser). Inference =
forward + Viterbi with every head on every row (raw-text prediction: no dataset given),
results as lists; `make_output_human_readable` (ids -> tag strings) is not included.
Each cell: `--num-batches` batches, run once untimed (`--warmup` passes: every batch shape
seen once, as in a long training run), then timed; the median per batch is reported. A
third table times batch shapes seen for the first time (oneDNN's LSTM kernels are built
per input shape).

    python benchmarks/scaling.py            # full run, see benchmarks/README.md
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# `common` is benchmarks/common.py (not a package import: fairscale installs a top-level
# `benchmarks` package into the environment).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from common import (  # noqa: E402
    Sentence,
    add_common_arguments,
    build_tagger,
    build_trainer,
    load_sentences,
    markdown_table,
    pick_batches,
    setup,
    tensorize,
    train_step,
)


def close_tags(tags: List[str]) -> List[str]:
    """Make a BIOUL sequence cut at its end well formed again."""
    if tags and tags[-1][:2] in ("B-", "I-"):
        tags = tags[:-1] + [("U-" if tags[-1][0] == "B" else "L-") + tags[-1][2:]]
    return tags


def synthetic_sentence(
    corpus: Sequence[Sentence], length: int, rng: random.Random
) -> Sentence:
    """Consecutive sentences of `corpus` from a random start, cut at `length` tokens."""
    position = rng.randrange(len(corpus))
    words: List[str] = []
    tags: List[str] = []
    while len(words) < length:
        sentence = corpus[position % len(corpus)]
        words.extend(sentence.words)
        tags.extend(sentence.tags)
        position += 1
    return Sentence(corpus[0].dataset, words[:length], close_tags(tags[:length]))


def time_cell(tagger, batches: Sequence[List[Sentence]], warmup: int) -> Dict[str, float]:
    """Median ms per batch for a training step and for inference."""
    reader, vocab, model, _ = tagger
    trainer = build_trainer(tagger)
    labelled = [tensorize(reader, vocab, batch) for batch in batches]
    raw = [tensorize(reader, vocab, batch, labelled=False) for batch in batches]

    def infer(tensors):
        return _infer(model, tensors)

    results = {}
    for label, step, inputs in (
        ("train", lambda t: train_step(trainer, t), labelled),
        ("infer", infer, raw),
    ):
        for _ in range(warmup):  # untimed passes: every batch shape seen before timing
            for tensors in inputs:
                step(tensors)
        times = []
        for tensors in inputs:
            start = time.perf_counter()
            step(tensors)
            times.append(time.perf_counter() - start)
        results[label] = 1000 * statistics.median(times)
    return results


def new_shape_penalty(
    tagger, corpora: Dict[str, List[Sentence]], lengths: Sequence[int], batch_size: int,
    rng: random.Random,
) -> List[list]:
    """
    First, second and third run of the same batch, for batch shapes the process has not
    seen before (oneDNN builds an LSTM kernel per new input shape and caches it).
    """
    reader, vocab, model, _ = tagger
    trainer = build_trainer(tagger)
    names = list(corpora)
    rows = []
    for length in lengths:
        batch = [synthetic_sentence(corpora[names[i % len(names)]], length, rng)
                 for i in range(batch_size)]
        labelled = tensorize(reader, vocab, batch)
        raw = tensorize(reader, vocab, batch, labelled=False)
        timings = {}
        for label, step, tensors in (
            ("train", lambda t: train_step(trainer, t), labelled),
            ("infer", lambda t: _infer(model, t), raw),
        ):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                step(tensors)
                times.append(1000 * (time.perf_counter() - start))
            timings[label] = times
        chars = labelled["tokens"]["chars"]["chars"].size(1)
        rows.append([length, chars, *timings["train"], timings["train"][0] / timings["train"][2],
                     *timings["infer"], timings["infer"][0] / timings["infer"][2]])
    return rows


def _infer(model, tensors):
    model.eval()
    with torch.no_grad():
        return model(**tensors)["predicted_tags"]


def row(label, batch_size: int, tokens_per_batch: float, timing: Dict[str, float]) -> list:
    return [
        label, batch_size, tokens_per_batch / batch_size,
        timing["train"], 1000 * batch_size / timing["train"],
        1000 * tokens_per_batch / timing["train"],
        timing["infer"], 1000 * tokens_per_batch / timing["infer"],
    ]


HEADERS = ["", "batch", "tokens/sentence", "train ms/batch", "train sentences/s",
           "train tokens/s", "infer ms/batch", "infer tokens/s"]


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, List[list]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, batch_size=10, num_batches=5)
    parser.add_argument("--lengths", default="10,25,50,100,200,300",
                        help="tokens per sentence (default: %(default)s)")
    parser.add_argument("--batch-sizes", default="1,10,32,64", help="default: %(default)s")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed passes over each cell's batches (default: %(default)s)")
    parser.add_argument(
        "--new-shape-lengths", default="41,77,133",
        help="lengths (batch --batch-size) whose first, second and third runs are timed "
        "before anything else, to show the cost of a batch shape not seen before "
        "(default: %(default)s; empty: skip)",
    )
    args = parser.parse_args(argv)
    setup(args, "Scaling with sentence length and batch size", __file__, argv)
    lengths = [int(value) for value in args.lengths.split(",") if value]
    batch_sizes = [int(value) for value in args.batch_sizes.split(",") if value]

    corpora = load_sentences(args.datasets, args.data_root, "train", args.max_sentences)
    mix = [sentence for name in args.datasets for sentence in corpora[name]]
    tagger = build_tagger("mtm_cw.jsonnet", args.datasets, args.data_root, mix)
    names = list(corpora)
    rng = random.Random(args.seed)
    print(f"Model: MTM-CW, {len(names)} heads ({', '.join(names)}); vocabulary from "
          f"{len(mix)} training sentences")
    print()

    tables: Dict[str, List[list]] = {"length": [], "batch": [], "new_shape": []}
    new_shape_lengths = [int(value) for value in args.new_shape_lengths.split(",") if value]
    if new_shape_lengths:
        # One step on another shape first, so one-time initialisation is not counted.
        warm = [synthetic_sentence(corpora[names[0]], 15, rng) for _ in range(args.batch_size)]
        train_step(build_trainer(tagger), tensorize(tagger.reader, tagger.vocab, warm))
        tables["new_shape"] = new_shape_penalty(
            tagger, corpora, new_shape_lengths, args.batch_size, rng
        )
    count = args.num_batches
    for length in lengths:
        batches = [
            [synthetic_sentence(corpora[names[(b * args.batch_size + i) % len(names)]], length, rng)
             for i in range(args.batch_size)]
            for b in range(count)
        ]
        timing = time_cell(tagger, batches, args.warmup)
        tables["length"].append(row(f"length {length}", args.batch_size, length * args.batch_size,
                                    timing))
        print(f"  length {length}: train {timing['train']:.0f} ms, infer {timing['infer']:.0f} ms "
              f"per batch", flush=True)
    for batch_size in batch_sizes:
        batches = pick_batches(mix, batch_size, count, rng)
        tokens = statistics.mean(sum(len(s.words) for s in batch) for batch in batches)
        timing = time_cell(tagger, batches, args.warmup)
        tables["batch"].append(row("real sentences", batch_size, tokens, timing))
        print(f"  batch {batch_size}: train {timing['train']:.0f} ms, infer "
              f"{timing['infer']:.0f} ms per batch", flush=True)
    print()
    print(f"## Sentence length (batch {args.batch_size}, every sentence exactly that long)")
    print()
    print(markdown_table(HEADERS, tables["length"]))
    print()
    print(f"## Batch size (real length-bucketed batches of the mix)")
    print()
    print(markdown_table(HEADERS, tables["batch"]))
    print()
    if tables["new_shape"]:
        print(f"## A batch shape seen for the first time (batch {args.batch_size}; the same "
              f"batch run three times, ms)")
        print()
        print(markdown_table(
            ["tokens/sentence", "chars in stream", "train 1st", "train 2nd", "train 3rd",
             "train 1st/3rd", "infer 1st", "infer 2nd", "infer 3rd", "infer 1st/3rd"],
            tables["new_shape"],
        ))
        print()
    print("Inference: every head on every row (raw-text prediction). Data -> tensors is "
          "outside the timings.")
    return tables


if __name__ == "__main__":
    main()
