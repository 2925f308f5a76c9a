"""
The leave-corpora-out protocol of docs/new_text.md: tunes the consensus merge of a
development model's heads on the devel splits of corpora it was not trained on and reports
it on their test splits, against the union of all heads and the best head alone.

    .venv/bin/python scripts/new_text/merge_protocol.py ARCHIVE --out runs/new_text \\
        [--corpora BioNLP13PC-IOBES BioNLP11ID-IOBES NCBI-disease-IOBES JNLPBA] [--data-root DIR]

Every head's reading of every sentence is computed once per split (`allennlp corpus-eval`'s
pass, `evaluate_corpus`) and cached in `OUT/readings/`; the rules are then scored from the
cache. Tuning (devel only): the score two types need to share a span, the overlap scope and the span-type prior (macro F1), then the minimum votes of each common type
that two or more heads produce, one type at a time, twice round, each to the value with the
best pooled devel F1 of that type (ties: the smaller value). Writes `OUT/chosen.json` (the
predictor arguments) and `OUT/report.md` (devel and test tables), and prints the report.
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from biomtl_allennlp.common.archives import predictor_from_path  # noqa: E402
from biomtl_allennlp.common.datasets import resolve_data_root  # noqa: E402
from biomtl_allennlp.common.scoring import precision_recall_f1  # noqa: E402
from biomtl_allennlp.documents.entity import Entity  # noqa: E402
from biomtl_allennlp.evaluation.corpus_eval import corpus_documents  # noqa: E402
from biomtl_allennlp.evaluation.pubtator_eval import (  # noqa: E402
    gold_mentions,
    predict_documents,
    predicted_mentions,
)
from biomtl_allennlp.predictors.entity_merging import TypeMapper  # noqa: E402

LEFT_OUT = ["BioNLP13PC-IOBES", "BioNLP11ID-IOBES", "NCBI-disease-IOBES", "JNLPBA"]
VOTES_STEP = 0.2
PRIOR_GRID = [0.0, 0.5, 1.0, 2.0, 4.0, 100.0]
COEXIST_GRID = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.01]


class Split:
    """One corpus split: gold mentions and every head's cached reading per sentence."""

    def __init__(self, predictor, corpus: str, split: str, data_root: str, cache: Path) -> None:
        self.name = f"{corpus}/{split}"
        documents = corpus_documents(Path(data_root) / corpus / f"{split}.tsv")
        mapper = TypeMapper()
        self.gold = gold_mentions(documents, mapper)
        cache_file = cache / f"{corpus}.{split}.json"
        if cache_file.exists():
            raw = json.loads(cache_file.read_text())
        else:
            predictor.extractor.alternatives = True
            readings, _ = predict_documents(predictor, documents, 64, field="alternatives")
            raw = {pmid: [e.to_json() for e in entities] for pmid, entities in readings.items()}
            cache.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(raw))
        self.readings = {pmid: [Entity.from_json(e) for e in entities] for pmid, entities in raw.items()}
        self.types = {mention[3] for mention in self.gold}

    def counts(self, predictor, heads=None, merge=None) -> Dict[str, Counter]:
        """Per gold type: tp, fp, fn of the predictor's rule (with `heads`, `merge`)."""
        merged = {p: predictor.extractor.merge_heads(e, heads, merge, types_mapped=True) for p, e in self.readings.items()}
        predicted = predicted_mentions(merged)
        result = {}
        for entity_type in self.types:
            gold_t = {m for m in self.gold if m[3] == entity_type}
            predicted_t = {m for m in predicted if m[3] == entity_type}
            result[entity_type] = Counter(
                tp=len(gold_t & predicted_t), fp=len(predicted_t - gold_t), fn=len(gold_t - predicted_t)
            )
        return result


def pooled(splits: List[Split], predictor, types: List[str], heads=None, merge=None) -> Dict[str, dict]:
    """Per type: precision/recall/F1 over the splits annotating it (counts summed)."""
    totals = {t: Counter() for t in types}
    for split in splits:
        for entity_type, counts in split.counts(predictor, heads, merge).items():
            if entity_type in totals:
                totals[entity_type].update(counts)
    return {t: precision_recall_f1(c["tp"], c["fp"], c["fn"]) for t, c in totals.items()}


