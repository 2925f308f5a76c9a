import argparse
import json

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error
from biomtl_allennlp.commands.pubtator_eval import _json_arg
from biomtl_allennlp.common.errors import InputFormatError


@Subcommand.register("corpus-eval")
class CorpusEval(Subcommand):
    """
    `allennlp corpus-eval ARCHIVE CORPUS.tsv`: cross-corpus evaluation of a
    `multitask_crf_tagger` archive on a token-level corpus the predictor reads as raw text
    (see `biomtl_allennlp.evaluation.corpus_eval`). Prints a per-type table of the merged
    output, the union of all heads and the best head alone, and writes every figure as
    JSON with `--output-file`.

    Registered as a `Subcommand` with name "corpus-eval".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Evaluate a model archive on a token-level corpus (token<TAB>tag,
        IOBES or BIO) as raw text: each sentence's tokens joined by single spaces are tagged
        by the biomedical_entities predictor (its own sentence splitting and tokenization)
        and scored by exact character offsets and common type against the corpus's spans:
        the merged output, the union of all heads and each head alone, from one pass.
        Corpus types are mapped to common types with the predictor's type table (plus
        --type-map); only the corpus's common types (or --types) are scored."""
        subparser = parser.add_parser(
            self.name, description=description, help="Evaluate an archive on a token-level corpus."
        )
        subparser.add_argument("archive", help="model.tar.gz of a multitask_crf_tagger")
        subparser.add_argument("corpus", help="token-level corpus file (e.g. test.tsv)")
        subparser.add_argument(
            "--type-map",
            default=None,
            help="JSON object (or file) of type -> common type entries, applied to gold and "
            "predicted types on top of the default table",
        )
        subparser.add_argument("--types", nargs="+", default=None, help="common types to score")
        subparser.add_argument("--output-file", default=None, help="also write the metrics as JSON")
        subparser.add_argument("--batch-size", type=int, default=64, help="sentences per call")
        subparser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for CPU")
        subparser.add_argument(
            "--predictor-args", default=None, help="JSON object of biomedical_entities arguments"
        )
        subparser.set_defaults(func=corpus_eval_from_args)
        return subparser


@exits_on_input_error
def corpus_eval_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.common.archives import predictor_from_path
    from biomtl_allennlp.evaluation.corpus_eval import corpus_documents, evaluate_corpus, format_table

    if args.batch_size < 1:
        raise InputFormatError("--batch-size must be positive")
    type_map = _json_arg(args.type_map, "--type-map")
    predictor_args = _json_arg(args.predictor_args, "--predictor-args")
    if type_map:
        predictor_args["type_map"] = {**predictor_args.get("type_map", {}), **type_map}
    documents = corpus_documents(args.corpus)
    predictor = predictor_from_path(
        args.archive, "biomedical_entities", cuda_device=args.cuda_device, **predictor_args
    )
    metrics = evaluate_corpus(
        predictor, documents, predictor_args.get("type_map"), args.types, args.batch_size
    )
    metrics["archive"] = args.archive
    metrics["corpus"] = args.corpus
    metrics["predictor_args"] = predictor_args
    print(f"{args.corpus}: {metrics['sentences']} sentences, archive {args.archive}")
    print(format_table(metrics))
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(metrics, indent=2) + "\n")
