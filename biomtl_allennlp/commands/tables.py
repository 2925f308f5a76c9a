"""
`allennlp tables`: the paper's result tables (Table 2, Table 3, Fig. 4) from metrics files.
"""
import argparse
import sys

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error
from biomtl_allennlp.evaluation.tables import (
    Results,
    parse_result_spec,
    plot_figure4,
    render_markdown,
)

DESCRIPTION = """Writes the result layouts of Wang et al. 2019 from metrics files:
Table 2 (precision, recall and F1 per dataset and model), Table 3 (F1 of MTM-C, MTM-W and
MTM-CW) and Fig. 4 (F1 per entity type, macro-averaged over the datasets that have it), as
markdown and, with --plot, as a PNG bar chart. Rows: the paper's five datasets, then any other
dataset of the inputs.

Each --result is a metrics JSON file labelled with its model: the output of `allennlp evaluate
--output-file` (keys such as BC2GM_f1, BC5CDR_Chemical_precision) or the metrics.json of
`allennlp train` (the same keys with test_, preferred; validation_ and training_ keys are
ignored). Give a model several files for several seeds (cells show mean ± sample std) or one
file per dataset (STM). Values are shown as percentages; missing cells are `-`.

example:
  allennlp tables --result STM=runs/stm_bc2gm/metrics.json \\
      --result STM=runs/stm_ncbi/metrics.json --result MTM-CW=runs/mtm_cw/metrics.json \\
      --markdown tables.md --plot fig4.png --paper --include-package biomtl_allennlp
"""


@Subcommand.register("tables")
class Tables(Subcommand):
    """
    `allennlp tables --result MODEL=metrics.json ... [--markdown F] [--plot F] [--paper]`: the
    paper's Table 2, Table 3 and Fig. 4 from metrics files (see `DESCRIPTION`, or
    `allennlp tables --help`; the tables are `biomtl_allennlp.evaluation.tables`).

    Registered as a `Subcommand` with name "tables".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        subparser = parser.add_parser(
            self.name,
            description=DESCRIPTION,
            help="Paper-style result tables (Table 2, Table 3, Fig. 4) from metrics files.",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        subparser.add_argument(
            "--result",
            action="append",
            required=True,
            type=_result_spec,
            metavar="MODEL=PATH",
            help="a metrics JSON file labelled with its model (STM, MTM-C, MTM-W, MTM-CW, "
            "...); repeat for several models, seeds, or STM datasets",
        )
        subparser.add_argument(
            "--markdown", default=None, help="write markdown here (default: stdout)"
        )
        subparser.add_argument("--plot", default=None, help="write the Fig. 4 bar chart (PNG) here")
        subparser.add_argument(
            "--paper", action="store_true", help="add the paper's reported test F1 for reference"
        )
        subparser.set_defaults(func=tables_from_args)
        return subparser


def _result_spec(text: str):
    try:
        return parse_result_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


@exits_on_input_error
def tables_from_args(args: argparse.Namespace) -> None:
    results = Results(args.result)
    markdown = render_markdown(results, paper=args.paper)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(markdown)
    else:
        sys.stdout.write(markdown)
    if args.plot:
        plot_figure4(results, args.plot)
