"""
Writes biomtl_allennlp/pretrained/mtm_cw/MODEL_CARD.md from the measurements of
scripts/shipped/build.sh:

    .venv/bin/python scripts/shipped/model_card.py RUN_DIR [MEASUREMENTS_DIR [CARD]]

RUN_DIR: the training run the model was exported from (its config.json tells the training
splits, its metrics_epoch_*.json the epochs trained and the one exported). Every figure in
the card is read from those files. A model trained on train+devel has no held-out devel
split: the card says so wherever it shows devel figures.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS  # noqa: E402
from biomtl_allennlp.common.markdown import markdown_table  # noqa: E402
from biomtl_allennlp.common.metric_keys import datasets_in  # noqa: E402
from research.run_folder import epoch_metrics  # noqa: E402

# allennlp's TrainModel defaults, used by a config that sets no seeds.
ALLENNLP_DEFAULT_SEEDS = {"random_seed": 13370, "numpy_seed": 1337, "pytorch_seed": 133}
CARD = ROOT / "biomtl_allennlp" / "pretrained" / "mtm_cw" / "MODEL_CARD.md"
TYPES = {
    "BC2GM": "GENE -> Gene/Protein",
    "BC5CDR": "Chemical, Disease",
    "NCBI-disease": "Disease (SpecificDisease, DiseaseClass, Modifier, CompositeMention)",
    "JNLPBA": "protein -> Gene/Protein, DNA, RNA, cell_line -> CellLine, cell_type -> CellType",
    "AnatEM-IOBES": "Anatomy",
    "BioNLP09-IOBES": "Protein -> Gene/Protein",
    "BioNLP11EPI-IOBES": "Protein -> Gene/Protein",
    "BioNLP11ID-IOBES": "Organism, Protein -> Gene/Protein, Chemical, Regulon-operon",
    "BioNLP13GE-IOBES": "Protein -> Gene/Protein",
    "BioNLP13PC-IOBES": "Gene_or_gene_product -> Gene/Protein, Simple_chemical -> Chemical, Complex, Cellular_component",
    "CRAFT-IOBES": "GGP -> Gene/Protein, CHEBI -> Chemical, CL -> CellType, Taxon -> Organism, GO, SO",
    "Ex-PTM-IOBES": "Protein -> Gene/Protein",
}
LICENCES = {
    "BC2GM": "BioCreative II gene mention corpus (Smith et al. 2008), research use",
    "BC5CDR": "BioCreative V CDR corpus (Li et al. 2016), research use",
    "NCBI-disease": "NCBI disease corpus (Doğan et al. 2014), public release",
    "JNLPBA": "JNLPBA 2004 shared task corpus (Kim et al. 2004, from GENIA), research use",
    "AnatEM-IOBES": "AnatEM corpus (Pyysalo & Ananiadou 2014), terms of its release",
    "BioNLP09-IOBES": "BioNLP 2009 shared task, GENIA event data (Kim et al. 2009), terms of its release",
    "BioNLP11EPI-IOBES": "BioNLP 2011 Epigenetics and Post-translational Modifications task (Ohta et al. 2011), terms of its release",
    "BioNLP11ID-IOBES": "BioNLP 2011 Infectious Diseases task (Pyysalo et al. 2011), terms of its release",
    "BioNLP13GE-IOBES": "BioNLP 2013 GENIA event task (Kim et al. 2013), terms of its release",
    "BioNLP13PC-IOBES": "BioNLP 2013 Pathway Curation task (Ohta et al. 2013), terms of its release",
    "CRAFT-IOBES": "Colorado Richly Annotated Full-Text corpus (Bada et al. 2012), terms of its release",
    "Ex-PTM-IOBES": "Exhaustive PTM corpus (Pyysalo et al. 2011), terms of its release",
}
# The shipped recipes (train+devel), by the corpora they train on.
RECIPES = {
    frozenset(BENCHMARK_DATASETS): "training_configs/shipped/mtm_cw_train_devel.jsonnet",
    frozenset([*BENCHMARK_DATASETS, *[d for d in TYPES if d.endswith("-IOBES")]]):
        "training_configs/shipped/mtm_cw_many_train_devel.jsonnet",
}
NUMBERS = {4: "four", 12: "12"}


def pct(value: float) -> str:
    return f"{100 * value:.2f}"


def main() -> None:
    run_dir = Path(sys.argv[1])
    measured = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "runs" / "shipped"
    source = json.loads((measured / "source.json").read_text())
    history = epoch_metrics(run_dir)[: source["epochs_finished"]]
    best = source["epoch"]
    config = json.loads((run_dir / "config.json").read_text())
    on_devel = "devel" in config["train_data_path"].split("+")
    finished = (run_dir / "metrics.json").is_file()
    # The seeds the run used: its config's, or allennlp's defaults where it sets none.
    seeds = {key: config.get(key, default) for key, default in ALLENNLP_DEFAULT_SEEDS.items()}
    if len(set(seeds.values())) == 1:
        seed = str(seeds["random_seed"])
    else:
        seed = " / ".join(f"{key} {value}" for key, value in seeds.items())
        seed += " (allennlp's defaults)" if seeds == ALLENNLP_DEFAULT_SEEDS else ""
    seed_override = "".join(f'"{key}": {value}, ' for key, value in seeds.items() if key in config)
    # Runs before the vocabulary default became train-only counted every split read.
    vocab_all_splits = config.get("datasets_for_vocab_creation") is None
    vocab_override = ', "datasets_for_vocab_creation": null' if vocab_all_splits else ""
    vocab_limit = (
        "\n- The vocabulary was counted over every split the training run read, test included "
        "(allennlp's default, the project's until 2026-12-04): a word frequent only in the test text "
        "has its own untrained vector instead of the unknown word's. No labels are involved; "
        "configs now count the training data only (the rebuild command keeps the old rule)."
        if vocab_all_splits else ""
    )
    export = json.loads((measured / "export.json").read_text())
    devel = json.loads((measured / "devel.json").read_text())
    test = json.loads((measured / "test.json").read_text())
    datasets = sorted(datasets_in(devel))
    # A corpus set of no shipped recipe: the four-corpus recipe, told the run's corpora.
    recipe = RECIPES.get(frozenset(datasets), "training_configs/shipped/mtm_cw_train_devel.jsonnet")
    datasets_override = (
        "" if frozenset(datasets) in RECIPES
        else '"dataset_reader.datasets": [' + ", ".join(f'"{d}"' for d in datasets) + "], "
    )
    corpora = NUMBERS.get(len(datasets), str(len(datasets)))
    rows = []
    for name in datasets:
        types = sorted(
            key[len(name) + 1 : -3] for key in test
            if key.startswith(name + "_") and key.endswith("_f1") and key != f"{name}_f1"
        )
        per_type = ", ".join(f"{t} {pct(test[f'{name}_{t}_f1'])}" for t in types)
        rows.append([name, pct(devel[f"{name}_f1"]), pct(test[f"{name}_precision"]),
                     pct(test[f"{name}_recall"]), pct(test[f"{name}_f1"]), per_type])
    pubtator_rows = []
    for label, file_name, heads in (
        ("CDR_DevelopmentSet.PubTator.txt", "pubtator_cdr_dev", ["BC5CDR"]),
        ("NCBIdevelopset_corpus.txt", "pubtator_ncbi_dev", ["NCBI-disease"]),
    ):
        token_level = " / ".join(pct(devel[f"{h}_f1"]) for h in heads)
        for suffix, which in (("_own_head", f"{', '.join(heads)} only"), ("", "all, merged (default)"),
                              ("_union", "all, union")):
            if not (measured / f"{file_name}{suffix}.json").is_file():
                continue  # measurements without the union rows
            metrics = json.loads((measured / f"{file_name}{suffix}.json").read_text())
            per_type = ", ".join(f"{t} {pct(m['f1'])}" for t, m in sorted(metrics["per_type"].items()))
            pubtator_rows.append([label, which, pct(metrics["overall"]["f1"]), per_type, token_level])
    targets = []
    for name, reference, label in (("BC5CDR", 84.23, "en_ner_bc5cdr_md"), ("JNLPBA", 72.98, "en_ner_jnlpba_md")):
        value = 100 * test[f"{name}_f1"]
        targets.append([f"{name} test F1 >= {reference} (scispaCy {label})", f"{value:.2f}",
                        "met" if value >= reference else f"not met ({value - reference:+.2f})"])
    for row in [r for r in pubtator_rows if r[1].endswith(" only")]:  # the same heads: the corpus's own
        gap = float(row[4]) - float(row[2])
        targets.append([f"{row[0]}: character-offset F1 within 1 point of token-level devel F1 (the same head)",
                        f"{float(row[2]):.2f} vs {row[4]}", "met" if abs(gap) <= 1 else f"not met ({gap:.2f} points)"])
    devel_f1 = "devel F1 (trained on)" if on_devel else "devel F1"
    averaged = source.get("averaged_epochs", [best])
    average_last = f"AVERAGE_LAST={len(averaged)} "
    if len(averaged) > 1:
        model_is = (f"the mean of the weights after epochs {averaged[0]}-{averaged[-1]} (counting from 0; checkpoint "
                    "averaging, chosen on devel: `docs/converged.md`, \"Checkpoint averaging\")")
    else:
        model_is = f"the model after epoch {best} (counting from 0)"
    if on_devel:
        status = (f"**Status: {'trained' if finished else 'interim'}.** It is {model_is} "
                  f"of {len(history)} of the run `{run_dir.name}`: `{recipe}`, "
                  "the converged reproduction's budget (Adam 0.002, batches of 32 mixing the corpora) on the train and "
                  f"devel splits for a fixed {config.get('trainer', {}).get('num_epochs', len(history))} epochs (about the epochs the "
                  "train-only runs' early stopping chose), as the "
                  f"paper's code trained; seed {seed}. No model selection (no held-out devel split): the test splits were "
                  "scored once, at the end.")
        splits = "train and devel splits (no model selection)"
        offsets_note = ("These development abstracts are training data of this model, so the offset rows check the raw-text "
                        "pipeline (sentence splitting, tokenization, offsets: character-offset F1 against token-level F1 "
                        "of the same documents), not accuracy on unseen text. Held-out figures of the same recipe trained "
                        "on the train splits only, and what adding devel changes, are in `docs/converged.md` (section "
                        "\"The shipped model: train+devel\").")
        history_line = ("Training loss by epoch: " + ", ".join(f"{h['training_loss']:.3f}" for h in history) + ".")
        rebuild = f"""```
.venv/bin/allennlp train {recipe} --include-package biomtl_allennlp \\
    -s ~/.cache/biomtl_allennlp/runs/extra/{run_dir.name} \\
    -o '{{{datasets_override}{seed_override}"trainer.checkpointer": {{"keep_most_recent_by_count": null}}{vocab_override}}}'
{average_last}scripts/shipped/build.sh ~/.cache/biomtl_allennlp/runs/extra/{run_dir.name} runs/shipped          # export + measurements
.venv/bin/python scripts/shipped/model_card.py ~/.cache/biomtl_allennlp/runs/extra/{run_dir.name} runs/shipped
```"""
    else:
        status = (f"**Status: {'converged' if finished else 'interim'}.** It is the best devel epoch ({best}, counting from 0) "
                  + (f"averaged with the {len(averaged) - 1} before it (checkpoint averaging, `docs/converged.md`) "
                     if len(averaged) > 1 else "")
                  + f"of {len(history)} epochs of the run `{run_dir.name}` of the converged reproduction"
                  + (" (early stopping on devel, patience 5: the run has finished)" if finished
                     else ", exported while that run was still training")
                  + f" (`research/converged/lane_a.plan`; Adam 0.002, batch 32, mixed batches, seed {seed}).")
        splits = "train splits; devel for model selection"
        offsets_note = ""
        history_line = (f"Devel F1 by epoch of the training run (macro over the {corpora} corpora):\n"
                        + ", ".join(f"{pct(h['validation_macro_f1'])}" for h in history) + ".")
        rebuild = f"""```
.venv/bin/python -m research.converged.lanes research/converged/lane_a.plan ~/.cache/biomtl_allennlp/runs/converged   # trains {run_dir.name}
{average_last}scripts/shipped/build.sh ~/.cache/biomtl_allennlp/runs/converged/{run_dir.name} runs/shipped         # export + measurements
.venv/bin/python scripts/shipped/model_card.py ~/.cache/biomtl_allennlp/runs/converged/{run_dir.name} runs/shipped
```"""
    throughput_file = measured / "predict_throughput.md"
    throughput = throughput_file.read_text() if throughput_file.is_file() else ""
    speed = [line for line in throughput.splitlines() if re.match(r"\| \d+ \|", line)]
    documents = re.search(r"- documents: (\d+) from (\S+)", throughput)
    speed_data = f", {documents.group(1)} abstracts of `{Path(documents.group(2)).name}`" if documents and speed else ""
    load = re.search(r"load average at start: ([\d.]+), ([\d.]+), ([\d.]+)", throughput)
    load_line = (f"Load average when the measurement started: {load.group(1)} (1 min), {load.group(2)} (5 min); "
                 + ("nothing else was running." if float(load.group(1)) < 0.5 else
                    "a load above 0.5 means other work ran in the minutes before (in `build.sh`, its own "
                    "evaluations) or shared the 2 cores; on an idle machine the figures may be higher.")
                 + "\n" if load and speed else "")
    # The leave-corpora-out measurements of the default merge (docs/new_text.md).
    new_text_file = ROOT / "docs" / "new_text_card.md"
    new_text = f"## New text\n\n{new_text_file.read_text().strip()}\n\n" if new_text_file.is_file() else ""
    paper_first = [d for d in BENCHMARK_DATASETS if d in datasets]
    names = ", ".join(paper_first + [d for d in datasets if d not in paper_first])
    card = f"""# Shipped tagger: MTM-CW on {names}

