import argparse
import sys

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error


@Subcommand.register("visualize")
class Visualize(Subcommand):
    """
    `allennlp visualize PREDICTIONS.jsonl -o PAGE.html`: renders the JSON lines written by
    `allennlp predict` with the `biomedical_entities` predictor as an HTML page, entities
    highlighted by type (see `biomtl_allennlp.visualize`).

    Registered as a `Subcommand` with name "visualize".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Render biomedical_entities predictions (the JSON lines of
        `allennlp predict`) as one HTML page, with spaCy's displaCy: every document's text
        with its entities highlighted, one colour per type, and a legend. displaCy cannot
        show overlapping entities: where entities overlap, the longest is shown. Error
        lines and lines that are not predictor output are skipped and counted."""
        subparser = parser.add_parser(
            self.name, description=description, help="Render predicted entities as HTML."
        )
        subparser.add_argument(
            "input_file", help="the predictor's output (JSON lines; '-' for stdin)"
        )
        subparser.add_argument("-o", "--output-file", required=True, help="the HTML file to write")
        subparser.add_argument("--max-documents", type=int, default=None, help="render at most N")
        subparser.set_defaults(func=visualize_from_args)
        return subparser


@exits_on_input_error
def visualize_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.visualize import visualize_file

    written, skipped = visualize_file(args.input_file, args.output_file, args.max_documents)
    print(
        f"{written} documents written to {args.output_file}"
        + (f" ({skipped} lines skipped: errors or not predictor output)" if skipped else ""),
        file=sys.stderr,
    )
