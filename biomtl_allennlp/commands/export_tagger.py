import argparse
import json

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error


@Subcommand.register("export-tagger")
class ExportTagger(Subcommand):
    """
    `allennlp export-tagger SOURCE -o model.tar.gz`: a compact archive of a trained tagger
    for shipping (float16 weights; config, vocabulary and weights only), see
    `biomtl_allennlp.pretrained.export`.

    Registered as a `Subcommand` with name "export-tagger".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Write a compact model.tar.gz of a trained multitask_crf_tagger:
        the weights in float16 (loaded back into float32 parameters), the config without
        its training-only keys (data paths, trainer), and the vocabulary. SOURCE is a
        model.tar.gz or a serialization directory (its best.th, or --weights), so the
        best epoch of a run still training can be exported. Several --weights files (e.g.
        a run's last epochs) are exported as their element-wise mean. The result loads with
        Predictor.from_path and `allennlp predict`."""
        subparser = parser.add_parser(
            self.name, description=description, help="Write a compact archive for shipping."
        )
        subparser.add_argument("source", help="model.tar.gz or serialization directory")
        subparser.add_argument("-o", "--output", required=True, help="archive to write")
        subparser.add_argument(
            "--weights", nargs="+", default=None,
            help="weights file to export; several: their mean (checkpoint averaging)",
        )
        subparser.add_argument(
            "--full-precision", action="store_true", help="keep float32 weights"
        )
        subparser.set_defaults(func=export_from_args)
        return subparser


@exits_on_input_error
def export_from_args(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    from biomtl_allennlp.pretrained.export import average_weights, export_tagger

    with tempfile.TemporaryDirectory() as scratch:
        weights = args.weights or [None]
        if len(weights) > 1:
            weights = [average_weights(weights, Path(scratch) / "mean.th")]
        summary = export_tagger(
            args.source, args.output, weights_file=weights[0], half=not args.full_precision
        )
    if args.weights and len(args.weights) > 1:
        summary["averaged_weights"] = list(args.weights)
    print(json.dumps(summary, indent=2))
