"""
Peak resident memory (ru_maxrss) of training and of predicting, each measurement in a
fresh Python process.

- `imports`: importing torch, allennlp and the plugin, nothing else (the floor under
  every other figure);
- `train, batch B` (B in `--batch-sizes`): what `allennlp train` holds for MTM-CW on
  `--datasets`: the reader reads the training split (all of it unless
  `--max-sentences`), the config's data loader (its bucket sampler at batch B) keeps
  the instances, the vocabulary is built from them, the model and the config's trainer
  are built, then `--steps` training steps (the trainer's: SGD lr 0.01, momentum 0.9,
  clip 5) run on the loader's batches;
- `predict, batch B` (only with `--archive`, or `--untrained-archive`, which first
  archives an untrained MTM-CW with the full training vocabulary): loads the archive, reads the test split's
  sentences of `--datasets` as raw text (no dataset: every head tags every sentence) and
  tags `--predict-sentences` of them in batches of `--predict-batch-size`, in file order,
  with `model.forward_on_instances` and `make_output_human_readable`; tokens/s is
  reported too (the model path of prediction, without the predictor's own tokenisation
  and entity merging).

    python benchmarks/memory.py --archive runs/mtm_cw/model.tar.gz   # see benchmarks/README.md
"""
import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# `common` is benchmarks/common.py (not a package import: fairscale installs a top-level
# `benchmarks` package into the environment).
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULT_PREFIX = "MEMORY-RESULT "


