"""
Model selection per corpus (the paper code's protocol) against one deployable model, for a
finished (or running) multi-task run whose every epoch's weights are kept
(the lane runs of `research.converged.lanes` keep them):

    .venv/bin/python -m research.converged.per_corpus_selection RUN_DIR [--split test]

For each head: its best devel epoch (its own devel F1) and that epoch's test F1, beside the
test F1 of the single model of the best devel macro-F1 epoch. Each test score is computed
once, with `allennlp evaluate` on that head's corpus only, from the run directory and the
epoch's weights (`epoch_weights`: `model_state_e<N+1>_b0.th` after epoch N). Prints a markdown table and writes
RUN_DIR/per_corpus_selection.json.
"""
import argparse
import json
import sys
from pathlib import Path

from biomtl_allennlp.common.metric_keys import datasets_in
from research.run_folder import epoch_metrics, epoch_weights
from research.converged.evaluate_weights import evaluate_weights


def evaluate(run_dir: Path, epoch: int, dataset: str, split: str, cache: dict) -> float:
    key = f"{dataset}@{epoch}"
    if key not in cache:
        weights = epoch_weights(run_dir, epoch)
        output = run_dir / f"selection_{dataset}_e{epoch}_{split}.json"
        scores = evaluate_weights(run_dir, weights, split, output, {"dataset_reader.datasets": [dataset]})
        cache[key] = scores[f"{dataset}_f1"]
    return cache[key]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    history = epoch_metrics(run_dir)
    datasets = datasets_in(
        key[len("validation_"):] for key in history[0] if key.startswith("validation_")
    )
    single = max(range(len(history)), key=lambda e: history[e]["validation_macro_f1"])
    cache, rows = {}, []
    for dataset in datasets:
        own = max(range(len(history)), key=lambda e: history[e][f"validation_{dataset}_f1"])
        rows.append({
            "dataset": dataset,
            "single_epoch": single,
            "single_devel_f1": history[single][f"validation_{dataset}_f1"],
            "single_test_f1": evaluate(run_dir, single, dataset, args.split, cache),
            "own_epoch": own,
            "own_devel_f1": history[own][f"validation_{dataset}_f1"],
            "own_test_f1": evaluate(run_dir, own, dataset, args.split, cache),
        })  # fmt: skip
    (run_dir / "per_corpus_selection.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"| dataset | single model: epoch, devel F1, {args.split} F1 | per corpus: epoch, devel F1, {args.split} F1 | difference |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['single_epoch']}, {100 * r['single_devel_f1']:.2f}, {100 * r['single_test_f1']:.2f} "
              f"| {r['own_epoch']}, {100 * r['own_devel_f1']:.2f}, {100 * r['own_test_f1']:.2f} "
              f"| {100 * (r['own_test_f1'] - r['single_test_f1']):+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
