#!/usr/bin/env bash
# Writes every user-visible output of the tagging commands on the shipped fixtures to OUT,
# so two checkouts can be compared byte for byte (`diff -r BEFORE AFTER`): the demo's JSON
# lines, PubTator, CoNLL and HTML, `allennlp predict` in each output format and merge mode,
# `tag-file` (with bad lines), `tag-corpus` (JSON lines, PubTator, BioC), `visualize`,
# `pubtator-eval`, `corpus-eval` and the spaCy component. Timings and paths are left out.
#
#     bash scripts/checks/behaviour_snapshot.sh OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
FINAL=$(realpath -m "$1")
# Outputs name their input files: every run writes under the same folder, then moves it.
# One run at a time on a machine (a second waits for the first).
OUT=/tmp/biomtl_behaviour_snapshot
exec 9> "$OUT.lock"
flock 9
rm -rf "$OUT" "$FINAL" && mkdir -p "$OUT"
AL=".venv/bin/allennlp"
PY=".venv/bin/python"
MODEL=biomtl_allennlp/pretrained/mtm_cw/model.tar.gz
IN=fixtures/pubmed/abstracts.jsonl
quiet() { "$@" 2> >(grep -v -e pkg_resources -e ' - INFO - ' >&2); }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# `make demo`'s four files
quiet $PY scripts/demo.py --out "$OUT/demo" > /dev/null

# allennlp predict: each output format, each merge, JSON lines and PubTator input
for fmt in json pubtator conll; do
  quiet $AL predict $MODEL $IN --include-package biomtl_allennlp --silent \
    --predictor-args "{\"output_format\": \"$fmt\"}" --output-file "$OUT/predict.$fmt" --batch-size 4
done
quiet $AL predict $MODEL $IN --include-package biomtl_allennlp --silent \
  --predictor-args '{"merge": "union"}' --output-file "$OUT/predict.union.json"
quiet $AL predict $MODEL $IN --include-package biomtl_allennlp --silent \
  --predictor-args '{"alternatives": true}' --output-file "$OUT/predict.alternatives.json"
quiet $AL predict $MODEL fixtures/pubmed/abstracts.pubtator --include-package biomtl_allennlp --silent \
  --output-file "$OUT/predict.from_pubtator.json"

# tag-file with lines that are not UTF-8, not JSON, not objects, empty, plain text
BAD="$OUT/inputs/bad.jsonl"
mkdir -p "$OUT/inputs"
{
  head -2 $IN
  printf '{"pmid": "1", "text": "Cisplatin caused nephrotoxicity in \xe4 BRCA1 carriers."}\n'
  printf '{"pmid": "2", "text": \n'
  printf '[1, 2]\n'
  printf '\n'
  printf 'Aspirin reduced the risk of colorectal cancer.\n'
  printf '{"pmid": "3", "text": ""}\n'
  printf '{"pmid": "4", "title": "Tamoxifen in breast cancer", "abstract": "TP53 mutations were frequent."}\n'
} > "$BAD"
quiet $AL tag-file mtm_cw "$BAD" --output-file "$OUT/tag_file.bad.jsonl" --include-package biomtl_allennlp
quiet $AL tag-file mtm_cw fixtures/pubmed/abstracts.pubtator --output-file "$OUT/tag_file.pubtator.jsonl" \
  --include-package biomtl_allennlp --predictor-args '{"output_format": "pubtator"}'

# tag-corpus: JSON lines, PubTator, BioC output
mkdir -p "$OUT/corpus_in"
cp $IN "$OUT/corpus_in/"
cp fixtures/pubmed/abstracts.pubtator "$OUT/corpus_in/pubtator_in.pubtator"
for fmt in jsonl pubtator bioc_xml bioc_json; do
  quiet $AL tag-corpus mtm_cw "$OUT/corpus_in" --output-dir "$OUT/tag_corpus.$fmt" --workers 1 \
    --include-package biomtl_allennlp --output-format $fmt > /dev/null
  rm -f "$OUT/tag_corpus.$fmt"/.*.complete "$OUT/tag_corpus.$fmt"/.tag-corpus.lock
done
# BioC in (XML and JSON), BioC out in the input's own format
rm -rf "$OUT/corpus_in" && mkdir -p "$OUT/corpus_in"
cp "$OUT/tag_corpus.bioc_xml/abstracts.bioc.xml" "$OUT/corpus_in/xml_in.bioc.xml"
cp "$OUT/tag_corpus.bioc_json/abstracts.bioc.json" "$OUT/corpus_in/json_in.bioc.json"
quiet $AL tag-corpus mtm_cw "$OUT/corpus_in" --output-dir "$OUT/tag_corpus.bioc_in" --workers 1 \
  --include-package biomtl_allennlp > /dev/null
rm -f "$OUT/tag_corpus.bioc_in"/.*.complete "$OUT/tag_corpus.bioc_in"/.tag-corpus.lock
rm -rf "$OUT/corpus_in"

# visualize, pubtator-eval, corpus-eval
quiet $AL visualize "$OUT/demo/entities.jsonl" -o "$OUT/visualize.html" --include-package biomtl_allennlp > /dev/null
quiet $AL pubtator-eval $MODEL fixtures/pubmed/gold.pubtator --include-package biomtl_allennlp \
  --output-file "$OUT/pubtator_eval.json" > "$OUT/pubtator_eval.txt"
quiet $AL corpus-eval $MODEL fixtures/demo/demo-disease/test.tsv --include-package biomtl_allennlp \
  --output-file "$OUT/corpus_eval.json" > "$OUT/corpus_eval.txt"

# the spaCy component
quiet $PY - "$OUT/spacy.jsonl" <<'PY'
import json, sys
import spacy
nlp = spacy.blank("en")
nlp.add_pipe("biomtl_ner")
texts = [json.loads(line) for line in open("fixtures/pubmed/abstracts.jsonl", encoding="utf-8")]
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for doc in nlp.pipe([t["title"] + " " + t["abstract"] for t in texts]):
        out.write(json.dumps({
            "ents": [[e.start_char, e.end_char, e.label_] for e in doc.ents],
            "spans": [[s.start_char, s.end_char, s.label_, s._.biomtl_score, s._.biomtl_heads]
                      for s in doc.spans["biomtl"]],
        }) + "\n")
PY
# tag-corpus summaries and evaluation metrics without their timings and memory figures
normalise() {
$PY - "$@" <<'PY'
import json, sys
VOLATILE = ("seconds", "memory", "per_second")
def kept(value):
    if isinstance(value, dict):
        return {k: kept(v) for k, v in value.items() if not any(w in k for w in VOLATILE)}
    return value
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        value = json.loads(text)
    except ValueError:
        continue  # a table, not JSON: left as it is
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(kept(value), handle, indent=2, sort_keys=True)
PY
}
normalise "$OUT"/tag_corpus.*/tag-corpus-summary.json "$OUT"/*_eval.json "$OUT"/*_eval.txt
find "$OUT" -type f | sort | sed "s|$OUT/||" | while read -r f; do printf '%s  %s\n' "$(sha256sum < "$OUT/$f" | cut -c1-16)" "$f"; done > "$OUT.sums"
mv "$OUT.sums" "$OUT/SHA256SUMS"
mkdir -p "$(dirname "$FINAL")" && mv "$OUT" "$FINAL"
echo "wrote $(wc -l < "$FINAL/SHA256SUMS") files to $FINAL"
