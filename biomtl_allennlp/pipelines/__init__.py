"""
The tagger inside other libraries' pipelines: `spacy_component.py`, the spaCy pipeline
component `biomtl_ner` (registered through spaCy's `spacy_factories` entry point, so
`spacy.blank("en").add_pipe("biomtl_ner")` finds it without importing this package first).
"""