def tune(splits: List[Split], predictor, types: List[str], heads: Dict[str, int]) -> dict:
    """The structural settings by macro F1, then each voted type's `min_votes` (0 to its
    number of heads) by its own pooled F1, twice round."""
    extractor = predictor.extractor
    voted = [t for t in types if heads[t] >= 2]
    extractor.merge = "consensus"
    extractor.min_votes = {"*": 0.0}
    log = []
    structural = {}
    for coexist in COEXIST_GRID:
        for scope in ("type", "all"):
            for prior in PRIOR_GRID:
                setting = (coexist, scope, prior)
                extractor.coexist_score, extractor.overlap_scope, extractor.span_type_prior = setting
                scores = pooled(splits, predictor, types)
                structural[setting] = sum(scores[t]["f1"] for t in types) / len(types)
                log.append(f"coexist_score={coexist}, overlap_scope={scope}, span_type_prior={prior}: "
                           f"macro F1 {100 * structural[setting]:.2f}")
    # Ties: the highest coexist score (fewer types per span), scope "type", the smaller prior.
    extractor.coexist_score, extractor.overlap_scope, extractor.span_type_prior = max(
        structural, key=lambda k: (round(structural[k], 4), k[0], k[1] == "type", -k[2])
    )
    for _ in range(2):
        for entity_type in voted:
            results = {}
            grid = [round(VOTES_STEP * i, 1) for i in range(int(heads[entity_type] / VOTES_STEP) + 1)]
            for value in grid:
                extractor.min_votes = {**extractor.min_votes, entity_type: value}
                results[value] = pooled(splits, predictor, [entity_type])[entity_type]["f1"]
            best = max(grid, key=lambda v: (round(results[v], 6), -v))
            extractor.min_votes = {**extractor.min_votes, entity_type: best}
            log.append(
                f"{entity_type}: " + ", ".join(f"{v}: {100 * f:.2f}" for v, f in results.items())
                + f" -> {best}"
            )
    return {
        "chosen": {"merge": "consensus", "coexist_score": extractor.coexist_score,
                   "overlap_scope": extractor.overlap_scope,
                   "span_type_prior": extractor.span_type_prior, "min_votes": extractor.min_votes},
        "log": log,
    }


def cell(values: dict) -> str:
    return f"{100 * values['f1']:.2f} ({100 * values['precision']:.1f} / {100 * values['recall']:.1f})"


def table(splits: List[Split], predictor, types: List[str]) -> List[str]:
    extractor = predictor.extractor
    rows = ["| type | heads | union of all heads | best head alone | consensus (chosen) |",
            "|---|---|---|---|---|"]
    union = pooled(splits, predictor, types, merge="union")
    chosen = pooled(splits, predictor, types)
    mapper = TypeMapper()
    for entity_type in types:
        heads = [h for h in extractor.heads if entity_type in {mapper(t) for t in extractor.types_of_head[h]}]
        alone = {h: pooled(splits, predictor, [entity_type], heads=[h])[entity_type] for h in heads}
        best = max(alone, key=lambda h: alone[h]["f1"])
        rows.append(f"| {entity_type} | {len(heads)} | {cell(union[entity_type])} | "
                    f"{cell(alone[best])} {best} | {cell(chosen[entity_type])} |")
    return rows


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive")
    parser.add_argument("--out", required=True)
    parser.add_argument("--corpora", nargs="+", default=LEFT_OUT)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--setting", default=None,
                        help="a chosen.json to report as it is (no tuning): e.g. the protocol's "
                        "choice applied to another model or corpus")
    parser.add_argument("--splits", nargs="+", default=["devel", "test"])
    args = parser.parse_args(argv)
    data_root = resolve_data_root(args.data_root) or str(ROOT.parent / "shared" / "data")
    out = Path(args.out)
    chosen = json.loads(Path(args.setting).read_text()) if args.setting else {}
    # A given setting is checked by the predictor's constructor.
    predictor = predictor_from_path(args.archive, "biomedical_entities", **chosen)
    mapper = TypeMapper()
    produced: Counter = Counter(
        t for h in predictor.extractor.heads for t in {mapper(x) for x in predictor.extractor.types_of_head[h]}
    )
    splits = {
        split: [Split(predictor, corpus, split, data_root, out / "readings") for corpus in args.corpora]
        for split in args.splits
    }
    annotated = set().union(*(s.types for s in splits[args.splits[0]]))
    types = sorted(t for t in annotated if produced[t] >= 1)
    if args.setting:
        tuned = {"chosen": chosen, "log": [f"not tuned: the setting of {args.setting}"]}
    else:
        tuned = tune(splits["devel"], predictor, types, produced)
    lines = [f"Archive `{args.archive}`; left-out corpora: {', '.join(args.corpora)}.", "",
             "Scored common types (annotated by a left-out corpus, produced by a head): "
             + ", ".join(f"{t} ({produced[t]} heads)" for t in types), "",
             "Tuning on devel:", ""] + [f"- {line}" for line in tuned["log"]] + [
             "", f"Chosen: `{json.dumps(tuned['chosen'])}`", ""]
    for split in args.splits:
        lines += [f"### {split} (pooled over the left-out corpora; F1 (precision / recall))", ""]
        lines += table(splits[split], predictor, types) + [""]
    report = "\n".join(lines)
    if not args.setting:
        (out / "chosen.json").write_text(json.dumps(tuned["chosen"], indent=2) + "\n")
    (out / "report.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
