"""
Our MTM-CW model against a "compute floor": the same math written as bare torch calls on
the same batches and the same weights, using the fastest correct CPU formulation of each
piece.

The floor (`FloorTagger`): word embedding lookup; character embedding, the two
unidirectional character LSTMs over right-padded streams (the backward one over each
sentence's reversed stream) and the gathers at word ends / starts; concatenation; the word
BiLSTM as two unidirectional `nn.LSTM`s over right-padded tensors (forward over the words,
backward over each sentence's reversed words: exact, no `PackedSequence`); dropout; one
linear projection per dataset; a batched CRF negative log-likelihood (vectorised gold
score, `torch.logsumexp` forward algorithm); backward; gradient clipping at 5; SGD step.
Inference: the same forward (no grad) and a batched Viterbi with the same constraints.
Before timing, the floor is checked against the model (eval mode, same weights): same
loss, same best paths.

Reports
1. step time of our model / floor, for training and for inference (each row tagged by
   its own dataset's head, as in evaluation; and by every head, as when predicting raw
   text);
2. where our model's time goes: the forward pass timed in place with module hooks, the
   backward pass and optimiser, and each component's forward + backward in isolation
   (the word encoder both as our model runs it, allennlp's packed `lstm`, and padded);
3. optionally (`--profile`) torch.profiler's top operators for our training step.

    python benchmarks/compute_floor.py            # full run, see benchmarks/README.md
"""
import argparse
import copy
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

# `common` is benchmarks/common.py (not a package import: fairscale installs a top-level
# `benchmarks` package into the environment).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from common import (  # noqa: E402
    DEFAULT_SINGLE_DATASET,
    Variant,
    add_common_arguments,
    build_tagger,
    clip_and_step,
    count_tokens,
    load_sentences,
    markdown_table,
    measure_interleaved,
    paired_ratio,
    paper_optimizer,
    pick_batches,
    setup,
    tensorize,
    time_call,
    train_step,
    verdict,
)
from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger  # noqa: E402

_FORBIDDEN = -10000.0

View = Tuple[str, Optional[torch.Tensor]]


# ---------------------------------------------------------------------------- the floor


