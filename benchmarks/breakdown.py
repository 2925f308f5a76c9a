"""
Where MTM-CW's training step and inference time go, on the package's model as
`training_configs/mtm_cw.jsonnet` builds it, and its own layers against allennlp's stock
ones on the same weights.

Reports
1. step time of the model: a training step of the config's trainer, inference with each
   row's own head (as in evaluation) and with every head (as when predicting raw text);
2. where that time goes, in place: the forward pass timed by hooks on each of the model's
   layers (every token embedder, word encoder and linear layer it holds, whatever the
   config puts there, and the CRF's log-likelihood and Viterbi), the backward pass and
   the optimiser;
3. each layer alone, in isolation, on the inputs it received in a real step (training =
   forward + backward, float inputs requiring grad as in the full graph), beside
   allennlp's stock equivalent with the same weights: the word encoder as allennlp's
   packed `lstm` (when the config's is `padded_bilstm`) and the multi-head CRF as one
   allennlp `ConditionalRandomField` per head, checked to give the same outputs first;
   the ratios ours / allennlp's;
4. optionally (`--profile`) torch.profiler's top operators for a training step.

    python benchmarks/breakdown.py            # full run, see benchmarks/README.md
"""
import argparse
import copy
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

# `common` is benchmarks/common.py (not a package import: fairscale installs a top-level
# `benchmarks` package into the environment).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from allennlp.modules import Seq2SeqEncoder, TokenEmbedder  # noqa: E402
from allennlp.modules.seq2seq_encoders import LstmSeq2SeqEncoder  # noqa: E402

from common import (  # noqa: E402
    DEFAULT_SINGLE_DATASET,
    Variant,
    add_common_arguments,
    build_tagger,
    build_trainer,
    count_tokens,
    load_sentences,
    markdown_table,
    measure_interleaved,
    pick_batches,
    setup,
    tensorize,
    time_call,
    train_step,
)
from biomtl_allennlp.modules.multi_head_crf import MultiHeadCrf  # noqa: E402
from biomtl_allennlp.modules.seq2seq_encoders.padded_bilstm import PaddedBiLstm  # noqa: E402

# A call to replay: (positional arguments, keyword arguments).
Call = Tuple[tuple, dict]


def raw_text_tensors(tensors: Dict) -> Dict:
    """The same batch as raw text: no tags, no dataset (every head tags every row)."""
    return {
        "tokens": tensors["tokens"],
        "metadata": [{"words": entry["words"], "dataset": None} for entry in tensors["metadata"]],
    }


def infer(model, tensors: Dict):
    """The model's own forward in eval mode, without tags (decoding)."""
    model.eval()
    with torch.no_grad():
        return model(tokens=tensors["tokens"], metadata=tensors["metadata"])["predicted_tags"]


# ---------------------------------------------------------------------------- the model's layers


def model_layers(model: torch.nn.Module) -> Dict[str, List[torch.nn.Module]]:
    """
    The model's layers by label: the outermost token embedders, sequence encoders and
    linear layers under it, whatever the config built. Per-dataset copies (entries of a
    `ModuleDict`) share a label, e.g. "Linear `projections.*`".
    """
    layers: Dict[str, List[torch.nn.Module]] = {}
    taken: List[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(prefix + ".") for prefix in taken):
            continue
        if isinstance(module, (TokenEmbedder, Seq2SeqEncoder, torch.nn.Linear)):
            taken.append(name)
            parts = name.split(".")
            parent = model.get_submodule(".".join(parts[:-1])) if len(parts) > 1 else model
            if isinstance(parent, torch.nn.ModuleDict):
                parts[-1] = "*"
            path = ".".join(part.lstrip("_") for part in parts)
            layers.setdefault(f"{type(module).__name__} `{path}`", []).append(module)
    return layers


def multi_head_crf(model: torch.nn.Module) -> MultiHeadCrf:
    [crf] = [module for module in model.modules() if isinstance(module, MultiHeadCrf)]
    return crf


