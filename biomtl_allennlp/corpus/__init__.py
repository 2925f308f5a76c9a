"""
Tagging whole corpora (PubMed baseline and update files, JSON lines, PubTator, BioC) on Ray:
`inputs.py` (which files, their documents), `worker.py` (the Ray workers), `writer.py`
(results in input order, checked outputs, the run's summary), `output_folder.py` (the
folder's lock and completion records) and `tagger.py` (the streaming, resumable driver);
the command is `allennlp tag-corpus` (`commands/tag_corpus.py`). Ray is imported only
when a corpus is tagged.
"""
