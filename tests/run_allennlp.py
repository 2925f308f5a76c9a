"""Runs allennlp's command line in the test process, as `allennlp ARGS` would."""
import sys

from allennlp.commands import main


def run_allennlp(monkeypatch, *args) -> None:
    """`allennlp ARGS` through `allennlp.commands.main` (its `SystemExit`s propagate)."""
    monkeypatch.setattr(sys, "argv", ["allennlp", *(str(arg) for arg in args)])
    main()
