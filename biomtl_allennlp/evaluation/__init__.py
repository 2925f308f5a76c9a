"""
Evaluation helpers: paper-style result tables and figure (`tables`) and the BioCreative II
gene mention evaluation with alternative matches (`bc2gm_eval`). Both are command-line tools
(`python -m biomtl_allennlp.evaluation.tables`, `python -m biomtl_allennlp.evaluation.bc2gm_eval`)
and register nothing with AllenNLP.
"""
