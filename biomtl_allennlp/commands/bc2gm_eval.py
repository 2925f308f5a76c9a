import argparse
import json

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error


@Subcommand.register("bc2gm-eval")
class Bc2gmEval(Subcommand):
    """
    `allennlp bc2gm-eval --gold GENE.eval --alt ALTGENE.eval --predictions PRED.eval`: the
    BioCreative II gene mention evaluation with alternative matches (see
    `biomtl_allennlp.evaluation.bc2gm_eval`).

    Registered as a `Subcommand` with name "bc2gm-eval".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Score BC2GM gene mention predictions as the official alt_eval.perl
        does. Files have one `sentence_id|start end|text` mention per line, offsets
        inclusive and counted over the sentence's non-whitespace characters. A prediction
        is a true positive when its offsets equal those of a gold GENE.eval mention of its
        sentence or of an ALTGENE.eval alternative overlapping it; each gold mention counts
        once. Prints TP, FP, FN, precision, recall and F1."""
        subparser = parser.add_parser(
            self.name, description=description, help="BioCreative II gene mention evaluation."
        )
        subparser.add_argument("--gold", required=True, help="GENE.eval")
        subparser.add_argument("--alt", default=None, help="ALTGENE.eval (optional)")
        subparser.add_argument("--predictions", required=True, help="predictions, same format")
        subparser.add_argument("--output-file", default=None, help="also write the scores as JSON")
        subparser.set_defaults(func=bc2gm_eval_from_args)
        return subparser


@exits_on_input_error
def bc2gm_eval_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.evaluation.bc2gm_eval import score

    scores = score(args.gold, args.alt, args.predictions)
    print(f"TP: {scores['tp']}  FP: {scores['fp']}  FN: {scores['fn']}")
    print(
        f"Precision: {scores['precision']:.4f}  Recall: {scores['recall']:.4f}  "
        f"F1: {scores['f1']:.4f}"
    )
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            json.dump(scores, handle, indent=2)
