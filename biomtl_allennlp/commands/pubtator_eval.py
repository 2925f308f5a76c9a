import argparse
import json
from typing import Any, Dict

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error, json_object_arg
from biomtl_allennlp.common.errors import InputFormatError


@Subcommand.register("pubtator-eval")
class PubtatorEval(Subcommand):
    """
    `allennlp pubtator-eval ARCHIVE GOLD.PubTator`: end-to-end evaluation of a
    `multitask_crf_tagger` archive on raw PubTator documents with the `biomedical_entities`
    predictor, by exact character offsets per common type (see
    `biomtl_allennlp.evaluation.pubtator_eval`). Prints the metrics as JSON.

    Registered as a `Subcommand` with name "pubtator-eval".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Evaluate a model archive end to end on a PubTator file: the
        biomedical_entities predictor tags the raw title + abstract of every gold document
        (its own sentence splitting and tokenization, all heads, entities merged), and the
        predicted entities are scored against the gold mentions by exact start, end and
        common type. Gold and predicted types are mapped with the predictor's type table
        (plus --type-map); only the types of the gold file (or --types) are scored.
        Prints precision, recall and F1 per type and overall (micro), and the throughput,
        as JSON."""
        subparser = parser.add_parser(
            self.name, description=description, help="Evaluate an archive on a PubTator file."
        )
        subparser.add_argument("archive", help="model.tar.gz of a multitask_crf_tagger")
        subparser.add_argument(
            "gold", help="gold PubTator file, or BioC XML / JSON of titles and abstracts (PubTator3)"
        )
        add_evaluation_arguments(subparser, "documents")
        subparser.set_defaults(func=pubtator_eval_from_args)
        return subparser


def add_evaluation_arguments(subparser: argparse.ArgumentParser, unit: str) -> None:
    """The options `pubtator-eval` and `corpus-eval` share (`unit`: what a batch counts)."""
    subparser.add_argument(
        "--type-map",
        default=None,
        help="JSON object (or file) of type -> common type entries, applied to gold and "
        "predicted types on top of the default table",
    )
    subparser.add_argument("--types", nargs="+", default=None, help="common types to score")
    subparser.add_argument("--output-file", default=None, help="also write the metrics as JSON")
    subparser.add_argument("--batch-size", type=int, default=64, help=f"{unit} per call")
    subparser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for CPU")
    subparser.add_argument(
        "--predictor-args", default=None, help="JSON object of biomedical_entities arguments"
    )


def evaluation_predictor_args(args: argparse.Namespace) -> Dict[str, Any]:
    """The checked `--batch-size`, and the predictor arguments of `--predictor-args` with
    `--type-map` added: checked before any file is read or the archive is loaded."""
    if args.batch_size < 1:
        raise InputFormatError("--batch-size must be positive")
    type_map = json_object_arg(args.type_map, "--type-map")
    predictor_args = json_object_arg(args.predictor_args, "--predictor-args")
    if type_map:
        predictor_args["type_map"] = {**predictor_args.get("type_map", {}), **type_map}
    return predictor_args


def evaluation_predictor(args: argparse.Namespace, predictor_args: Dict[str, Any]):
    """The `biomedical_entities` predictor of `args.archive` with `predictor_args`."""
    from biomtl_allennlp.common.archives import predictor_from_path

    return predictor_from_path(
        args.archive, "biomedical_entities", cuda_device=args.cuda_device, **predictor_args
    )


@exits_on_input_error
def pubtator_eval_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.documents.pubtator import read_pubtator
    from biomtl_allennlp.documents.bioc_reader import bioc_format, pubtator_documents
    from biomtl_allennlp.evaluation.pubtator_eval import evaluate

    predictor_args = evaluation_predictor_args(args)
    if bioc_format(args.gold) is not None:  # BioC XML / JSON of titles and abstracts
        gold_documents = pubtator_documents(args.gold)
    else:
        gold_documents = list(read_pubtator(args.gold))
    predictor = evaluation_predictor(args, predictor_args)
    metrics = evaluate(
        predictor,
        gold_documents,
        type_map=predictor_args.get("type_map"),
        types=args.types,
        batch_size=args.batch_size,
    )
    metrics["archive"] = args.archive
    metrics["gold"] = args.gold
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