def reversal_index(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """(batch, size): position j reads position length-1-j; padding maps to itself."""
    positions = torch.arange(size, device=lengths.device).unsqueeze(0)
    reversed_positions = lengths.unsqueeze(1) - 1 - positions
    return torch.where(reversed_positions >= 0, reversed_positions, positions)


def gather_time(states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """states (batch, time, dim), index (batch, n) -> (batch, n, dim)."""
    return states.gather(1, index.unsqueeze(-1).expand(-1, -1, states.size(-1)))


def padded_bilstm(
    forward_lstm: torch.nn.LSTM, backward_lstm: torch.nn.LSTM, inputs: torch.Tensor,
    lengths: torch.Tensor, mask: torch.Tensor,
) -> torch.Tensor:
    """Exact bidirectional LSTM over right-padded inputs without packing; zeros at padding."""
    reverse = reversal_index(lengths, inputs.size(1))
    forward_states, _ = forward_lstm(inputs)
    backward_reversed, _ = backward_lstm(gather_time(inputs, reverse))
    backward_states = gather_time(backward_reversed, reverse)
    return torch.cat([forward_states, backward_states], dim=-1) * mask.unsqueeze(-1)


def crf_nll(
    logits: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor,
    transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
) -> torch.Tensor:
    """Summed negative log-likelihood of a linear-chain CRF (allennlp's, unconstrained)."""
    num_tokens = logits.size(1)
    maskf = mask.to(logits.dtype)
    emitted = logits.gather(2, tags.unsqueeze(2)).squeeze(2)
    gold = start[tags[:, 0]] + (emitted * maskf).sum(1)
    if num_tokens > 1:
        gold = gold + (transitions[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
    last_tags = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
    gold = gold + end[last_tags]
    alpha = start.unsqueeze(0) + logits[:, 0]
    broadcast_transitions = transitions.unsqueeze(0)
    for t in range(1, num_tokens):
        following = torch.logsumexp(alpha.unsqueeze(2) + broadcast_transitions, dim=1) + logits[:, t]
        alpha = torch.where(mask[:, t: t + 1], following, alpha)
    partition = torch.logsumexp(alpha + end.unsqueeze(0), dim=1)
    return (partition - gold).sum()


def viterbi(
    logits: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Best paths (batch, tokens) of a batch; constrained potentials given."""
    batch_size, num_tokens, num_tags = logits.shape
    score = start.unsqueeze(0) + logits[:, 0]
    identity = torch.arange(num_tags).expand(batch_size, num_tags)
    broadcast_transitions = transitions.unsqueeze(0)
    pointers = []
    for t in range(1, num_tokens):
        best, previous = (score.unsqueeze(2) + broadcast_transitions).max(dim=1)
        step = mask[:, t: t + 1]
        score = torch.where(step, best + logits[:, t], score)
        pointers.append(torch.where(step, previous, identity))
    current = (score + end.unsqueeze(0)).argmax(dim=1, keepdim=True)
    path = [current]
    for pointer in reversed(pointers):
        current = pointer.gather(1, current)
        path.append(current)
    path.reverse()
    return torch.cat(path, dim=1)


_LSTM_WEIGHTS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def describe_encoder(encoder: torch.nn.Module) -> str:
    if hasattr(encoder, "_forward_layers"):
        return "`padded_bilstm`, unpacked"
    if isinstance(getattr(encoder, "_module", None), torch.nn.LSTM):
        return "allennlp `lstm`, packed"
    return type(encoder).__name__


def unidirectional_lstms(encoder: torch.nn.Module) -> Tuple[torch.nn.LSTM, torch.nn.LSTM]:
    """Copies of a one-layer word BiLSTM's weights as a forward and a backward `nn.LSTM`."""
    if hasattr(encoder, "_forward_layers"):  # biomtl's padded_bilstm
        if len(encoder._forward_layers) != 1:
            raise ValueError("the floor implements a one-layer word BiLSTM")
        return (copy.deepcopy(encoder._forward_layers[0]),
                copy.deepcopy(encoder._backward_layers[0]))
    lstm = getattr(encoder, "_module", None)  # allennlp's lstm (PytorchSeq2SeqWrapper)
    if not isinstance(lstm, torch.nn.LSTM) or lstm.num_layers != 1 or not lstm.bidirectional:
        raise ValueError(f"the floor does not know the word encoder {type(encoder).__name__}")
    forward_lstm = torch.nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    backward_lstm = torch.nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in _LSTM_WEIGHTS:
            getattr(forward_lstm, name).copy_(getattr(lstm, name))
            getattr(backward_lstm, name).copy_(getattr(lstm, name + "_reverse"))
    return forward_lstm, backward_lstm


def packed_lstm_encoder(forward_lstm: torch.nn.LSTM, backward_lstm: torch.nn.LSTM):
    """allennlp's (packed) `lstm` encoder with the given weights, for comparison."""
    from allennlp.modules.seq2seq_encoders import LstmSeq2SeqEncoder

    encoder = LstmSeq2SeqEncoder(
        forward_lstm.input_size, forward_lstm.hidden_size, bidirectional=True
    )
    with torch.no_grad():
        for name in _LSTM_WEIGHTS:
            getattr(encoder._module, name).copy_(getattr(forward_lstm, name))
            getattr(encoder._module, name + "_reverse").copy_(getattr(backward_lstm, name))
    return encoder


class FloorHead(torch.nn.Module):
    def __init__(self, projection: torch.nn.Linear, crf) -> None:
        super().__init__()
        self.projection = copy.deepcopy(projection)
        self.transitions = torch.nn.Parameter(crf.transitions.detach().clone())
        self.start = torch.nn.Parameter(crf.start_transitions.detach().clone())
        self.end = torch.nn.Parameter(crf.end_transitions.detach().clone())
        num_tags = crf.num_tags
        constraint = crf._constraint_mask.detach().clone()
        self.register_buffer("allowed", constraint[:num_tags, :num_tags])
        self.register_buffer("start_allowed", constraint[num_tags, :num_tags])
        self.register_buffer("end_allowed", constraint[:num_tags, num_tags + 1])

    def constrained(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        def apply(scores, allowed):
            return scores.detach() * allowed + _FORBIDDEN * (1 - allowed)

        return (
            apply(self.transitions, self.allowed),
            apply(self.start, self.start_allowed),
            apply(self.end, self.end_allowed),
        )


class FloorTagger(torch.nn.Module):
    """The MTM-CW math in bare torch, with a copy of a `MultiTaskCrfTagger`'s weights."""

    def __init__(self, model: MultiTaskCrfTagger) -> None:
        super().__init__()
        if model._private_embedders or model._encoder is None:
            raise ValueError("the floor implements MTM-CW / STM (nothing private)")
        if not model.datasets or any(weight != 1.0 for weight in model._loss_weights.values()):
            raise ValueError("the floor assumes loss weights of 1")
        if not all(crf.include_start_end_transitions for crf in model._crf.crfs.values()):
            raise ValueError("the floor assumes start/end transitions")
        embedders = model._text_field_embedder._token_embedders
        if sorted(embedders) != ["chars", "tokens"]:
            raise ValueError(f"the floor expects embedders 'chars' and 'tokens', not {sorted(embedders)}")
        words, chars = embedders["tokens"], embedders["chars"]
        self.word_embedding = torch.nn.Embedding.from_pretrained(
            words.weight.detach().clone(), freeze=False
        )
        self.char_embedding = copy.deepcopy(chars._embedding)
        self.char_forward = copy.deepcopy(chars._forward_lstm)
        self.char_backward = copy.deepcopy(chars._backward_lstm)
        self.char_dropout = torch.nn.Dropout(chars._dropout.p)
        self.dropout = torch.nn.Dropout(model._dropout.p)
        self.word_forward, self.word_backward = unidirectional_lstms(model._encoder)
        self.datasets = list(model.datasets)
        self.heads = torch.nn.ModuleDict({
            name: FloorHead(model._projections[name], model._crf.crfs[name]) for name in self.datasets
        })

    def encode(self, batch: Dict) -> torch.Tensor:
        chars, mask = batch["chars"], batch["mask"]
        char_lengths = (chars != 0).sum(dim=1)
        embedded_chars = self.char_dropout(self.char_embedding(chars))
        reverse = reversal_index(char_lengths, chars.size(1))
        forward_states, _ = self.char_forward(embedded_chars)
        backward_states, _ = self.char_backward(gather_time(embedded_chars, reverse))
        reversed_starts = (char_lengths.unsqueeze(1) - 1 - batch["word_starts"]).clamp(min=0)
        char_features = torch.cat(
            [gather_time(forward_states, batch["word_ends"]),
             gather_time(backward_states, reversed_starts)], dim=-1,
        ) * mask.unsqueeze(-1)
        # BasicTextFieldEmbedder concatenates in sorted key order: "chars", then "tokens".
        embedded = torch.cat([char_features, self.word_embedding(batch["words"])], dim=-1)
        encoded = padded_bilstm(
            self.word_forward, self.word_backward, self.dropout(embedded), batch["lengths"], mask
        )
        return self.dropout(encoded)

    def loss(self, batch: Dict) -> torch.Tensor:
        encoded = self.encode(batch)
        total = None
        for head, rows in batch["views"]:
            module = self.heads[head]
            if rows is None:
                states, tags, mask, lengths = encoded, batch["tags"], batch["mask"], batch["lengths"]
            else:
                states = encoded.index_select(0, rows)
                tags = batch["tags"].index_select(0, rows)
                mask = batch["mask"].index_select(0, rows)
                lengths = batch["lengths"].index_select(0, rows)
            nll = crf_nll(
                module.projection(states), tags, mask, lengths, module.transitions, module.start,
                module.end,
            )
            total = nll if total is None else total + nll
        return total / batch["mask"].size(0)

    def predict(self, batch: Dict, views: Sequence[View]) -> List[Dict[str, List[int]]]:
        encoded = self.encode(batch)
        lengths = batch["lengths"].tolist()
        predicted: List[Dict[str, List[int]]] = [{} for _ in lengths]
        for head, rows in views:
            module = self.heads[head]
            states = encoded if rows is None else encoded.index_select(0, rows)
            mask = batch["mask"] if rows is None else batch["mask"].index_select(0, rows)
            paths = viterbi(module.projection(states), mask, *module.constrained()).tolist()
            row_ids = range(len(lengths)) if rows is None else rows.tolist()
            for path, row in zip(paths, row_ids):
                predicted[row][head] = path[: lengths[row]]
        return predicted


def floor_batch(tensors: Dict, datasets: Sequence[str]) -> Dict:
    """The floor's inputs, from the tensor dict the model gets (done outside the step)."""
    chars = tensors["tokens"]["chars"]
    mask = chars["mask"]
    names = [entry["dataset"] for entry in tensors["metadata"]]
    views: List[View] = []
    for head in datasets:
        rows = [i for i, name in enumerate(names) if name == head]
        if len(rows) == len(names):
            views.append((head, None))
        elif rows:
            views.append((head, torch.tensor(rows)))
    return {
        "words": tensors["tokens"]["tokens"]["tokens"],
        "chars": chars["chars"],
        "word_starts": chars["word_starts"],
        "word_ends": chars["word_ends"],
        "mask": mask,
        "lengths": mask.sum(dim=1),
        "tags": tensors["tags"],
        "views": views,
        "all_views": [(head, None) for head in datasets],
    }


def raw_text_tensors(tensors: Dict) -> Dict:
    """The same batch as raw text: no tags, no dataset (every head tags every row)."""
    return {
        "tokens": tensors["tokens"],
        "metadata": [{"words": entry["words"], "dataset": None} for entry in tensors["metadata"]],
    }


# ---------------------------------------------------------------------------- steps


def model_infer(model: MultiTaskCrfTagger, tensors: Dict):
    model.eval()
    with torch.no_grad():
        return model(tokens=tensors["tokens"], metadata=tensors["metadata"])["predicted_tags"]


def floor_train(floor: FloorTagger, optimizer, batch: Dict) -> float:
    floor.train()
    optimizer.zero_grad(set_to_none=True)
    loss = floor.loss(batch)
    loss.backward()
    clip_and_step(floor, optimizer)
    return loss.item()


def floor_infer(floor: FloorTagger, batch: Dict, views: Sequence[View]):
    floor.eval()
    with torch.no_grad():
        return floor.predict(batch, views)


def check_floor(model: MultiTaskCrfTagger, floor: FloorTagger, tensors: Dict, batch: Dict) -> str:
    """Same loss and best paths in eval mode (no dropout), same weights."""
    model.eval()
    floor.eval()
    with torch.no_grad():
        model_loss = model(**tensors)["loss"].item()
        floor_loss = floor.loss(batch).item()
    model_paths = model_infer(model, tensors)
    floor_paths = floor_infer(floor, batch, batch["views"])
    if abs(model_loss - floor_loss) > 1e-3 * max(1.0, abs(model_loss)):
        raise AssertionError(f"floor loss {floor_loss} != model loss {model_loss}")
    if model_paths != floor_paths:
        raise AssertionError("floor and model best paths differ")
    return f"loss {model_loss:.5f} (model) vs {floor_loss:.5f} (floor); best paths identical"


# ---------------------------------------------------------------------------- breakdown


class SectionTimer:
    """Accumulates wall time spent inside modules (forward hooks) and wrapped functions."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._starts: Dict[int, float] = {}
        self._handles = []

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def watch(self, label: str, module: torch.nn.Module) -> None:
        def before(mod, _inputs):
            self._starts[id(mod)] = time.perf_counter()

        def after(mod, _inputs, _output):
            self.add(label, time.perf_counter() - self._starts.pop(id(mod)))

        self._handles.append(module.register_forward_pre_hook(before))
        self._handles.append(module.register_forward_hook(after))

    def wrap(self, label: str, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        return timed

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def in_situ_breakdown(
    model: MultiTaskCrfTagger, optimizer, tensor_batches: Sequence[Dict], training: bool
) -> List[Tuple[str, float]]:
    """Milliseconds per batch of each part of a real step (hooks time the forward)."""
    embedders = model._text_field_embedder._token_embedders
    timer = SectionTimer()
    timer.watch("forward: word embedding", embedders["tokens"])
    timer.watch("forward: char-stream layer (2 char LSTMs + gathers)", embedders["chars"])
    timer.watch(f"forward: word BiLSTM ({describe_encoder(model._encoder)})", model._encoder)
    for name in model.datasets:
        timer.watch("forward: projections", model._projections[name])
    # The CRF layer's methods, timed on this instance only (removed again below).
    crf = model._crf
    if training:
        crf.log_likelihood = timer.wrap(
            "forward: CRF NLL (MultiHeadCrf.log_likelihood, all heads)", crf.log_likelihood
        )
    else:
        crf.viterbi_tags = timer.wrap(
            "forward: Viterbi (MultiHeadCrf.viterbi_tags, all heads)", crf.viterbi_tags
        )
    total = backward = update = 0.0
    try:
        for tensors in tensor_batches:
            if training:
                model.train()
                before_zero = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                start = time.perf_counter()
                loss = model(**tensors)["loss"]
                middle = time.perf_counter()
                loss.backward()
                after_backward = time.perf_counter()
                clip_and_step(model, optimizer)
                end = time.perf_counter()
                backward += after_backward - middle
                update += end - after_backward + start - before_zero
                start = before_zero
                timer.add("forward: total", middle - start)
            else:
                start = time.perf_counter()
                model_infer(model, tensors)
                end = time.perf_counter()
                timer.add("forward: total", end - start)
            total += end - start
    finally:
        timer.remove()
        crf.__dict__.pop("log_likelihood", None)
        crf.__dict__.pop("viterbi_tags", None)
    count = len(tensor_batches)
    rows = [(label, 1000 * seconds / count) for label, seconds in timer.seconds.items()
            if label != "forward: total"]
    forward_total = timer.seconds["forward: total"]
    other = forward_total - sum(seconds for label, seconds in timer.seconds.items()
                                if label != "forward: total")
    rows.append(("forward: other (views, masks, dropout, concat, index_select, results "
                 "to lists, Python)", 1000 * other / count))
    if training:
        rows.append(("backward (all layers)", 1000 * backward / count))
        rows.append(("zero_grad + clip_grad_norm + SGD step", 1000 * update / count))
    rows.append(("total step", 1000 * total / count))
    return rows


def isolated_breakdown(
    model: MultiTaskCrfTagger, floor: FloorTagger, tensor_batches: Sequence[Dict],
    repeats: int,
) -> List[Tuple[str, float, float]]:
    """(component, train fwd+bwd ms, inference fwd ms) per batch, each piece alone."""
    embedders = model._text_field_embedder._token_embedders
    words, chars, encoder = embedders["tokens"], embedders["chars"], model._encoder
    model.train()
    floor.train()
    prepared = []
    for tensors in tensor_batches:
        mask = tensors["tokens"]["chars"]["mask"]
        with torch.no_grad():
            embedded = torch.cat(
                [chars(**tensors["tokens"]["chars"]), words(tensors["tokens"]["tokens"]["tokens"])],
                dim=-1,
            )
            encoded = encoder(embedded, mask)
        prepared.append((tensors, mask, embedded, encoded, floor_batch(tensors, floor.datasets)))

    def run(function, backward: bool):
        def go():
            for item in prepared:
                output = function(*item)
                if backward:
                    output.sum().backward()
        return 1000 * time_call(go, repeats) / len(prepared)

    def word_embedding(tensors, *_):
        return words(tensors["tokens"]["tokens"]["tokens"])

    def char_layer(tensors, *_):
        return chars(**tensors["tokens"]["chars"])

    packed = packed_lstm_encoder(floor.word_forward, floor.word_backward)
    packed.train()

    def our_encoder(tensors, mask, embedded, *_):
        return encoder(embedded.detach().requires_grad_(), mask)

    def packed_encoder(tensors, mask, embedded, *_):
        return packed(embedded.detach().requires_grad_(), mask)

    def padded_encoder(tensors, mask, embedded, _encoded, batch):
        return padded_bilstm(floor.word_forward, floor.word_backward,
                             embedded.detach().requires_grad_(), batch["lengths"], mask)

    def stacked(states, views):
        names = [head for head, _ in views]
        rows = [torch.arange(states.size(0)) if r is None else r for _, r in views]
        logits = [model._projections[head](states.index_select(0, r)) for head, r in zip(names, rows)]
        index = torch.cat([torch.full_like(r, model._crf.head_index(h)) for h, r in zip(names, rows)])
        return model._crf.stack_logits(logits), torch.cat(rows), index

    def heads(tensors, mask, _embedded, encoded, batch):
        logits, rows, index = stacked(encoded.detach().requires_grad_(), batch["views"])
        return -model._crf.log_likelihood(
            logits, tensors["tags"].index_select(0, rows), mask.index_select(0, rows), index
        ).sum()

    def floor_heads(tensors, mask, _embedded, encoded, batch):
        states = encoded.detach().requires_grad_()
        total = 0
        for head, rows in batch["views"]:
            select = (lambda x: x) if rows is None else (lambda x: x.index_select(0, rows))
            module = floor.heads[head]
            total = total + crf_nll(
                module.projection(select(states)), select(tensors["tags"]), select(mask),
                select(batch["lengths"]), module.transitions, module.start, module.end,
            )
        return total

    def viterbi_ours(tensors, mask, _embedded, encoded, batch):
        logits, rows, index = stacked(encoded, batch["all_views"])
        model._crf.viterbi_tags(logits, mask.index_select(0, rows), index)
        return None

    def viterbi_floor(tensors, mask, _embedded, encoded, batch):
        for head, rows in batch["all_views"]:
            module = floor.heads[head]
            viterbi(module.projection(encoded), mask, *module.constrained())
        return None

    rows = []
    for label, function in (
        ("word embedding", word_embedding),
        ("char-stream layer (ours = floor's formulation)", char_layer),
        (f"word BiLSTM as our model runs it ({describe_encoder(encoder)})", our_encoder),
        ("word BiLSTM, allennlp `lstm` (packed), same weights", packed_encoder),
        ("word BiLSTM, padded fwd + reversed-padded bwd: floor", padded_encoder),
        ("projections + CRF NLL, all heads in one pass: ours", heads),
        ("projections + CRF NLL, batched logsumexp: floor", floor_heads),
    ):
        train_ms = run(function, backward=True)
        with torch.no_grad():
            infer_ms = run(function, backward=False)
        rows.append((label, train_ms, infer_ms))
    model.zero_grad(set_to_none=True)
    floor.zero_grad(set_to_none=True)
    with torch.no_grad():
        rows.append(("Viterbi, every head on every row: ours (MultiHeadCrf.viterbi_tags)",
                     float("nan"), run(viterbi_ours, backward=False)))
        rows.append(("Viterbi, every head on every row: floor",
                     float("nan"), run(viterbi_floor, backward=False)))
    return rows


# ---------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Variant]:
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
    setup(args, "Compute floor", __file__, argv)

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

    reader, vocab, model = build_tagger("mtm_cw.jsonnet", args.datasets, args.data_root, mix_sentences)
    start = time.perf_counter()
    tensor_batches = [tensorize(reader, vocab, batch) for batch in sentence_batches]
    tensorize_ms = 1000 * (time.perf_counter() - start) / len(sentence_batches)
    floor = FloorTagger(model)
    floor_batches = [floor_batch(tensors, floor.datasets) for tensors in tensor_batches]
    print(f"Check: {check_floor(model, floor, tensor_batches[0], floor_batches[0])}")
    print(f"Data -> tensors (text_to_instance + indexing + padding): {tensorize_ms:.1f} ms per "
          f"batch, outside every timed step below (the data loader's work).")
    print(flush=True)

    sentences = [len(batch) for batch in sentence_batches]
    tokens = [count_tokens(batch) for batch in sentence_batches]
    raw_batches = [raw_text_tensors(tensors) for tensors in tensor_batches]
    train_model = copy.deepcopy(model)
    train_floor = copy.deepcopy(floor)
    model_optimizer = paper_optimizer(train_model)
    floor_optimizer = paper_optimizer(train_floor)
    variants = [
        Variant("model train", lambda t: train_step(train_model, model_optimizer, t),
                tensor_batches, sentences, tokens),
        Variant("floor train", lambda b: floor_train(train_floor, floor_optimizer, b),
                floor_batches, sentences, tokens),
        Variant("model infer, own head", lambda t: model_infer(model, t),
                tensor_batches, sentences, tokens),
        Variant("floor infer, own head", lambda b: floor_infer(floor, b, b["views"]),
                floor_batches, sentences, tokens),
        Variant("model infer, every head", lambda t: model_infer(model, t),
                raw_batches, sentences, tokens),
        Variant("floor infer, every head", lambda b: floor_infer(floor, b, b["all_views"]),
                floor_batches, sentences, tokens),
    ]
    measure_interleaved(variants, args.rounds, args.warmup)
    by_name = {variant.name: variant for variant in variants}

    print(f"## Step time, model vs floor (batch {args.batch_size}, {args.num_batches} batches x "
          f"{args.rounds} rounds after {args.warmup} untimed pass(es), medians)")
    print()
    print(markdown_table(
        ["variant", "ms/batch", "sentences/s", "tokens/s"],
        [[v.name, 1000 * statistics.median(v.round_seconds) / len(v.items),
          v.median_sentences_per_second(), v.median_tokens_per_second()] for v in variants],
    ))
    print()
    ratio_rows = []
    for mode, label in (("train", "training step"), ("infer, own head", "inference, own head"),
                        ("infer, every head", "inference, every head (prediction)")):
        value = paired_ratio(by_name[f"model {mode}"], by_name[f"floor {mode}"])
        ratio_rows.append([f"model / floor, {label}", value, "<= 1.3", verdict(value, 1.3, False)])
    print(markdown_table(["ratio (time per batch, paired by round)", "value", "target", "verdict"],
                         ratio_rows))
    print()

    if args.breakdown_repeats > 0:
        breakdown_batches = tensor_batches[: max(1, min(10, len(tensor_batches)))]
        print(f"## Where our model's time goes ({len(breakdown_batches)} batches, ms per batch)")
        print()
        breakdown_model = copy.deepcopy(model)
        breakdown_optimizer = paper_optimizer(breakdown_model)
        # Warm-up pass (every shape seen once), then the timed pass.
        in_situ_breakdown(breakdown_model, breakdown_optimizer, breakdown_batches, True)
        in_situ_breakdown(breakdown_model, breakdown_optimizer,
                          [raw_text_tensors(t) for t in breakdown_batches], False)
        train_rows = in_situ_breakdown(breakdown_model, breakdown_optimizer, breakdown_batches, True)
        infer_rows = in_situ_breakdown(breakdown_model, breakdown_optimizer,
                                       [raw_text_tensors(t) for t in breakdown_batches], False)
        print("In place (a real step; module hooks time the forward pass, so the backward "
              "pass is one figure; inference = every head on every row):")
        print()
        infer = dict(infer_rows)
        labels = list(dict.fromkeys([label for label, _ in train_rows] +
                                    [label for label, _ in infer_rows]))
        train = dict(train_rows)
        print(markdown_table(
            ["part", "training ms", "inference ms"],
            [[label, train.get(label, float("nan")), infer.get(label, float("nan"))]
             for label in labels],
        ))
        print()
        print("In isolation (each component alone on the same batches' real inputs; training "
              "= forward + backward, inputs requiring grad as in the full graph):")
        print()
        isolated = isolated_breakdown(breakdown_model, floor, breakdown_batches,
                                      args.breakdown_repeats)
        print(markdown_table(["component", "training ms", "inference ms"], isolated))
        print()

    if args.profile > 0:
        from torch.profiler import ProfilerActivity, profile

        profile_model = copy.deepcopy(model)
        profile_optimizer = paper_optimizer(profile_model)
        batches = [tensor_batches[i % len(tensor_batches)] for i in range(args.profile)]
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for tensors in batches:
                train_step(profile_model, profile_optimizer, tensors)
        print(f"## torch.profiler, {args.profile} training steps of our model (top operators by "
              f"self CPU time)")
        print()
        print("```")
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        print("```")
    return by_name


if __name__ == "__main__":
    main()