class SectionTimer:
    """Accumulates wall time spent inside modules (forward hooks) and wrapped methods."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._starts: Dict[int, float] = {}
        self._handles = []
        self._wrapped: List[Tuple[object, str]] = []

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def watch(self, label: str, module: torch.nn.Module) -> None:
        def before(mod, _inputs):
            self._starts[id(mod)] = time.perf_counter()

        def after(mod, _inputs, _output):
            self.add(label, time.perf_counter() - self._starts.pop(id(mod)))

        self._handles.append(module.register_forward_pre_hook(before))
        self._handles.append(module.register_forward_hook(after))

    def wrap(self, label: str, owner: object, method: str) -> None:
        """Times `owner.method` (this instance only, until `remove`)."""
        function = getattr(owner, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        setattr(owner, method, timed)
        self._wrapped.append((owner, method))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        for owner, method in self._wrapped:
            delattr(owner, method)
        self._handles, self._wrapped = [], []


def in_situ_breakdown(
    trainer, tensor_batches: Sequence[Dict], training: bool
) -> List[Tuple[str, float]]:
    """Milliseconds per batch of each part of a real step (hooks time the forward)."""
    model = trainer.model
    timer = SectionTimer()
    timer.watch("forward: total", model)
    for label, modules in model_layers(model).items():
        for module in modules:
            timer.watch(f"forward: {label}", module)
    crf = multi_head_crf(model)
    timer.wrap("forward: CRF log-likelihood (`MultiHeadCrf`, all heads)", crf, "log_likelihood")
    timer.wrap("forward: CRF Viterbi (`MultiHeadCrf`, all heads)", crf, "viterbi_tags")
    update = "zero_grad + gradient clipping + optimiser step"
    for owner, method in ((trainer.optimizer, "zero_grad"), (trainer.optimizer, "step"),
                          (trainer, "rescale_gradients"), (trainer, "clip_gradient")):
        timer.wrap(update, owner, method)
    total = 0.0
    try:
        for tensors in tensor_batches:
            start = time.perf_counter()
            if training:
                train_step(trainer, tensors)
            else:
                infer(model, tensors)
            total += time.perf_counter() - start
    finally:
        timer.remove()
    count = len(tensor_batches)
    seconds = dict(timer.seconds)
    forward = seconds.pop("forward: total")
    updating = seconds.pop(update, 0.0)
    rows = [(label, 1000 * value / count) for label, value in seconds.items()]
    rows.append(("forward: the rest (head rows, masks, dropout, concatenation, results to "
                 "lists, Python)", 1000 * (forward - sum(seconds.values())) / count))
    if training:
        rows.append(("backward (all layers)", 1000 * (total - forward - updating) / count))
        rows.append((update, 1000 * updating / count))
    rows.append(("total step", 1000 * total / count))
    return rows


# ---------------------------------------------------------------------------- allennlp's stock layers


def packed_lstm(encoder: PaddedBiLstm) -> LstmSeq2SeqEncoder:
    """allennlp's (packed) `lstm` encoder with the weights of a `padded_bilstm`: its layer
    l's forward / backward `nn.LSTM` is the packed LSTM's layer l / layer l reversed."""
    state = {}
    for key, value in encoder.state_dict().items():
        direction, layer, weight = key.split(".")  # e.g. _forward_layers.0.weight_ih_l0
        suffix = "" if direction == "_forward_layers" else "_reverse"
        state[f"_module.{weight[: -len('l0')]}l{layer}{suffix}"] = value
    num_layers = 1 + max(int(key.split(".")[1]) for key in encoder.state_dict())
    packed = LstmSeq2SeqEncoder(
        encoder.get_input_dim(), encoder.get_output_dim() // 2, num_layers=num_layers,
        bidirectional=True,
    )
    packed.load_state_dict(state)
    return packed


def allennlp_crf_log_likelihood(crf: MultiHeadCrf, logits, tags, mask, heads) -> torch.Tensor:
    """Summed log-likelihood of the rows, each head's rows by its own allennlp CRF."""
    total = logits.new_zeros(())
    for index, name in enumerate(crf.heads):
        rows = (heads == index).nonzero().squeeze(1)
        if len(rows):
            head = crf.crfs[name]
            total = total + head(logits[rows][..., : head.num_tags], tags[rows], mask[rows])
    return total


def allennlp_crf_viterbi(crf: MultiHeadCrf, logits, mask, heads) -> Dict[int, List[int]]:
    """Best path per row (row -> tags), each head's rows by its own allennlp CRF."""
    paths = {}
    for index, name in enumerate(crf.heads):
        rows = (heads == index).nonzero().squeeze(1)
        if len(rows):
            head = crf.crfs[name]
            decoded = head.viterbi_tags(logits[rows][..., : head.num_tags], mask[rows])
            paths.update(zip(rows.tolist(), (path for path, _ in decoded)))
    return paths


