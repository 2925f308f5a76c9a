"""
The plugin's `allennlp` subcommands, one `Subcommand` per file: `pubtator-eval`,
`corpus-eval`, `visualize`, `dictionary`, `bc2gm-eval`, `export-tagger`, `tag-corpus`, `tag-file` (and
`tables`).

How allennlp finds them: `allennlp` parses the subcommand name before it imports the
packages named by `--include-package`, so a plugin subcommand must already be registered at
that point. For a name it does not know, `allennlp` first runs `import_plugins()`, which
imports the modules listed in `.allennlp_plugins` in the working directory and in
`~/.allennlp/plugins`. Hence:

- from the project root (its `.allennlp_plugins` names `biomtl_allennlp`):
  `allennlp pubtator-eval ...`, with or without `--include-package biomtl_allennlp`;
- from any other directory: list `biomtl_allennlp` in `~/.allennlp/plugins` (or in a
  local `.allennlp_plugins`).

These subcommands are the one command line of the plugin: its library modules have no
`python -m` entry points.

`--include-package biomtl_allennlp` alone cannot make a plugin subcommand known; it is
accepted by every subcommand, as allennlp adds it to all of them.
"""
import functools
import json
import os
import sys
from typing import Any, Callable, Dict, Optional

from biomtl_allennlp.common.errors import InputFormatError


def exits_on_input_error(function: Callable[..., Any]) -> Callable[..., Any]:
    """A subcommand's `func`: bad input (or a file that cannot be written) ends the command
    with `error: <message>` on stderr and exit status 1 instead of a traceback."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (InputFormatError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)

    return wrapped


def json_object_arg(value: Optional[str], name: str) -> Dict[str, Any]:
    """A JSON object option (`--predictor-args`, `--type-map`) given inline or as a path to a
    JSON file; `{}` when empty. Bad JSON or another JSON value is an `InputFormatError`
    naming the option."""
    if not value:
        return {}
    if os.path.exists(value):
        with open(value, encoding="utf-8") as handle:
            value = handle.read()
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise InputFormatError(f"{name}: not a JSON object or a JSON file: {error}") from None
    if not isinstance(parsed, dict):
        raise InputFormatError(f"{name}: expected a JSON object")
    return parsed

