import argparse
import json

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error
from biomtl_allennlp.commands.pubtator_eval import (
    add_evaluation_arguments,
    evaluation_predictor,
    evaluation_predictor_args,
)


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
        add_evaluation_arguments(subparser, "sentences")
        subparser.set_defaults(func=corpus_eval_from_args)
        return subparser


@exits_on_input_error
def corpus_eval_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.evaluation.corpus_eval import corpus_documents, evaluate_corpus, format_table

    predictor_args = evaluation_predictor_args(args)
    documents = corpus_documents(args.corpus)
    predictor = evaluation_predictor(args, predictor_args)
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
