"""
Evaluation helpers: paper-style result tables and figure (`tables`, the library behind
`allennlp tables`) and the BioCreative II gene mention evaluation with alternative matches
(`bc2gm_eval`, `python -m biomtl_allennlp.evaluation.bc2gm_eval`). They register nothing with
AllenNLP.
"""