`model.tar.gz` here: the paper's MTM-CW (Wang et al. 2019; shared char-stream BiLSTM and
word BiLSTM, one CRF per corpus) trained on the {corpora} public corpora, without external word
vectors, {export['parameters']:,} parameters stored as float16 ({export['bytes'] / 2**20:.1f} MiB).
Load it with `biomtl_allennlp.load_tagger()`, `Predictor.from_path(...)` or `allennlp
predict biomtl_allennlp/pretrained/mtm_cw/model.tar.gz INPUT --include-package
biomtl_allennlp`; no network is needed.

{status}

## Training data

| corpus | entity types (-> common type) | source, terms |
|---|---|---|
""" + "\n".join(f"| {d} | {TYPES[d]} | {LICENCES[d]} |" for d in datasets) + f"""

Token-level versions of Crichton et al. 2017 (`cambridgeltl/MTL-Bioinformatics-2016`),
{splits}. Vocabulary: {export['vocabulary']['tokens']:,}
words (seen at least 5 times in {'every split the run read; see the known limits' if vocab_all_splits else 'the training data'}), {export['vocabulary']['char_stream']}
characters.

## Accuracy (measured on the exported float16 model)

Token-level exact span match (`allennlp evaluate`), per corpus with its own head:

{markdown_table(["corpus", devel_f1, "test precision", "test recall", "test F1", "test F1 per type"], rows)}

