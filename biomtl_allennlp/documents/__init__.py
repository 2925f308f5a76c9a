"""
Documents and their file formats: the one place where the project reads and writes
documents and their entities (the predictor, `allennlp tag-file`, `allennlp tag-corpus`,
the evaluations, the demo and `allennlp visualize` all go through it). The training
corpora's token-level TSV is read by `data/crichton_tsv.py`, beside the dataset reader.

- `document.py`: `Document`, the one document type of the readers and writers (ids,
  text, title and abstract parts, entities);
- `entity.py`: `Entity`, a found (or gold) mention, and `ID_KEYS`, the document id keys;
- `lines.py`: input lines one at a time (JSON, PubTator, plain text) as the predictor
  takes them, and the error outputs of bad inputs;
- `json_lines.py`: JSON-lines files read as bytes, with `path:line` errors, the one parser
  of a JSON input line (`parse_json_object`), and the JSON line of an output;
- `pubtator.py`: PubTator files of `Document`s (`read_pubtator`, `format_pubtator`) and the predictor's
  output as PubTator;
- `conll.py`: the predictor's output as CoNLL columns (a BIOUL tag per head);
- `medline_xml.py`: PubMed / MEDLINE XML (`read_medline`: `Document`s and deletions), streaming;
- `bioc_reader.py`, `bioc_writer.py`: BioC XML and JSON collections, entities as BioC
  annotations.
"""
