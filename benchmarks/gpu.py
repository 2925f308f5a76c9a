"""
GPU training and prediction speed (issue 12), as one command for a lent GPU window:

    python benchmarks/gpu.py --device cuda:0 [--data-root DIR] > $OUT/gpu.md

Everything is measured side by side in one process, on pre-built batches moved to the
device (so the timed region is the model step, as in `train_throughput.py`):

1. Training sentences/s (one step of the config's allennlp trainer: forward, backward,
   gradient-norm clip, SGD step) of STM (`stm.jsonnet`, one corpus) and MTM-CW
   (`mtm_cw.jsonnet`, the four corpora mixed) at each `--batch-sizes`, for each path:
   `loop` (the CRF one token at a time, float32: the path of every CPU result), `scan`
   (the CRF as a tree of matrix products, `crf_algorithm: "scan"`), and `scan+amp`
   (the same in mixed precision, as `training_configs/gpu/mtm_cw.jsonnet` trains: with
   float16 on a GPU the trainer's `"use_amp": true`, autocast and its gradient scaler;
   with `--amp-dtype bfloat16`, or on CPU, autocast in bfloat16 without a scaler; the CRF
   itself stays float32). Paths of one model and
   batch size run interleaved, round by round, on the same batches; the ratio to `loop` is
   paired by round. Peak device memory per path.
2. One epoch of the four-corpus MTM-CW (every training sentence once, length-bucketed
   batches) with the fastest path and batch size of part 1; the time to build the tensors
   is reported apart.
3. Prediction tokens/s of the shipped model (`--archive`) with all heads, on the PubTator
   development abstracts, at `--predict-batch-sizes` documents per call, loop vs scan.

On CPU (`--device cpu`, e.g. with `--quick`) it runs too, which is how it is tested; its
figures are then CPU figures. Targets (issue 12, one H200): >= 1,000 sentences/s at batch
10, >= 10,000 at the best batch, prediction >= 300,000 tokens/s.
"""
import argparse
import random
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_SINGLE_DATASET,
    Variant,
    add_common_arguments,
    build_tagger,
    build_trainer,
    bucketed_batches,
    count_tokens,
    load_sentences,
    markdown_table,
    measure_interleaved,
    paired_ratio,
    pick_batches,
    setup,
    tensorize,
    train_step,
    verdict,
)

import torch  # noqa: E402
from allennlp.models import Model  # noqa: E402
from allennlp.nn.util import move_to_device  # noqa: E402

PATHS = ("loop", "scan", "scan+amp")


class PathTrainer:
    """
    One model on the device with the config's trainer, taking training steps along one
    path: the path sets the config's `crf_algorithm` and, for `+amp`, its `use_amp`
    (float16 on a GPU) or a bfloat16 autocast.
    """

    def __init__(self, tagger, device: torch.device, path: str, amp_dtype: torch.dtype) -> None:
        self.device = device
        params = tagger.params.duplicate()
        params["model"]["crf_algorithm"] = "loop" if path == "loop" else "scan"
        model = Model.from_params(vocab=tagger.vocab, params=params.pop("model"))
        model.load_state_dict(tagger.model.state_dict())  # every path starts from the same weights
        params["trainer"]["cuda_device"] = (device.index or 0) if device.type == "cuda" else -1
        trainer_amp = path.endswith("+amp") and device.type == "cuda" and amp_dtype == torch.float16
        params["trainer"]["use_amp"] = trainer_amp
        self.autocast = amp_dtype if path.endswith("+amp") and not trainer_amp else None
        self.trainer = build_trainer(tagger._replace(params=params), model)
        self.model = self.trainer.model

    def step(self, tensors: Dict) -> float:
        return train_step(self.trainer, tensors, autocast=self.autocast)  # .item() waits for the device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(trainer: PathTrainer, batches: Sequence[Dict]) -> float:
    """Peak device memory of one pass over `batches` (CUDA only; NaN elsewhere)."""
    if trainer.device.type != "cuda":
        return float("nan")
    synchronize(trainer.device)
    torch.cuda.reset_peak_memory_stats(trainer.device)
    for tensors in batches:
        trainer.step(tensors)
    return torch.cuda.max_memory_allocated(trainer.device) / 2**20


def build_models(args, corpora) -> Dict[str, tuple]:
    """Model name -> (its untrained tagger, its training sentences): STM on the single
    corpus, MTM-CW on the mix. Each path trains a model of its own from their weights."""
    single = args.single_dataset
    mix = [sentence for name in args.datasets for sentence in corpora[name]]
    return {
        "STM": (build_tagger("stm.jsonnet", [single], args.data_root, corpora[single]), corpora[single]),
        "MTM-CW": (build_tagger("mtm_cw.jsonnet", args.datasets, args.data_root, mix), mix),
    }


