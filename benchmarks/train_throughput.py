"""
Training throughput (sentences/s for forward + backward + clip + SGD step), several
models side by side in one process on pre-built batches.

Every model, its vocabulary and its trainer (the config's optimiser and gradient clipping:
SGD lr 0.01, momentum 0.9, gradient norm 5) are built from `training_configs/`, as
`allennlp train` builds them. Variants:

- `stm`: our STM (`training_configs/stm.jsonnet`) on length-bucketed batches of one
  corpus (`--single-dataset`, default NCBI-disease);
- `mtm_cw_single`: our MTM-CW (`mtm_cw.jsonnet`, one head per corpus of `--datasets`) on
  the SAME batches as `stm` (so MTM-CW / STM per sentence is apples to apples; the
  difference is the larger vocabulary and the unused heads);
- `mtm_cw_mix`: MTM-CW on length-bucketed batches of the mix of all `--datasets` (mixed
  corpora in a batch, as it trains); other sentences, so compare it per token as well;
- `mtm_c_mix`, `mtm_w_mix`: MTM-C (`mtm_c.jsonnet`) and MTM-W (`mtm_w.jsonnet`) on the
  same mixed batches as `mtm_cw_mix`: their private layers run once per corpus present in
  a batch, so compare them with `mtm_cw_mix`;
- `crf_tagger`: allennlp-models' `crf_tagger` as shipped, with a per-word character
  BiLSTM (`character_encoding` + `lstm`, the Lample et al. design), on the same batches as
  `stm`: the Lample baseline config (`baselines/lample.jsonnet`: reader, vocabulary,
  layers, trainer) with allennlp-models' model class. As shipped it also runs Viterbi and
  its span/accuracy metrics on every training batch;
- `crf_tagger_lean`: the same architecture, loss only (no training-time Viterbi or
  metrics): the architecture's own cost.

Sizes are the configs' (word embedding 200, word BiLSTM 200 per direction, dropout 0.5
everywhere; our char-stream layer: char embedding 30, LSTM 200 per direction, the paper's);
crf_tagger's per-word char BiLSTM: `--crf-char-embedding` (30) and `--crf-char-hidden`
(100 per direction).

    python benchmarks/train_throughput.py            # full run, see benchmarks/README.md
"""
import argparse
import copy
import random
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# `common` is benchmarks/common.py (not a package import: fairscale installs a top-level
# `benchmarks` package into the environment).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from allennlp.nn import util  # noqa: E402

from common import (  # noqa: E402
    DEFAULT_SINGLE_DATASET,
    PAPER_CODE_SENTENCES_PER_SECOND,
    Sentence,
    Tagger,
    Variant,
    add_common_arguments,
    build_tagger,
    build_trainer,
    config_params,
    count_tokens,
    markdown_table,
    measure_interleaved,
    load_sentences,
    paired_ratio,
    pick_batches,
    setup,
    tensorize,
    train_step,
    verdict,
)
from biomtl_allennlp.common.datasets import label_namespace  # noqa: E402

VARIANTS = [
    "stm", "mtm_cw_single", "mtm_cw_mix", "mtm_c_mix", "mtm_w_mix", "crf_tagger",
    "crf_tagger_lean",
]
# The MTM variants with private layers: variant -> config.
PRIVATE_LAYER_VARIANTS = {"mtm_c_mix": "mtm_c.jsonnet", "mtm_w_mix": "mtm_w.jsonnet"}


CRF_TAGGER_CONFIG = "baselines/lample.jsonnet"


def build_crf_tagger(
    dataset: str, data_root: str, vocab_sentences: Sequence[Sentence],
    char_embedding: int, char_hidden: int,
) -> Tagger:
    """allennlp-models' crf_tagger in the Lample baseline config, char sizes as given."""
    import allennlp_models.tagging  # noqa: F401  (registers crf_tagger)

    embedders = "model.text_field_embedder.token_embedders"
    word_dim = config_params(CRF_TAGGER_CONFIG, [dataset], data_root).get("model").get(
        "text_field_embedder").get("token_embedders").get("tokens").get("embedding_dim")
    overrides = {
        "model.type": "crf_tagger",
        "model.label_namespace": label_namespace(dataset),
        "model.label_encoding": "BIOUL",
        f"{embedders}.token_characters.embedding.embedding_dim": char_embedding,
        f"{embedders}.token_characters.encoder.input_size": char_embedding,
        f"{embedders}.token_characters.encoder.hidden_size": char_hidden,
        "model.encoder.input_size": word_dim + 2 * char_hidden,
    }
    return build_tagger(CRF_TAGGER_CONFIG, [dataset], data_root, vocab_sentences, overrides)


