"""
Documents and their file formats: the one place where the project reads and writes
documents and their entities.

- `entity.py`: `Entity`, a found mention, and `ID_KEYS`, the document id keys;
- `pubtator.py`: PubTator files (`read_pubtator`, `format_pubtator`) and line rules;
- `medline_xml.py`: PubMed / MEDLINE XML (`read_medline`), streaming;
- `bioc_reader.py`, `bioc_writer.py`: BioC XML and JSON collections, entities as BioC
  annotations.
"""
