"""`python -m biomtl_allennlp.commands SUBCOMMAND ...`: allennlp's command line with this
plugin registered, from any directory (see `biomtl_allennlp.commands`)."""
if __name__ == "__main__":
    from biomtl_allennlp.commands import run_as_allennlp_command

    run_as_allennlp_command()