# ---------------------------------------------------------------------------- isolation


def map_tensors(value, function: Callable[[torch.Tensor], torch.Tensor]):
    """`value` with `function` applied to every tensor in it (in dicts, lists, tuples)."""
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, dict):
        return {key: map_tensors(item, function) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map_tensors(item, function) for item in value)
    return value


def detached(value):
    return map_tensors(value, torch.Tensor.detach)


def requiring_grad(value):
    """Float tensors as fresh leaves that require grad (as inside the full graph)."""
    return map_tensors(
        value, lambda tensor: tensor.detach().requires_grad_() if tensor.is_floating_point() else tensor
    )


def capture_calls(model, tensor_batches: Sequence[Dict]) -> Dict[str, List[Call]]:
    """
    The arguments every layer (and the CRF's two methods) received in a real forward of
    each batch: training mode with tags (log-likelihood), then eval mode as raw text
    (Viterbi, every head on every row).
    """
    calls: Dict[str, List[Call]] = {}
    handles = []
    for label, modules in model_layers(model).items():
        if len(modules) == 1:  # per-dataset copies see other rows each: timed in place only
            def record(_module, args, kwargs, label=label):
                calls.setdefault(label, []).append((detached(args), detached(kwargs)))

            handles.append(modules[0].register_forward_pre_hook(record, with_kwargs=True))
    crf = multi_head_crf(model)
    originals = {}
    for method in ("log_likelihood", "viterbi_tags"):
        function = originals[method] = getattr(crf, method)

        def recorded(*args, method=method, function=function, **kwargs):
            calls.setdefault(method, []).append((detached(args), detached(kwargs)))
            return function(*args, **kwargs)

        setattr(crf, method, recorded)
    try:
        model.train()
        with torch.no_grad():
            for tensors in tensor_batches:
                model(**tensors)
        for tensors in tensor_batches:
            infer(model, raw_text_tensors(tensors))
    finally:
        for handle in handles:
            handle.remove()
        for method in originals:
            delattr(crf, method)
    # The layers' calls of the training forward only (the same inputs, up to dropout).
    return {label: items[: len(tensor_batches)] for label, items in calls.items()}


def check_against_allennlp(model, calls: Dict[str, List[Call]]) -> str:
    """Our layers and allennlp's stock ones give the same outputs on the same inputs."""
    model.eval()
    crf = multi_head_crf(model)
    notes = []
    with torch.no_grad():
        args, kwargs = calls["log_likelihood"][0]
        ours = crf.log_likelihood(*args, **kwargs).sum().item()
        theirs = allennlp_crf_log_likelihood(crf, *args, **kwargs).item()
        if abs(ours - theirs) > 1e-4 * max(1.0, abs(theirs)):
            raise AssertionError(f"MultiHeadCrf log-likelihood {ours} != allennlp's {theirs}")
        args, kwargs = calls["viterbi_tags"][0]
        best, _ = crf.viterbi_tags(*args, **kwargs)
        expected = allennlp_crf_viterbi(crf, *args, **kwargs)
        if any(best[row, : len(path)].tolist() != path for row, path in expected.items()):
            raise AssertionError("MultiHeadCrf and allennlp's CRFs decode different best paths")
        notes.append(f"CRF log-likelihood {ours:.4f} (ours) vs {theirs:.4f} (allennlp's CRF per "
                     "head); best paths identical")
        for label, encoder in encoders(model, calls):
            args, kwargs = calls[label][0]
            torch.testing.assert_close(encoder(*args, **kwargs), packed_lstm(encoder)(*args, **kwargs),
                                       rtol=1e-4, atol=1e-5)
            notes.append(f"{label}'s output equal to allennlp's packed `lstm`'s")
    return "; ".join(notes)


def encoders(model, calls) -> List[Tuple[str, PaddedBiLstm]]:
    return [(label, modules[0]) for label, modules in model_layers(model).items()
            if isinstance(modules[0], PaddedBiLstm) and label in calls]


