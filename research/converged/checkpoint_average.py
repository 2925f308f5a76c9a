"""
Checkpoint averaging, measured on devel: for a finished run whose every epoch's weights
are kept, the model of epoch E against the mean of the weights of epochs E-K+1..E
(`biomtl_allennlp.pretrained.export.average_weights`), each scored on the devel split of
every corpus of the run with `allennlp evaluate`:

    .venv/bin/python -m research.converged.checkpoint_average RUN_DIR --at 6 8 --last 3

Epoch E's own devel scores are read from `metrics_epoch_E.json` (the trainer's validation;
`--check` evaluates one of them again to show that `evaluate` gives the same). Prints a
markdown table (per corpus, the mean over the paper's four corpora and over all of them)
and adds its rows to RUN_DIR/checkpoint_average.json.
"""
import argparse
import json
import sys
from pathlib import Path

from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS
from biomtl_allennlp.common.metric_keys import datasets_in
from biomtl_allennlp.pretrained.export import average_weights
from research.run_folder import epoch_weights
from research.converged.evaluate_weights import evaluate_weights


def means(scores: dict, datasets) -> dict:
    four = [d for d in BENCHMARK_DATASETS if d in datasets]
    return {
        "four": sum(scores[d] for d in four) / len(four) if four else None,
        "all": sum(scores[d] for d in datasets) / len(datasets),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--at", type=int, nargs="+", required=True, help="last epochs E")
    parser.add_argument("--last", type=int, default=3, help="K: epochs averaged")
    parser.add_argument("--split", default="devel")
    parser.add_argument("--check", action="store_true", help="also evaluate epoch E alone")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    rows = []
    for end in args.at:
        epochs = list(range(end - args.last + 1, end + 1))
        if epochs[0] < 0:
            parser.error(f"--at {end} --last {args.last}: averaging needs epochs from 0")
        history = json.loads((run_dir / f"metrics_epoch_{end}.json").read_text())
        datasets = datasets_in(k[len("validation_"):] for k in history if k.startswith("validation_"))
        single = {d: history[f"validation_{d}_f1"] for d in datasets}
        if args.check:
            again = evaluate_weights(run_dir, epoch_weights(run_dir, end), args.split,
                                     run_dir / f"average_check_e{end}_{args.split}.json")
            single_again = {d: again[f"{d}_f1"] for d in datasets}
        averaged = average_weights([epoch_weights(run_dir, e) for e in epochs],
                                   run_dir / f"average_e{epochs[0]}-{end}.th")
        scores = evaluate_weights(run_dir, averaged, args.split, run_dir / f"average_e{epochs[0]}-{end}_{args.split}.json")
        mean = {d: scores[f"{d}_f1"] for d in datasets}
        row = {"epochs": epochs, "single": single, "averaged": mean,
               "single_means": means(single, datasets), "averaged_means": means(mean, datasets)}
        if args.check:
            row["single_evaluated"] = single_again
        rows.append(row)
    summary = run_dir / "checkpoint_average.json"  # rows of earlier calls kept, by epochs
    earlier = json.loads(summary.read_text()) if summary.is_file() else []
    kept = [row for row in earlier if row["epochs"] not in [r["epochs"] for r in rows]]
    summary.write_text(json.dumps(sorted(kept + rows, key=lambda r: r["epochs"]), indent=2) + "\n")
    for row in rows:
        end, first = row["epochs"][-1], row["epochs"][0]
        print(f"\n| {args.split} F1 | epoch {end} | mean of epochs {first}-{end} | difference |")
        print("|---|---|---|---|")
        names = list(row["single"]) + ["mean of the four", "mean of all"]
        single = {**row["single"], "mean of the four": row["single_means"]["four"],
                  "mean of all": row["single_means"]["all"]}
        averaged = {**row["averaged"], "mean of the four": row["averaged_means"]["four"],
                    "mean of all": row["averaged_means"]["all"]}
        for name in names:
            if single[name] is None:
                continue
            print(f"| {name} | {100 * single[name]:.2f} | {100 * averaged[name]:.2f} "
                  f"| {100 * (averaged[name] - single[name]):+.2f} |")
        if "single_evaluated" in row:
            worst = max(abs(row["single_evaluated"][d] - row["single"][d]) for d in row["single"])
            print(f"(epoch {end} evaluated again: largest difference from the trainer's validation {100 * worst:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
