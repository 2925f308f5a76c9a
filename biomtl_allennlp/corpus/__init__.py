"""
Tagging whole corpora (PubMed baseline and update files, JSON lines, PubTator) on Ray:
`inputs.py` (which files, their documents), `tagger.py` (the workers and the streaming,
resumable driver); the command is `allennlp tag-corpus` (`commands/tag_corpus.py`).
Ray is imported only when a corpus is tagged.
"""