def peak_rss_mib() -> float:
    """ru_maxrss of this process (KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_measurement(spec: Dict) -> Dict:
    """One measurement, in this process. `spec["kind"]`: imports, train or predict."""
    start = time.perf_counter()
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    from allennlp.data import Vocabulary  # noqa: F401

    import biomtl_allennlp  # noqa: F401
    import common

    stages = {"imports": current_rss_mib()}
    result: Dict = {"kind": spec["kind"], "batch_size": spec.get("batch_size")}
    if spec["kind"] == "train":
        from allennlp.data import DataLoader, DatasetReader
        from allennlp.models import Model

        params = common.config_params(
            "mtm_cw.jsonnet", spec["datasets"], spec["data_root"],
            {"data_loader.batch_sampler.batch_size": spec["batch_size"]},
        )
        reader_params = params.pop("dataset_reader")
        if spec.get("max_sentences"):
            reader_params["max_instances_per_dataset"] = spec["max_sentences"]
        reader = DatasetReader.from_params(reader_params)
        loader = DataLoader.from_params(params.pop("data_loader"), reader=reader, data_path="train")
        instances = list(loader.iter_instances())
        result["sentences"] = len(instances)
        stages["data read"] = current_rss_mib()
        vocab = Vocabulary.from_params(params.pop("vocabulary"), instances=instances)
        del instances
        loader.index_with(vocab)
        stages["vocabulary"] = current_rss_mib()
        model = Model.from_params(vocab=vocab, params=params.pop("model"))
        trainer = common.build_trainer(common.Tagger(reader, vocab, model, params))
        stages["model"] = current_rss_mib()
        steps = 0
        step_start = time.perf_counter()
        while steps < spec["steps"]:
            for tensors in loader:
                common.train_step(trainer, tensors)
                steps += 1
                if steps >= spec["steps"]:
                    break
        result["step_seconds"] = time.perf_counter() - step_start
        stages[f"{steps} steps"] = current_rss_mib()
        result["steps"] = steps
    elif spec["kind"] == "predict":
        from allennlp.models.archival import load_archive

        archive = load_archive(spec["archive"])
        model, reader = archive.model, archive.dataset_reader
        model.eval()
        stages["archive loaded"] = current_rss_mib()
        corpora = common.load_sentences(
            spec["datasets"], spec["data_root"], "test", spec.get("max_sentences")
        )
        sentences = [s for name in spec["datasets"] for s in corpora[common.dataset_name(name)]]
        sentences = sentences[: spec["predict_sentences"]]
        if not sentences:
            raise ValueError("no sentences to predict")
        stages["sentences read"] = current_rss_mib()
        batch_size = spec["batch_size"]
        tokens = 0
        predict_start = time.perf_counter()
        for offset in range(0, len(sentences), batch_size):
            batch = sentences[offset: offset + batch_size]
            instances = [reader.text_to_instance(sentence.words) for sentence in batch]
            outputs = model.forward_on_instances(instances)
            tokens += sum(len(output["words"]) for output in outputs)
        seconds = time.perf_counter() - predict_start
        stages["predicted"] = current_rss_mib()
        result.update(sentences=len(sentences), tokens=tokens, predict_seconds=seconds,
                      tokens_per_second=tokens / seconds)
    elif spec["kind"] == "make_archive":
        import tempfile

        from allennlp.models.archival import archive_model

        corpora = common.load_sentences(
            spec["datasets"], spec["data_root"], "train", spec.get("max_sentences")
        )
        mix = [sentence for sentences in corpora.values() for sentence in sentences]
        reader, vocab, model, _ = common.build_tagger(
            "mtm_cw.jsonnet", spec["datasets"], spec["data_root"], mix
        )
        directory = Path(tempfile.mkdtemp(prefix="biomtl-memory-archive-"))
        common.config_params("mtm_cw.jsonnet", spec["datasets"], spec["data_root"]).to_file(
            str(directory / "config.json")
        )
        vocab.save_to_files(str(directory / "vocabulary"))
        torch.save(model.state_dict(), directory / "best.th")
        archive_model(directory, weights="best.th")
        result["archive"] = str(directory / "model.tar.gz")
    elif spec["kind"] != "imports":
        raise ValueError(f"unknown measurement {spec['kind']!r}")
    result["stages"] = stages
    result["peak_rss_mib"] = peak_rss_mib()
    result["seconds"] = time.perf_counter() - start
    return result


def run_in_subprocess(spec: Dict) -> Dict:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True, text=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError(
        f"measurement {spec['kind']} failed (exit {completed.returncode}):\n"
        f"{completed.stderr[-3000:]}"
    )


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(RESULT_PREFIX + json.dumps(run_measurement(json.loads(sys.argv[2]))), flush=True)
        return []
    import common

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, batch_size=10, num_batches=None)
    parser.add_argument("--batch-sizes", default="10,32",
                        help="training batch sizes (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=50,
                        help="training steps per measurement (default: %(default)s)")
    parser.add_argument("--archive", help="a model.tar.gz of MTM-CW for the predict measurement")
    parser.add_argument(
        "--untrained-archive", action="store_true",
        help="without --archive: archive an untrained MTM-CW (vocabulary from the training "
        "split of --datasets, as training would build it) in a temporary folder and measure "
        "prediction with it (weights do not change time or memory)",
    )
    parser.add_argument("--predict-batch-size", type=int, default=64)
    parser.add_argument("--predict-sentences", type=int, default=2000,
                        help="test sentences to tag (default: %(default)s)")
    parser.add_argument(
        "--in-process", action="store_true",
        help="run the measurements in this process (for tests only: peaks then accumulate)",
    )
    args = parser.parse_args(argv)
    common.setup(args, "Peak memory", __file__, argv)

    base = {"datasets": list(args.datasets), "data_root": args.data_root, "threads": args.threads,
            "seed": args.seed, "max_sentences": args.max_sentences}
    specs = [dict(base, kind="imports")]
    specs += [dict(base, kind="train", batch_size=int(size), steps=args.steps)
              for size in args.batch_sizes.split(",") if size]
    run = run_measurement if args.in_process else run_in_subprocess
    archive = args.archive
    if archive is None and args.untrained_archive:
        archive = run(dict(base, kind="make_archive"))["archive"]
        print(f"Untrained MTM-CW archive for the predict measurement: {archive}")
        print()
    if archive:
        specs.append(dict(base, kind="predict", archive=archive,
                          batch_size=args.predict_batch_size,
                          predict_sentences=args.predict_sentences))
    else:
        print("No --archive (nor --untrained-archive): the predict measurement is skipped.")
        print()
    results = []
    try:
        for spec in specs:
            result = run(spec)
            results.append(result)
            print(f"  {spec['kind']} (batch {spec.get('batch_size')}): peak "
                  f"{result['peak_rss_mib']:.0f} MiB, {result['seconds']:.0f} s", flush=True)
    finally:
        if archive and not args.archive:  # the temporary untrained archive
            shutil.rmtree(Path(archive).parent, ignore_errors=True)
    print()
    if args.in_process:
        print("(--in-process: peaks accumulate over the measurements; not valid figures)")
    rows = []
    for result in results:
        label = result["kind"] + (f", batch {result['batch_size']}" if result["batch_size"] else "")
        stages = "; ".join(f"{name} {value:.0f}" for name, value in result["stages"].items())
        extra = ""
        if result["kind"] == "train":
            extra = (f"{result['sentences']} sentences read, {result['steps']} steps in "
                     f"{result['step_seconds']:.1f} s")
        elif result["kind"] == "predict":
            extra = (f"{result['sentences']} sentences, {result['tokens']} tokens: "
                     f"{result['tokens_per_second']:,.0f} tokens/s")
        target = {"train": 4096, "predict": 2048}.get(result["kind"])
        verdict = common.verdict(result["peak_rss_mib"], target, False) if target else ""
        rows.append([label, result["peak_rss_mib"], f"< {target}" if target else "", verdict,
                     stages, extra, result["seconds"]])
    print(common.markdown_table(
        ["measurement", "peak RSS MiB", "target MiB", "verdict", "RSS after each stage, MiB",
         "details", "wall s"],
        rows,
    ))
    return results


if __name__ == "__main__":
    main()
