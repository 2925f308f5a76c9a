import argparse
import sys
from typing import IO, Any, Dict, List, Tuple

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error, json_object_arg
from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.json_lines import read_byte_lines


@Subcommand.register("tag-file")
class TagFile(Subcommand):
    """
    `allennlp tag-file ARCHIVE INPUT [--output-file OUT]`: `allennlp predict` with the
    `biomedical_entities` predictor, for files: the input is read as bytes and split at
    line feeds only, so a line that is not UTF-8 gives an error output naming its line
    (and the other lines are tagged), and a carriage return inside a line does not split
    it (`allennlp predict` reads text, dies on the first byte that is not UTF-8 and splits
    lines at carriage returns). Error outputs start with `INPUT:LINE: `.

    Registered as a `Subcommand` with name "tag-file".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Tag one file of documents (the lines `allennlp predict` takes: JSON
        objects, PubTator, plain text; `.gz` too; '-' for stdin) with the
        biomedical_entities predictor and write the lines `allennlp predict` writes. Lines
        are split at line feeds only; a line that is not UTF-8, not valid JSON or not a
        document gives {"error": "INPUT:LINE: ...", "line": ...} and the other lines are
        tagged."""
        subparser = parser.add_parser(
            self.name, description=description, help="Tag one file of documents (bad lines reported)."
        )
        subparser.add_argument("archive", help="model.tar.gz, or the name of a shipped model (mtm_cw)")
        subparser.add_argument("input_file", help="documents, one per line ('-' for stdin)")
        subparser.add_argument("--output-file", default=None, help="default: stdout")
        subparser.add_argument("--batch-size", type=int, default=64, help="lines per batch (64)")
        subparser.add_argument("--cuda-device", type=int, default=-1)
        subparser.add_argument(
            "--predictor-args",
            default="{}",
            help='JSON object of biomedical_entities arguments, e.g. \'{"min_score": 0.5}\'',
        )
        subparser.add_argument("--overrides", default="", help="JSON overrides of the archive's config")
        subparser.set_defaults(func=tag_file_from_args)
        return subparser


def tag_file(predictor: Any, input_file: str, output: IO[str], batch_size: int = 64) -> Dict[str, int]:
    """
    Tags the lines of `input_file` (`documents.json_lines.read_byte_lines`: split at line
    feeds only, `.gz` and `-` for stdin too) with a `biomedical_entities` `predictor` (each
    line through its `load_bytes`), `batch_size` lines per `predict_batch_json`, and writes
    its `dump_line`s to `output`, in input order. Error outputs get `input_file:LINE: `
    before their message. At the end, a PubTator title whose `|a|` line never came is
    tagged alone (the predictor's `flush`; `allennlp predict` loses it). Returns
    `{"lines", "outputs", "errors"}`.

    Raises `InputFormatError` when `input_file` cannot be opened or read (a truncated
    gzip file, ...), after writing the outputs of the lines before.
    """
    if batch_size < 1:
        raise InputFormatError(f"--batch-size must be at least 1, got {batch_size}")
    counts = {"lines": 0, "outputs": 0, "errors": 0}

    def flush(batch: List[Tuple[int, Dict[str, Any]]]) -> None:
        outputs = predictor.predict_batch_json([document for _, document in batch])
        for (number, _), result in zip(batch, outputs):
            if "error" in result:
                result["error"] = f"{input_file}:{number}: {result['error']}"
                counts["errors"] += 1
            line = predictor.dump_line(result)
            if line:
                counts["outputs"] += 1
                output.write(line)
        output.flush()

    batch: List[Tuple[int, Dict[str, Any]]] = []
    number = 0
    try:
        for number, data in read_byte_lines(input_file):
            counts["lines"] += 1
            batch.append((number, predictor.load_bytes(data)))
            if len(batch) == batch_size:
                flush(batch)
                batch = []
    except InputFormatError:
        if batch:
            flush(batch)
        raise
    # A PubTator title line whose abstract line never came (the last line read: any other
    # line would have completed or dropped it) is a document of its own.
    pending = predictor.flush()
    if pending is not None:
        batch.append((number, pending))
    if batch:
        flush(batch)
    return counts


@exits_on_input_error
def tag_file_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.common.archives import predictor_from_path
    from biomtl_allennlp.pretrained import resolve_archive

    predictor_args = json_object_arg(args.predictor_args, "--predictor-args")
    if args.batch_size < 1:
        raise InputFormatError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.input_file != "-":  # a missing input fails before the model loads
        try:
            open(args.input_file, "rb").close()
        except OSError as error:
            raise InputFormatError(f"cannot be read ({error.strerror})", args.input_file) from None
    predictor = predictor_from_path(
        resolve_archive(args.archive),
        "biomedical_entities",
        cuda_device=args.cuda_device,
        overrides=args.overrides,
        **predictor_args,
    )
    output = sys.stdout if args.output_file is None else open(args.output_file, "w", encoding="utf-8")
    try:
        counts = tag_file(predictor, args.input_file, output, args.batch_size)
    finally:
        if output is not sys.stdout:
            output.close()
    print(
        f"tag-file: {counts['lines']} lines, {counts['outputs']} outputs, "
        f"{counts['errors']} with errors" + (f", written to {args.output_file}" if args.output_file else ""),
        file=sys.stderr,
    )