def training_throughput(args, device, amp_dtype, models) -> List[Dict]:
    """Part 1: one row per (model, batch size, path)."""
    rows = []
    for model_name, (tagger, sentences) in models.items():
        for batch_size in args.batch_sizes:
            rng = random.Random(args.seed)
            # The same number of sentences per batch size (at least one batch).
            num_batches = max(1, args.sentences_per_round // batch_size)
            try:
                sentence_batches = pick_batches(sentences, batch_size, num_batches, rng)
            except ValueError:
                continue  # fewer sentences than one batch (a --quick run)
            tensors = [move_to_device(tensorize(tagger.reader, tagger.vocab, b), device)
                       for b in sentence_batches]
            trainers = {path: PathTrainer(tagger, device, path, amp_dtype) for path in args.paths}
            variants = [
                Variant(
                    path, trainers[path].step, tensors,
                    [len(b) for b in sentence_batches], [count_tokens(b) for b in sentence_batches],
                    model=trainers[path].model,
                )
                for path in args.paths
            ]
            measure_interleaved(variants, args.rounds, args.warmup)
            by_path = {variant.name: variant for variant in variants}
            for variant in variants:
                rows.append({
                    "model": model_name, "batch": batch_size, "path": variant.name,
                    "sentences/s": variant.median_sentences_per_second(),
                    "tokens/s": variant.median_tokens_per_second(),
                    "ms/batch": variant.median_batch_ms(),
                    "vs loop": paired_ratio(by_path["loop"], variant) if "loop" in by_path else float("nan"),
                    "peak MiB": peak_memory_mib(trainers[variant.name], tensors[:3]),
                })
            del trainers, tensors
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def one_epoch(args, device, amp_dtype, tagger, mix, path: str, batch_size: int) -> Dict:
    """Part 2: every training sentence of the four corpora (`mix`) once."""
    rng = random.Random(args.seed)
    batches = bucketed_batches(mix, batch_size, rng)
    rng.shuffle(batches)
    started = time.perf_counter()
    tensors = [move_to_device(tensorize(tagger.reader, tagger.vocab, batch), device)
               for batch in batches]
    tensorize_seconds = time.perf_counter() - started
    trainer = PathTrainer(tagger, device, path, amp_dtype)
    trainer.step(tensors[0])  # first-call set-up (cuDNN plans, allocator) outside the timing
    synchronize(device)
    started = time.perf_counter()
    for batch in tensors:
        trainer.step(batch)
    synchronize(device)
    seconds = time.perf_counter() - started
    sentences = sum(len(batch) for batch in batches)
    return {"path": path, "batch": batch_size, "sentences": sentences, "seconds": seconds,
            "sentences/s": sentences / seconds, "tensorize s": tensorize_seconds}


def prediction_throughput(args, device) -> List[Dict]:
    """Part 3: the predictor on raw abstracts, all heads, loop vs scan (the archive's
    config with `model.crf_algorithm` set)."""
    from biomtl_allennlp.common.archives import predictor_from_path
    from biomtl_allennlp.documents.pubtator import read_pubtator
    from biomtl_allennlp.evaluation.pubtator_eval import predict_documents
    from biomtl_allennlp.pretrained import SHIPPED_MODELS, tagger_path

    archive = str(tagger_path(args.archive)) if args.archive in SHIPPED_MODELS else args.archive
    documents = list(read_pubtator(args.predict_data))[: args.max_documents]
    cuda_device = (device.index or 0) if device.type == "cuda" else -1
    rows = []
    for algorithm in ("loop", "scan"):
        predictor = predictor_from_path(archive, "biomedical_entities", cuda_device=cuda_device,
                                        overrides={"model.crf_algorithm": algorithm})
        predict_documents(predictor, documents[:16], batch_size=16)  # warm-up
        for batch_size in args.predict_batch_sizes:
            _, throughput = predict_documents(predictor, documents, batch_size=batch_size)
            rows.append({"path": algorithm, "batch (documents)": batch_size,
                         "documents": throughput["documents"], "tokens": throughput["tokens"],
                         "seconds": throughput["seconds"], "tokens/s": throughput["tokens_per_second"]})
    return rows


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, batch_size=10, num_batches=None)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--single-dataset", default=DEFAULT_SINGLE_DATASET)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 64, 256, 512])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--amp-dtype", choices=["float16", "bfloat16"], default="float16",
                        help="autocast dtype of scan+amp (default %(default)s, as allennlp's use_amp)")
    parser.add_argument("--sentences-per-round", type=int, default=2560,
                        help="training sentences per path and round at every batch size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-epoch", action="store_true", help="skip part 2")
    parser.add_argument("--archive", default="mtm_cw", help="part 3's model (default: the shipped one)")
    parser.add_argument("--predict-data", default=None,
                        help="PubTator file (default: CDR_DevelopmentSet.PubTator.txt under the data root)")
    parser.add_argument("--predict-batch-sizes", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--max-documents", type=int, default=None)
    parser.add_argument("--no-predict", action="store_true", help="skip part 3")
    parser.add_argument("--quick", action="store_true",
                        help="a small smoke run: 200 sentences per corpus, batches 10 and 64, "
                        "1 round, 40 documents")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_sentences = args.max_sentences or 200
        args.batch_sizes, args.sentences_per_round, args.rounds = [10, 64], 128, 1
        args.predict_batch_sizes, args.max_documents = [16], args.max_documents or 40
    if args.predict_data is None:
        args.predict_data = str(Path(args.data_root) / "pubtator" / "CDR_DevelopmentSet.PubTator.txt")
    device = torch.device(args.device)
    amp_dtype = getattr(torch, args.amp_dtype)
    if device.type == "cpu" and amp_dtype == torch.float16:
        amp_dtype = torch.bfloat16  # CPU autocast computes in bfloat16
    setup(args, "GPU training and prediction speed", __file__, argv)
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        print(f"- device: {properties.name}, {properties.total_memory / 2**30:.0f} GiB; "
              f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}\n")
    else:
        print(f"- device: {device} (CPU figures, not GPU ones)\n")

    datasets = list(dict.fromkeys(list(args.datasets) + [args.single_dataset]))
    corpora = load_sentences(datasets, args.data_root, "train", args.max_sentences)
    print("Corpora read (train): " + ", ".join(f"{name} {len(s):,}" for name, s in corpora.items()) + "\n")

    models = build_models(args, corpora)
    rows = training_throughput(args, device, amp_dtype, models)
    print(f"## 1. Training throughput ({args.sentences_per_round} sentences per path and round, "
          f"{args.rounds} rounds after {args.warmup} untimed pass(es); medians; amp: {amp_dtype})\n")
    columns = ["model", "batch", "path", "sentences/s", "tokens/s", "ms/batch", "vs loop", "peak MiB"]
    print(markdown_table(columns, [[row[c] for c in columns] for row in rows]))
    print("\n`vs loop`: the path's speed over `loop`'s on the same batches (median of per-round ratios).\n")
    for model_name in ("STM", "MTM-CW"):
        at_10 = [row["sentences/s"] for row in rows if row["model"] == model_name and row["batch"] == 10]
        best = max((row for row in rows if row["model"] == model_name), key=lambda row: row["sentences/s"], default=None)
        if at_10 and best:
            print(f"- {model_name}: best at batch 10 {max(at_10):,.0f} sentences/s (target >= 1,000: "
                  f"{verdict(max(at_10), 1000, True)}); best overall {best['sentences/s']:,.0f} at batch "
                  f"{best['batch']}, {best['path']} (target >= 10,000: {verdict(best['sentences/s'], 10000, True)})")
    print()

    mtm_rows = [row for row in rows if row["model"] == "MTM-CW"]
    if not args.no_epoch and mtm_rows:
        best = max(mtm_rows, key=lambda row: row["sentences/s"])
        epoch = one_epoch(args, device, amp_dtype, *models["MTM-CW"], best["path"], best["batch"])
        print(f"## 2. One epoch of MTM-CW ({'+'.join(args.datasets)}), path {epoch['path']}, batch {epoch['batch']}\n")
        print(f"{epoch['sentences']:,} sentences in {epoch['seconds']:.1f} s ({epoch['sentences/s']:,.0f} sentences/s); "
              f"building the tensors beforehand took {epoch['tensorize s']:.1f} s (instances, indexing and "
              "tensors; in `allennlp train` the loader builds and indexes the instances once and then "
              "batches them each epoch, timed by `benchmarks/data_loading.py`).\n")

    if not args.no_predict:
        prediction = prediction_throughput(args, device)
        print("## 3. Prediction, all heads (`biomedical_entities` predictor)\n")
        columns = ["path", "batch (documents)", "documents", "tokens", "seconds", "tokens/s"]
        print(markdown_table(columns, [[row[c] for c in columns] for row in prediction]))
        best = max(row["tokens/s"] for row in prediction)
        print(f"\nBest {best:,.0f} tokens/s (target >= 300,000: {verdict(best, 300000, True)})")
    if device.type == "cuda":
        print(f"\nPeak device memory of the whole run: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
