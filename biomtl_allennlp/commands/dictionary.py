import argparse
import sys

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error


@Subcommand.register("dictionary")
class Dictionary(Subcommand):
    """
    `allennlp dictionary build --out DICT.tsv TRAIN.tsv ...`: builds a `term<TAB>type`
    entity dictionary (paper Table 4) from the mentions of Crichton-format training splits
    (see `biomtl_allennlp.dictionary`).

    Registered as a `Subcommand` with name "dictionary".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Entity dictionary tools (the dictionary features and
        post-processing of the paper's Table 4). `build` collects the entity mentions of
        Crichton-format training splits (token<TAB>label, IOBES or BIO) into a term<TAB>type
        TSV, the file that the dictionary_features indexer and the dictionary
        post-processing read; a term seen with several types lists its most frequent type
        first."""
        subparser = parser.add_parser(
            self.name, description=description, help="Build an entity dictionary."
        )
        actions = subparser.add_subparsers(title="actions", dest="action", metavar="ACTION")
        actions.required = True
        build = actions.add_parser(
            "build",
            description="Build a term<TAB>type dictionary from Crichton-format training splits.",
            help="build a term<TAB>type dictionary from Crichton-format training splits",
        )
        build.add_argument("corpus", nargs="+", help="token<TAB>label files")
        build.add_argument("--out", required=True, help="output TSV")
        build.add_argument(
            "--label-encoding",
            default="auto",
            choices=["auto", "IOBES", "BIO"],
            help="tag scheme of the files; auto: IOBES if any E-/S- tag, per file",
        )
        build.add_argument(
            "--min-count", type=int, default=1, help="keep (term, type) pairs seen this often"
        )
        build.add_argument(
            "--case-sensitive",
            action="store_true",
            help="treat differently-cased mentions as different terms when ranking types",
        )
        # allennlp adds `--include-package` to `dictionary`; it is accepted after `build` too.
        build.add_argument(
            "--include-package",
            type=str,
            action="append",
            default=[],
            help="additional packages to include",
        )
        build.set_defaults(func=build_dictionary_from_args)
        return subparser


@exits_on_input_error
def build_dictionary_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.dictionary import build_dictionary_from_corpus

    dictionary = build_dictionary_from_corpus(
        args.corpus,
        label_encoding=args.label_encoding,
        lowercase=not args.case_sensitive,
        min_count=args.min_count,
    )
    dictionary.save(args.out)
    per_type = dictionary.terms_per_type()
    summary = ", ".join(f"{t}: {per_type[t]}" for t in sorted(per_type))
    print(f"wrote {len(dictionary)} terms to {args.out} ({summary})", file=sys.stderr)