Character-offset exact match on raw PubTator text (`allennlp pubtator-eval`: the predictor's
own sentence splitting and tokenization), with only the head trained on that corpus
(`--predictor-args '{{"heads": [...]}}'`) and with all heads at once, entities merged by
common type, against the token-level devel F1 of the corpus's head. {offsets_note}

{markdown_table(["gold file", "heads", "F1", "F1 per type", "token-level " + devel_f1], pubtator_rows)}

{history_line}

{new_text}## Targets (issue: a ready-to-use tagger)

{markdown_table(["target", "measured", "verdict"], targets)}

## Speed (2 CPU threads, `benchmarks/predict_throughput.py`{speed_data})

{load_line}

""" + ("| batch size (documents) | tokens | seconds | tokens/s | documents/s |\n|---|---|---|---|---|\n"
       + "\n".join(speed) if speed else
       "Not measured for this export (the measurement of `build.sh` did not finish); `.venv/bin/python "
       "benchmarks/predict_throughput.py models/mtm_cw/model.tar.gz --threads 2` measures it, and "
       "`docs/performance.md` (section 4) has the prediction speed of this architecture.") + f"""

## Known limits

- Each head was trained on one corpus that annotates only its own types, so every head
  tags every sentence with its own types: a gene name may come out as Chemical from the
  BC5CDR head and as DNA from the JNLPBA head. The default merge keeps one of the types
  that a corpus tells apart (see "New text"); types no corpus told apart (Anatomy and
  CellType, Gene/Protein and Disease) may stay side by side on one span. Keep one corpus's
  conventions with the predictor's `heads` (all heads merged score lower against one
  corpus's gold: the other heads' entities of the same type follow other guidelines).
- No external word vectors (the paper used PubMed word2vec); accuracy is below the paper's.
- English PubMed-style text; sentences over 200 tokens are tagged in windows.{vocab_limit}

## Rebuild

{rebuild}
"""
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else CARD
    out.write_text(card)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
