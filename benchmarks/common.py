"""
Shared pieces of the speed and memory benchmarks (see benchmarks/README.md).

Everything here runs in-process: corpora are read with the project's own reader
functions; reader, vocabulary, model and allennlp's `GradientDescentTrainer` (optimiser,
gradient clipping, mixed precision) are built from the training configs with `Params`
overrides, so the benchmarks measure the package's model as `allennlp train` builds and
trains it. Batches are built once, up front, so that every timed region is a training
step and nothing else (turning sentences into tensors is the data loader's work and is
timed separately where it is reported at all).
"""
import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from allennlp.common import Params  # noqa: E402
from allennlp.data import Batch, DatasetReader, Vocabulary  # noqa: E402
from allennlp.data.data_loaders import SimpleDataLoader  # noqa: E402
from allennlp.models import Model  # noqa: E402
from allennlp.training import GradientDescentTrainer, Trainer  # noqa: E402

import biomtl_allennlp  # noqa: E402,F401  (registers the components)
from biomtl_allennlp.common.datasets import (  # noqa: E402
    BENCHMARK_DATASETS,
    DATA_ROOT_ENV,
    dataset_folder,
    dataset_name,
    split_file,
)
from biomtl_allennlp.common.markdown import markdown_table as _markdown_table  # noqa: E402
from biomtl_allennlp.data.crichton_tsv import read_sentences  # noqa: E402

# The four corpora of the benchmarks (the paper's five minus BC4CHEMD, which is not under
# the shared data root).
DEFAULT_DATASETS = list(BENCHMARK_DATASETS)
DEFAULT_SINGLE_DATASET = "NCBI-disease"
DEFAULT_DATA_ROOT = os.environ.get(DATA_ROOT_ENV) or str(REPO_ROOT.parent / "shared" / "data")
CONFIGS = REPO_ROOT / "training_configs"

# Training throughput of the paper's own code (LM-LSTM-CRF based), measured earlier on
# these machines at batch 10. A given reference: no script here re-measures it.
PAPER_CODE_SENTENCES_PER_SECOND = 45.0


class Sentence(NamedTuple):
    dataset: str
    words: List[str]
    tags: List[str]  # BIOUL


# ---------------------------------------------------------------------------- arguments