def isolated_breakdown(model, calls: Dict[str, List[Call]], repeats: int) -> List[list]:
    """(component, train fwd+bwd ms, inference fwd ms) per batch, each piece alone."""
    model.train()
    layers = {label: modules[0] for label, modules in model_layers(model).items()}
    crf = multi_head_crf(model)

    def run(function: Callable, items: List[Call], backward: bool) -> float:
        def go():
            for args, kwargs in items:
                if backward:
                    function(*requiring_grad(args), **requiring_grad(kwargs)).sum().backward()
                else:
                    function(*args, **kwargs)
        return 1000 * time_call(go, repeats) / len(items)

    def both(label: str, function: Callable, items: List[Call]) -> list:
        train_ms = run(function, items, backward=True)
        with torch.no_grad():
            infer_ms = run(function, items, backward=False)
        return [label, train_ms, infer_ms]

    rows = [both(label, layers[label], calls[label]) for label in layers if label in calls]
    for label, encoder in encoders(model, calls):
        packed = packed_lstm(encoder).train()
        rows.append(both(PACKED, packed, calls[label]))
    rows.append(both(OURS_CRF, crf.log_likelihood, calls["log_likelihood"]))
    rows.append(both(ALLENNLP_CRF, lambda *args: allennlp_crf_log_likelihood(crf, *args),
                     calls["log_likelihood"]))
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        for label, function in (
            (OURS_VITERBI, crf.viterbi_tags),
            (ALLENNLP_VITERBI, lambda *args: allennlp_crf_viterbi(crf, *args)),
        ):
            rows.append([label, float("nan"), run(function, calls["viterbi_tags"], backward=False)])
    return rows


OURS_CRF = "CRF log-likelihood, all heads in one pass: ours (`MultiHeadCrf`)"
ALLENNLP_CRF = "CRF log-likelihood: allennlp's `ConditionalRandomField`, head by head"
OURS_VITERBI = "Viterbi, every head on every row: ours (`MultiHeadCrf`)"
ALLENNLP_VITERBI = "Viterbi, every head on every row: allennlp's CRFs, head by head"
PACKED = "the same as allennlp's `lstm` (packed), same weights"


def ratios(rows: List[list]) -> List[list]:
    """Ours / allennlp's time, from the isolated rows (a packed `lstm` row follows ours)."""
    by_label = {row[0]: row for row in rows}
    pairs = [(f"word encoder: {rows[index - 1][0]} / allennlp's packed `lstm`", rows[index - 1], row)
             for index, row in enumerate(rows) if row[0] == PACKED]
    pairs += [("CRF log-likelihood: `MultiHeadCrf` / allennlp's CRFs head by head",
               by_label[OURS_CRF], by_label[ALLENNLP_CRF]),
              ("Viterbi: `MultiHeadCrf` / allennlp's CRFs head by head",
               by_label[OURS_VITERBI], by_label[ALLENNLP_VITERBI])]
    return [[name, ours[1] / theirs[1], ours[2] / theirs[2]] for name, ours, theirs in pairs]


