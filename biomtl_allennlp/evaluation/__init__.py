"""
Evaluation helpers: paper-style result tables and figure (`tables`, behind `allennlp
tables`), character-offset evaluation against PubTator gold mentions (`pubtator_eval`,
behind `allennlp pubtator-eval`) and the BioCreative II gene mention evaluation with
alternative matches (`bc2gm_eval`, behind `allennlp bc2gm-eval`). The subcommands
themselves are registered in `biomtl_allennlp/commands/`.
"""