def add_common_arguments(
    parser: argparse.ArgumentParser,
    *,
    batch_size: int = 10,
    num_batches: Optional[int] = 40,
    max_sentences: Optional[int] = None,
) -> None:
    parser.add_argument(
        "--datasets", nargs="+", default=DEFAULT_DATASETS,
        help="corpora (built-in names or folders under --data-root); default: %(default)s",
    )
    parser.add_argument(
        "--data-root", default=DEFAULT_DATA_ROOT,
        help=f"folder holding the corpora (default: ${DATA_ROOT_ENV} or ../shared/data)",
    )
    parser.add_argument("--batch-size", type=int, default=batch_size, help="default: %(default)s")
    if num_batches is not None:
        parser.add_argument(
            "--num-batches", type=int, default=num_batches,
            help="timed batches per variant and round (default: %(default)s)",
        )
    parser.add_argument(
        "--max-sentences", type=int, default=max_sentences,
        help="read at most this many training sentences per corpus (default: all; the "
        "vocabulary, hence the embedding matrix, is built from what is read)",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch.set_num_threads (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=13, help="default: %(default)s")
    parser.add_argument(
        "--no-mkldnn", action="store_true",
        help="torch.backends.mkldnn.enabled = False (CPU LSTMs then take ATen's own kernel "
        "instead of oneDNN's; to compare the two)",
    )


def setup(
    args: argparse.Namespace, title: str, script: str, argv: Optional[Sequence[str]]
) -> None:
    """Seeds, threads, and a header saying what ran where."""
    torch.set_num_threads(args.threads)
    if getattr(args, "no_mkldnn", False):
        torch.backends.mkldnn.enabled = False
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    print_header(title, script, argv)


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return commit + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_header(title: str, script: str, argv: Optional[Sequence[str]]) -> None:
    """`script`: the benchmark's `__file__`; `argv`: its arguments (None: sys.argv)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        shown = str(Path(script).resolve().relative_to(REPO_ROOT))
    except ValueError:
        shown = script
    print(f"# {title}")
    print()
    print(f"- command: `{shlex.join(['python', shown, *argv])}`")
    print(f"- torch {torch.__version__}, threads: {torch.get_num_threads()} intra-op / "
          f"{torch.get_num_interop_threads()} inter-op; CPU cores visible: {os.cpu_count()}; "
          f"oneDNN (mkldnn) {'enabled' if torch.backends.mkldnn.enabled else 'DISABLED'}")
    try:
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "n/a"
    print(f"- machine: {platform.machine()} {platform.system()} {platform.release()}; "
          f"python {platform.python_version()}; load average at start: {load}")
    print(f"- commit: {git_commit()}")
    print(flush=True)


# ---------------------------------------------------------------------------- data


def load_sentences(
    datasets: Iterable[str], data_root: str, split: str = "train",
    max_sentences: Optional[int] = None,
) -> Dict[str, List[Sentence]]:
    """Sentences per dataset name, in file order."""
    corpora: Dict[str, List[Sentence]] = {}
    for entry in datasets:
        name = dataset_name(entry)
        path = split_file(dataset_folder(entry, data_root), split)
        sentences = []
        for words, tags in read_sentences(path):
            sentences.append(Sentence(name, words, tags))
            if max_sentences is not None and len(sentences) >= max_sentences:
                break
        corpora[name] = sentences
    return corpora


def bucketed_batches(
    sentences: Sequence[Sentence], batch_size: int, rng: random.Random, noise: float = 0.1
) -> List[List[Sentence]]:
    """
    Full batches of sentences of similar length, like allennlp's `BucketBatchSampler`
    (lengths perturbed by +-`noise`, sorted, cut into batches; the last, partial batch is
    dropped so every batch has `batch_size` rows).
    """
    keyed = sorted(
        sentences, key=lambda sentence: len(sentence.words) * (1 + rng.uniform(-noise, noise))
    )
    return [
        keyed[start: start + batch_size]
        for start in range(0, len(keyed) - batch_size + 1, batch_size)
    ]


def pick_batches(
    sentences: Sequence[Sentence], batch_size: int, num_batches: int, rng: random.Random
) -> List[List[Sentence]]:
    """`num_batches` random length-bucketed batches (so lengths follow training's mix)."""
    batches = bucketed_batches(sentences, batch_size, rng)
    if not batches:
        raise ValueError(f"fewer than {batch_size} sentences to batch")
    if num_batches <= len(batches):
        return rng.sample(batches, num_batches)
    return [rng.choice(batches) for _ in range(num_batches)]


def count_tokens(batch: Sequence[Sentence]) -> int:
    return sum(len(sentence.words) for sentence in batch)


# ---------------------------------------------------------------------------- models


def config_params(
    config: str, datasets: Sequence[str], data_root: str, overrides: Optional[Dict[str, Any]] = None
) -> Params:
    """A config under `training_configs/` for `datasets` under `data_root`, with `overrides`
    (dotted keys, as `allennlp train -o`)."""
    merged = {"dataset_reader.datasets": list(datasets), "dataset_reader.data_root": data_root}
    merged.update(overrides or {})
    return Params.from_file(str(CONFIGS / config), params_overrides=json.dumps(merged))


class Tagger(NamedTuple):
    reader: DatasetReader
    vocab: Vocabulary
    model: Model
    # The config less its reader and vocabulary (`model`, `trainer`, `data_loader`, ...).
    params: Params


def build_tagger(
    config: str, datasets: Sequence[str], data_root: str, vocab_sentences: Iterable[Sentence],
    overrides: Optional[Dict[str, Any]] = None,
) -> Tagger:
    """
    Reader, vocabulary and model of a training config (`stm.jsonnet`, `mtm_cw.jsonnet`,
    ...) for `datasets`, as `allennlp train` builds them; the vocabulary is built by the
    config's vocabulary section from `vocab_sentences` (normally the whole training set).
    """
    params = config_params(config, datasets, data_root, overrides)
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    instances = [
        reader.text_to_instance(sentence.words, sentence.tags, dataset=sentence.dataset)
        for sentence in vocab_sentences
    ]
    vocab = Vocabulary.from_params(params.pop("vocabulary"), instances=instances)
    model = Model.from_params(vocab=vocab, params=params.get("model").duplicate())
    return Tagger(reader, vocab, model, params)


def build_trainer(tagger: Tagger, model: Optional[Model] = None) -> GradientDescentTrainer:
    """
    allennlp's trainer of the config's `trainer` section (optimiser, `grad_norm`,
    `cuda_device`, which moves the model, `use_amp`) for `model` (default: the tagger's; a
    copy for a variant that trains apart). It gets no data loader and no serialization
    folder: `train_step` feeds it pre-built batches, and nothing is written.
    """
    return Trainer.from_params(
        params=tagger.params.duplicate().pop("trainer"),
        model=model if model is not None else tagger.model,
        serialization_dir=None,
        data_loader=SimpleDataLoader([], batch_size=1),
    )


def tensorize(
    reader: DatasetReader, vocab: Vocabulary, batch: Sequence[Sentence], labelled: bool = True
) -> Dict:
    """
    The tensor dict a data loader would hand the model. Unlabelled batches carry no
    dataset either (raw text: every head tags every row).
    """
    instances = [
        reader.text_to_instance(
            sentence.words,
            sentence.tags if labelled else None,
            dataset=sentence.dataset if labelled else None,
        )
        for sentence in batch
    ]
    allennlp_batch = Batch(instances)
    allennlp_batch.index_instances(vocab)
    return allennlp_batch.as_tensor_dict()


def train_step(
    trainer: GradientDescentTrainer, tensors: Dict,
    loss_of: Optional[Callable[[Model, Dict], torch.Tensor]] = None,
    autocast: Optional[torch.dtype] = None,
) -> float:
    """
    One training step of `trainer` on a tensor dict, returning the loss: what
    `GradientDescentTrainer` does per batch (one batch per step), without its per-batch
    metrics, callbacks and progress bar. `zero_grad`, the forward pass
    (`trainer.batch_outputs`, or `loss_of(model, tensors)`), backward, the config's
    `grad_norm` / `grad_clipping` (`rescale_gradients`, `clip_gradient`) and the optimiser
    step. With the config's `use_amp` (CUDA only) the forward runs under float16 autocast
    and backward and step go through the trainer's gradient scaler, as in `allennlp
    train`; `autocast` (e.g. `torch.bfloat16`, any device) runs the forward under that
    dtype instead, without a scaler.
    """
    model = trainer.model
    model.train()
    trainer.optimizer.zero_grad()
    # allennlp 2.10 keeps `use_amp`'s gradient scaler here; it has no public accessor.
    scaler = trainer._scaler
    enabled = scaler is not None or autocast is not None
    with torch.autocast(trainer.cuda_device.type, dtype=autocast or torch.float16, enabled=enabled):
        if loss_of is None:
            loss = trainer.batch_outputs(tensors, for_training=True)["loss"]
        else:
            loss = loss_of(model, tensors)
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()
    trainer.rescale_gradients()
    trainer.clip_gradient()
    if scaler is None:
        trainer.optimizer.step()
    else:
        scaler.step(trainer.optimizer)
        scaler.update()
    return loss.item()


# ---------------------------------------------------------------------------- timing


class Variant:
    """
    Something to time: `step(work)` for each work item of `items`; each item counts
    `sentences[i]` sentences and `tokens[i]` tokens. `model`: the model it trains or runs.
    """

    def __init__(
        self, name: str, step: Callable[[object], object], items: Sequence[object],
        sentences: Sequence[int], tokens: Sequence[int], model: Optional[torch.nn.Module] = None,
    ) -> None:
        self.name = name
        self.model = model
        self.step = step
        self.items = list(items)
        self.sentences = list(sentences)
        self.tokens = list(tokens)
        self.round_seconds: List[float] = []
        self.batch_seconds: List[float] = []

    @property
    def sentences_per_round(self) -> int:
        return sum(self.sentences)

    @property
    def tokens_per_round(self) -> int:
        return sum(self.tokens)

    def round_sentences_per_second(self) -> List[float]:
        return [self.sentences_per_round / seconds for seconds in self.round_seconds]

    def median_sentences_per_second(self) -> float:
        return statistics.median(self.round_sentences_per_second())

    def median_tokens_per_second(self) -> float:
        return self.tokens_per_round / statistics.median(self.round_seconds)

    def median_batch_ms(self) -> float:
        return 1000 * statistics.median(self.batch_seconds)


def measure_interleaved(variants: Sequence[Variant], rounds: int, warmup_passes: int) -> None:
    """
    Warm each variant up with `warmup_passes` untimed passes over all of its items (so
    every batch shape has been seen: oneDNN builds an LSTM kernel per new input shape, and
    a long training run sees each shape many times), then run `rounds` rounds; in round r
    the variants take turns in an order rotated by r, each running all of its items.
    Machine load then hits every variant alike; compare medians over rounds.
    """
    for _ in range(warmup_passes):
        for variant in variants:
            for item in variant.items:
                variant.step(item)
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for variant in list(variants[shift:]) + list(variants[:shift]):
            total = 0.0
            for item in variant.items:
                start = time.perf_counter()
                variant.step(item)
                elapsed = time.perf_counter() - start
                variant.batch_seconds.append(elapsed)
                total += elapsed
            variant.round_seconds.append(total)


def paired_ratio(numerator: Variant, denominator: Variant) -> float:
    """Median over rounds of the time-per-sentence ratio (paired: same round)."""
    ratios = [
        (a / numerator.sentences_per_round) / (b / denominator.sentences_per_round)
        for a, b in zip(numerator.round_seconds, denominator.round_seconds)
    ]
    return statistics.median(ratios)


def time_call(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------- output


def number_cell(value: object) -> str:
    """A table cell: floats with 3 significant digits (thousands separated from 100 on), NaN
    as `-`, anything else as `str`."""
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A results table (`biomtl_allennlp.common.markdown`), cells written by `number_cell`."""
    return _markdown_table(headers, [[number_cell(value) for value in row] for row in rows])


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "NOT met"
