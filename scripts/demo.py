"""
`make demo`: tags the real PubMed abstracts shipped in fixtures/pubmed with the shipped
MTM-CW model (`biomtl_allennlp.load_tagger()`, no network, no data root), prints each
document's entities and writes them as JSON lines, PubTator, CoNLL and an HTML page.

    .venv/bin/python scripts/demo.py [--input fixtures/pubmed/abstracts.jsonl] [--out runs/demo_tagged]
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, whichever one the venv points at


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(ROOT / "fixtures" / "pubmed" / "abstracts.jsonl"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "demo_tagged"))
    args = parser.parse_args()

    start = time.time()
    from biomtl_allennlp import load_tagger
    from biomtl_allennlp.pretrained import tagger_path
    from biomtl_allennlp.documents.pubtator import format_output
    from biomtl_allennlp.visualize import visualize_file

    tagger = load_tagger(output_format="conll")
    with open(args.input, encoding="utf-8") as handle:
        documents = [json.loads(line) for line in handle if line.strip()]
    outputs = tagger.predict_batch_json(documents)
    tagging_s = time.time() - start

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"entities.{name}" for name in ("jsonl", "pubtator", "conll", "html")}
    with open(paths["jsonl"], "w", encoding="utf-8") as jsonl, open(
        paths["pubtator"], "w", encoding="utf-8"
    ) as pubtator, open(paths["conll"], "w", encoding="utf-8") as conll:
        for output in outputs:
            conll.write(tagger.dump_line(output))
            output = {key: value for key, value in output.items() if key != "sentences"}
            jsonl.write(json.dumps(output, ensure_ascii=False) + "\n")
            pubtator.write(format_output(output))
    visualize_file(str(paths["jsonl"]), str(paths["html"]))

    for output in outputs:
        if "error" in output:
            print(f"PMID {output.get('pmid', '-')}: error: {output['error']}")
            continue
        title = output.get("title") or output["text"]
        print(f"\nPMID {output.get('pmid', '-')}  {title[:90]}{'...' if len(title) > 90 else ''}")
        for entity in output["entities"]:
            print(
                f"  {entity['type']:<13} {entity['text'][:40]:<40} "
                f"{entity['start']:>5}-{entity['end']:<5} {entity['score']:.2f}"
            )
    entities = sum(len(output.get("entities", [])) for output in outputs)
    print(
        f"\n{len(outputs)} abstracts, {entities} entities, model {_shown(tagger_path())} "
        f"(model card: {_shown(tagger_path().parent / 'MODEL_CARD.md')}); {tagging_s:.1f} s "
        "including imports and model loading"
    )
    for name, path in paths.items():
        print(f"  {name:<9} {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