# ---------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, batch_size=10, num_batches=30)
    parser.add_argument(
        "--batches", choices=["mix", "single"], default="mix",
        help="length-bucketed batches of the mix of --datasets (default) or of "
        "--single-dataset only",
    )
    parser.add_argument("--single-dataset", default=DEFAULT_SINGLE_DATASET)
    parser.add_argument("--rounds", type=int, default=5, help="default: %(default)s")
    parser.add_argument(
        "--warmup", type=int, default=1,
        help="untimed passes over all batches before timing (default: %(default)s)",
    )
    parser.add_argument(
        "--breakdown-repeats", type=int, default=3,
        help="repeats of the isolated component timings (default: %(default)s; 0: skip "
        "the breakdown)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="STEPS",
        help="also print torch.profiler's top operators over this many training steps",
    )
    args = parser.parse_args(argv)
    setup(args, "Where the time goes", __file__, argv)

    corpora = load_sentences(args.datasets, args.data_root, "train", args.max_sentences)
    mix_sentences = [sentence for name in args.datasets for sentence in corpora[name]]
    rng = random.Random(args.seed)
    pool = corpora[args.single_dataset] if args.batches == "single" else mix_sentences
    sentence_batches = pick_batches(pool, args.batch_size, args.num_batches, rng)
    lengths = [len(sentence.words) for batch in sentence_batches for sentence in batch]
    print(f"Model: MTM-CW ({len(args.datasets)} heads: {', '.join(args.datasets)}); batches: "
          f"{len(sentence_batches)} x {args.batch_size} sentences of "
          f"{args.single_dataset if args.batches == 'single' else 'the mix'}, "
          f"{statistics.mean(lengths):.1f} tokens/sentence on average")

    tagger = build_tagger("mtm_cw.jsonnet", args.datasets, args.data_root, mix_sentences)
    model = tagger.model
    start = time.perf_counter()
    tensor_batches = [tensorize(tagger.reader, tagger.vocab, batch) for batch in sentence_batches]
    tensorize_ms = 1000 * (time.perf_counter() - start) / len(sentence_batches)
    print(f"Data -> tensors (text_to_instance + indexing + padding): {tensorize_ms:.1f} ms per "
          f"batch, outside every timed step below (the data loader's work).")
    print(flush=True)

    sentences = [len(batch) for batch in sentence_batches]
    tokens = [count_tokens(batch) for batch in sentence_batches]
    raw_batches = [raw_text_tensors(tensors) for tensors in tensor_batches]
    trainer = build_trainer(tagger, copy.deepcopy(model))
    variants = [
        Variant("train", lambda t: train_step(trainer, t), tensor_batches, sentences, tokens,
                model=trainer.model),
        Variant("infer, own head", lambda t: infer(model, t), tensor_batches, sentences, tokens,
                model=model),
        Variant("infer, every head", lambda t: infer(model, t), raw_batches, sentences, tokens,
                model=model),
    ]
    measure_interleaved(variants, args.rounds, args.warmup)
    print(f"## Step time (batch {args.batch_size}, {args.num_batches} batches x {args.rounds} "
          f"rounds after {args.warmup} untimed pass(es), medians)")
    print()
    print(markdown_table(
        ["variant", "ms/batch", "sentences/s", "tokens/s"],
        [[v.name, 1000 * statistics.median(v.round_seconds) / len(v.items),
          v.median_sentences_per_second(), v.median_tokens_per_second()] for v in variants],
    ))
    print()
    results: Dict[str, object] = {"variants": {variant.name: variant for variant in variants}}

    if args.breakdown_repeats > 0:
        breakdown_batches = tensor_batches[: max(1, min(10, len(tensor_batches)))]
        print(f"## Where the model's time goes ({len(breakdown_batches)} batches, ms per batch)")
        print()
        breakdown_trainer = build_trainer(tagger, copy.deepcopy(model))
        raw = [raw_text_tensors(t) for t in breakdown_batches]
        # Warm-up pass (every shape seen once), then the timed pass.
        in_situ_breakdown(breakdown_trainer, breakdown_batches, True)
        in_situ_breakdown(breakdown_trainer, raw, False)
        train_rows = in_situ_breakdown(breakdown_trainer, breakdown_batches, True)
        infer_rows = in_situ_breakdown(breakdown_trainer, raw, False)
        print("In place (a real step; hooks time the forward pass, so the backward pass is one "
              "figure; inference = every head on every row):")
        print()
        train, inference = dict(train_rows), dict(infer_rows)
        labels = list(dict.fromkeys([label for label, _ in train_rows] +
                                    [label for label, _ in infer_rows]))
        in_place = [[label, train.get(label, float("nan")), inference.get(label, float("nan"))]
                    for label in labels]
        print(markdown_table(["part", "training ms", "inference ms"], in_place))
        print()
        calls = capture_calls(breakdown_trainer.model, breakdown_batches)
        check = check_against_allennlp(breakdown_trainer.model, calls)
        print(f"Check, on the first batch's real inputs: {check}.")
        print()
        print("In isolation (each layer alone on the inputs it received in the real steps; "
              "training = forward + backward, float inputs requiring grad as in the full graph):")
        print()
        isolated = isolated_breakdown(breakdown_trainer.model, calls, args.breakdown_repeats)
        print(markdown_table(["component", "training ms", "inference ms"], isolated))
        print()
        ratio_rows = ratios(isolated)
        print(markdown_table(["time ratio", "training", "inference"], ratio_rows))
        print()
        results.update(in_place=in_place, check=check, isolated=isolated, ratios=ratio_rows)

    if args.profile > 0:
        from torch.profiler import ProfilerActivity, profile

        profile_trainer = build_trainer(tagger, copy.deepcopy(model))
        batches = [tensor_batches[i % len(tensor_batches)] for i in range(args.profile)]
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for tensors in batches:
                train_step(profile_trainer, tensors)
        print(f"## torch.profiler, {args.profile} training steps (top operators by self CPU time)")
        print()
        print("```")
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        print("```")
    return results


if __name__ == "__main__":
    main()
