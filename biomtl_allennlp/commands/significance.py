import argparse
import json
from pathlib import Path

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error


@Subcommand.register("significance")
class Significance(Subcommand):
    """
    `allennlp significance --a MTM1.tar.gz MTM2.tar.gz --b STM1.tar.gz STM2.tar.gz --dataset
    BC5CDR`: a paired bootstrap test over test sentences of the span F1 difference A - B,
    seed pairs pooled (see `biomtl_allennlp.evaluation.significance`). A model may also be
    given as the per-sentence counts file that `--save-counts DIR` wrote for it earlier.

    Registered as a `Subcommand` with name "significance".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Paired bootstrap significance of the span F1 difference between
        models A and B on one dataset's split. The k-th archive of --a is paired with the
        k-th of --b (e.g. the same seed); sentences are resampled with replacement, the
        same for every model, and the mean difference over the pairs recomputed. Prints
        each pair's F1, the mean difference, its 95% interval and the two-sided p-value."""
        subparser = parser.add_parser(
            self.name, description=description, help="Paired bootstrap test of two models' F1."
        )
        subparser.add_argument("--a", nargs="+", required=True,
                               help="model archives of A (or .json counts files of --save-counts)")
        subparser.add_argument("--b", nargs="+", required=True, help="the same of B, paired in order")
        subparser.add_argument("--dataset", required=True, help="the head and dataset to score, e.g. BC5CDR")
        subparser.add_argument("--split", default="test", help="split name (default test)")
        subparser.add_argument("--samples", type=int, default=10000, help="bootstrap resamples")
        subparser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
        subparser.add_argument("--batch-size", type=int, default=64)
        subparser.add_argument("--cuda-device", type=int, default=-1)
        subparser.add_argument("--output-file", default=None, help="also write the result as JSON")
        subparser.add_argument(
            "--save-counts", default=None, metavar="DIR",
            help="write each archive's per-sentence counts to DIR/<run>.<dataset>.<split>.json "
            "(<run>: the archive's folder), to pass later instead of the archive",
        )
        subparser.set_defaults(func=significance_from_args)
        return subparser


@exits_on_input_error
def significance_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.common.errors import InputFormatError
    from biomtl_allennlp.evaluation.significance import (
        load_counts, paired_bootstrap, save_counts, scored_sentences,
    )

    if len(args.a) != len(args.b):
        raise InputFormatError(f"--a has {len(args.a)} models, --b {len(args.b)}: they are paired in order")
    fingerprints = {}

    def counts_of(path: str):
        if path.endswith(".json"):
            counts, fingerprints[path] = load_counts(path, args.dataset, args.split)
            return counts
        counts, fingerprints[path] = scored_sentences(
            path, args.dataset, args.split, args.batch_size, args.cuda_device
        )
        if args.save_counts:
            run = Path(path).resolve().parent.name
            target = Path(args.save_counts) / f"{run}.{args.dataset}.{args.split}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            save_counts(str(target), counts, fingerprints[path], args.dataset, args.split, path)
            print(f"wrote {target}")
        return counts

    counts_a, counts_b = [counts_of(path) for path in args.a], [counts_of(path) for path in args.b]
    if len(set(fingerprints.values())) > 1:
        raise InputFormatError(
            f"the models were scored on different {args.dataset} {args.split} sentences "
            f"(sentence fingerprints {fingerprints}); pair only counts of the same split file"
        )
    result = paired_bootstrap(counts_a, counts_b, args.samples, args.seed)
    result.update(dataset=args.dataset, split=args.split, a=args.a, b=args.b)
    for path_a, path_b, f1_a, f1_b in zip(args.a, args.b, result["f1_a"], result["f1_b"]):
        print(f"{path_a}: {f1_a:.2f}  {path_b}: {f1_b:.2f}  difference {f1_a - f1_b:+.2f}")
    low, high = result["interval_95"]
    print(f"{args.dataset} {args.split}: mean F1 difference A - B {result['difference']:+.2f} "
          f"(95% interval {low:+.2f} .. {high:+.2f}), p = {result['p_value']:.4f} "
          f"({args.samples} paired bootstrap resamples of {args.split} sentences)")
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