def lean_crf_tagger_loss(model, tensors: Dict):
    """crf_tagger's training loss without its Viterbi and metrics."""
    tokens, tags = tensors["tokens"], tensors["tags"]
    mask = util.get_text_field_mask(tokens)
    embedded = model.text_field_embedder(tokens)
    if model.dropout:
        embedded = model.dropout(embedded)
    encoded = model.encoder(embedded, mask)
    if model.dropout:
        encoded = model.dropout(encoded)
    logits = model.tag_projection_layer(encoded)
    return -model.crf(logits, tags, mask)


def make_variant(name, tagger: Tagger, model, tensor_batches, sentence_batches,
                 loss_of=None) -> Variant:
    """`model` (the tagger's or a copy) trained by the tagger's config's trainer."""
    trainer = build_trainer(tagger, model)
    return Variant(
        name,
        lambda tensors: train_step(trainer, tensors, loss_of),
        tensor_batches,
        [len(batch) for batch in sentence_batches],
        [count_tokens(batch) for batch in sentence_batches],
        model=model,
    )


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Variant]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, batch_size=10, num_batches=40)
    parser.add_argument(
        "--single-dataset", default=DEFAULT_SINGLE_DATASET,
        help="corpus of the STM / crf_tagger batches (default: %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="default: %(default)s")
    parser.add_argument(
        "--warmup", type=int, default=1,
        help="untimed passes over all batches before timing (default: %(default)s)",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=VARIANTS, help="default: all"
    )
    parser.add_argument("--crf-char-embedding", type=int, default=30)
    parser.add_argument(
        "--crf-char-hidden", type=int, default=100, help="per direction (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    setup(args, "Training throughput", __file__, argv)

    datasets = list(dict.fromkeys(list(args.datasets) + [args.single_dataset]))
    corpora = load_sentences(datasets, args.data_root, "train", args.max_sentences)
    single = args.single_dataset
    rng = random.Random(args.seed)
    single_batches = pick_batches(corpora[single], args.batch_size, args.num_batches, rng)
    mix_sentences = [sentence for name in args.datasets for sentence in corpora[name]]
    mix_batches = pick_batches(mix_sentences, args.batch_size, args.num_batches, rng)

    print(f"Corpora read (train): " + ", ".join(f"{name} {len(s)}" for name, s in corpora.items()))
    for label, batches in (("single", single_batches), ("mix", mix_batches)):
        lengths = [len(sentence.words) for batch in batches for sentence in batch]
        print(f"Batches '{label}': {len(batches)} x {args.batch_size} sentences, "
              f"{statistics.mean(lengths):.1f} tokens/sentence on average (max {max(lengths)})")
    print()

    variants: List[Variant] = []
    wanted = set(args.variants)
    if "stm" in wanted:
        tagger = build_tagger("stm.jsonnet", [single], args.data_root, corpora[single])
        tensors = [tensorize(tagger.reader, tagger.vocab, batch) for batch in single_batches]
        variants.append(make_variant("stm", tagger, tagger.model, tensors, single_batches))
    if wanted & {"mtm_cw_single", "mtm_cw_mix"}:
        tagger = build_tagger("mtm_cw.jsonnet", args.datasets, args.data_root, mix_sentences)
        if "mtm_cw_single" in wanted:
            tensors = [tensorize(tagger.reader, tagger.vocab, batch) for batch in single_batches]
            variants.append(
                make_variant("mtm_cw_single", tagger, tagger.model, tensors, single_batches)
            )
        if "mtm_cw_mix" in wanted:
            mix_model = copy.deepcopy(tagger.model) if "mtm_cw_single" in wanted else tagger.model
            tensors = [tensorize(tagger.reader, tagger.vocab, batch) for batch in mix_batches]
            variants.append(make_variant("mtm_cw_mix", tagger, mix_model, tensors, mix_batches))
    for name, config in PRIVATE_LAYER_VARIANTS.items():
        if name in wanted:
            tagger = build_tagger(config, args.datasets, args.data_root, mix_sentences)
            tensors = [tensorize(tagger.reader, tagger.vocab, batch) for batch in mix_batches]
            variants.append(make_variant(name, tagger, tagger.model, tensors, mix_batches))
    if wanted & {"crf_tagger", "crf_tagger_lean"}:
        tagger = build_crf_tagger(
            single, args.data_root, corpora[single], args.crf_char_embedding, args.crf_char_hidden
        )
        tensors = [tensorize(tagger.reader, tagger.vocab, batch) for batch in single_batches]
        if "crf_tagger" in wanted:
            variants.append(make_variant("crf_tagger", tagger, tagger.model, tensors, single_batches))
        if "crf_tagger_lean" in wanted:
            lean_model = copy.deepcopy(tagger.model) if "crf_tagger" in wanted else tagger.model
            variants.append(make_variant(
                "crf_tagger_lean", tagger, lean_model, tensors, single_batches, lean_crf_tagger_loss
            ))

    measure_interleaved(variants, args.rounds, args.warmup)

    by_name = {variant.name: variant for variant in variants}
    descriptions = {
        "stm": f"STM, {single} batches",
        "mtm_cw_single": f"MTM-CW ({len(args.datasets)} heads), same {single} batches",
        "mtm_cw_mix": f"MTM-CW, {'+'.join(args.datasets)} mixed batches",
        "mtm_c_mix": "MTM-C (private word BiLSTMs), the same mixed batches",
        "mtm_w_mix": "MTM-W (private char layers), the same mixed batches",
        "crf_tagger": f"crf_tagger per-word char BiLSTM, as shipped, {single} batches",
        "crf_tagger_lean": f"crf_tagger per-word char BiLSTM, loss only, {single} batches",
    }
    print(f"## Throughput (batch {args.batch_size}, {args.num_batches} batches x "
          f"{args.rounds} rounds after {args.warmup} untimed pass(es); medians over rounds)")
    print()
    rows = []
    for variant in variants:
        per_round = variant.round_sentences_per_second()
        rows.append([
            variant.name, descriptions[variant.name],
            variant.median_sentences_per_second(), f"{min(per_round):.1f}-{max(per_round):.1f}",
            variant.median_tokens_per_second(), variant.median_batch_ms(),
        ])
    print(markdown_table(
        ["variant", "what", "sentences/s", "range over rounds", "tokens/s", "ms/batch (median)"],
        rows,
    ))
    print()

    print("## Ratios")
    print()
    ratio_rows = []
    stm = by_name.get("stm")
    if stm is not None:
        for baseline, target in (("crf_tagger", 1.2), ("crf_tagger_lean", None)):
            if baseline in by_name:
                value = 1 / paired_ratio(stm, by_name[baseline])
                ratio_rows.append([
                    f"STM / {baseline} (sentences/s, paired by round)", value,
                    f">= {target}" if target else "(information)",
                    verdict(value, target, True) if target else "",
                ])
        value = stm.median_sentences_per_second() / PAPER_CODE_SENTENCES_PER_SECOND
        ratio_rows.append([
            f"STM / paper code ({PAPER_CODE_SENTENCES_PER_SECOND:g} sentences/s: a given "
            f"reference measured earlier at batch 10, not re-measured here)",
            value, ">= 2", verdict(value, 2.0, True),
        ])
        if "mtm_cw_single" in by_name:
            value = paired_ratio(by_name["mtm_cw_single"], stm)
            ratio_rows.append([
                "MTM-CW / STM time per sentence, same batches (paired by round)", value,
                "<= 1.05", verdict(value, 1.05, False),
            ])
        if "mtm_cw_mix" in by_name:
            mix = by_name["mtm_cw_mix"]
            value = paired_ratio(mix, stm)
            ratio_rows.append([
                "MTM-CW (mix) / STM time per sentence (other sentences)", value,
                "(information)", "",
            ])
            value = stm.median_tokens_per_second() / mix.median_tokens_per_second()
            ratio_rows.append([
                "MTM-CW (mix) / STM time per token", value, "(information)", "",
            ])
    if "mtm_cw_mix" in by_name:
        for name, label in (("mtm_c_mix", "MTM-C"), ("mtm_w_mix", "MTM-W")):
            if name in by_name:
                value = paired_ratio(by_name[name], by_name["mtm_cw_mix"])
                ratio_rows.append([
                    f"{label} / MTM-CW time per sentence, same mixed batches (paired by round)",
                    value, "(information)", "",
                ])
    print(markdown_table(["ratio", "value", "target", "verdict"], ratio_rows))
    print()
    print("Data -> tensors (reading, indexing, padding) is done before timing and is not "
          "part of these figures.")
    return by_name


if __name__ == "__main__":
    main()
