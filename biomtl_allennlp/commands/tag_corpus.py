import argparse
import sys

from allennlp.commands.subcommand import Subcommand

from biomtl_allennlp.commands import exits_on_input_error, json_object_arg
from biomtl_allennlp.common.errors import InputFormatError


@Subcommand.register("tag-corpus")
class TagCorpus(Subcommand):
    """
    `allennlp tag-corpus ARCHIVE INPUT [INPUT ...] --output-dir DIR`: tags PubMed XML,
    JSON-lines, PubTator or BioC (XML, JSON) files with a `multitask_crf_tagger` on Ray workers, one output
    file per input, resumable (see `biomtl_allennlp.corpus.tagger`).

    Registered as a `Subcommand` with name "tag-corpus".
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Tag a corpus with Ray workers, each holding the model once.
        INPUTs are PubMed/MEDLINE XML files (pubmed*.xml.gz, .xml), JSON-lines files
        (.jsonl, as `allennlp predict` takes them), PubTator files (.pubtator, .txt) or
        BioC collections (.bioc.xml, .bioc.json, or .xml / .json files holding BioC XML,
        BioC JSON or PubTator3's BioC JSON: every passage is tagged); a folder means
        every such file in it. Each input gets DIR/<name>.jsonl (or .pubtator,
        .bioc.xml, .bioc.json: --output-format; by default BioC inputs are written in
        their own BioC format, one annotation per entity with type, score and heads as
        infons, the others as JSON lines), written under a temporary name and renamed
        when complete; a rerun
        skips complete inputs, so a killed run resumes. DeleteCitation PMIDs go to
        DIR/<name>.deleted.txt. A bad input file is reported and the others go on
        (exit status 1 at the end). One run at a time per DIR (a lock; a second run
        stops at once naming the first); an output counts as complete only once checked
        and recorded, and a rerun tags incomplete or corrupt outputs again."""
        subparser = parser.add_parser(
            self.name, description=description, help="Tag a corpus (PubMed XML, ...) on Ray."
        )
        subparser.add_argument(
            "archive", help="model.tar.gz, or the name of a shipped model (mtm_cw)"
        )
        subparser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders")
        subparser.add_argument("--output-dir", required=True, help="folder for the outputs")
        subparser.add_argument(
            "--output-format",
            choices=["auto", "jsonl", "pubtator", "bioc_xml", "bioc_json"],
            default="auto",
            help="auto (default): BioC inputs as BioC in their own format, the others as jsonl",
        )
        subparser.add_argument(
            "--workers", type=int, default=None, help="Ray workers (default: CPUs / threads)"
        )
        subparser.add_argument(
            "--batch-size", type=int, default=32, help="documents per worker task (default 32)"
        )
        subparser.add_argument(
            "--threads-per-worker", type=int, default=1, help="torch threads per worker (1)"
        )
        device = subparser.add_mutually_exclusive_group()
        device.add_argument(
            "--cuda-device", type=int, default=-1, help="every worker on this GPU (one machine)"
        )
        device.add_argument(
            "--gpus-per-worker", type=float, default=0.0, help="Ray GPUs per worker"
        )
        subparser.add_argument(
            "--address", default=None, help="an existing Ray cluster (default: local Ray)"
        )
        subparser.add_argument(
            "--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)"
        )
        subparser.add_argument(
            "--predictor-args",
            default="{}",
            help='JSON object of biomedical_entities arguments, e.g. \'{"min_score": 0.5}\'',
        )
        subparser.add_argument(
            "--max-document-chars",
            type=int,
            default=None,
            help="refuse (an error output, never a cut) documents longer than this "
            "many characters (default: no limit)",
        )
        subparser.add_argument("--no-progress", action="store_true", help="no progress bar")
        subparser.set_defaults(func=tag_corpus_from_args)
        return subparser


@exits_on_input_error
def tag_corpus_from_args(args: argparse.Namespace) -> None:
    from biomtl_allennlp.corpus.inputs import collect_inputs
    from biomtl_allennlp.corpus.tagger import tag_corpus
    from biomtl_allennlp.pretrained import resolve_archive

    predictor_args = json_object_arg(args.predictor_args, "--predictor-args")
    for name in ("workers", "batch_size", "threads_per_worker", "num_cpus", "max_document_chars"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputFormatError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    archive = resolve_archive(args.archive)
    inputs = collect_inputs(args.inputs)
    summary = tag_corpus(
        archive,
        inputs,
        args.output_dir,
        output_format=args.output_format,
        workers=args.workers,
        batch_size=args.batch_size,
        threads_per_worker=args.threads_per_worker,
        cuda_device=args.cuda_device,
        gpus_per_worker=args.gpus_per_worker,
        address=args.address,
        predictor_args=predictor_args,
        num_cpus=args.num_cpus,
        progress=not args.no_progress,
        max_document_chars=args.max_document_chars,
    )
    print(summary.format())
    print(f"outputs in {args.output_dir} (summary: tag-corpus-summary.json)")
    if summary.files_failed:
        sys.exit(1)
