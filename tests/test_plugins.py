"""The plugin loads the way allennlp's commands load it, beside allennlp-models."""
import json
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_allennlp_commands_see_our_components_and_allennlp_models():
    # A fresh interpreter, as `allennlp train` starts: plugins from .allennlp_plugins in the
    # working directory plus allennlp_models (which needs setuptools < 81).
    code = (
        "from allennlp.common.plugins import import_plugins\n"
        "from allennlp.models import Model\n"
        "from allennlp.data import DatasetReader, TokenIndexer\n"
        "from allennlp.predictors import Predictor\n"
        "from allennlp.training.metrics import Metric\n"
        "import_plugins()\n"
        "assert 'crf_tagger' in Model.list_available(), 'allennlp_models not loaded'\n"
        "assert 'multitask_crf_tagger' in Model.list_available()\n"
        "assert 'multitask_ner' in DatasetReader.list_available()\n"
        "assert 'char_stream' in TokenIndexer.list_available()\n"
        "assert 'biomedical_entities' in Predictor.list_available()\n"
        "assert 'distributed_span_f1' in Metric.list_available()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "could not be loaded" not in result.stderr, result.stderr[-2000:]


OUR_COMMANDS = {
    "pubtator-eval": "PubTator file",
    "visualize": "displaCy",
    "dictionary": "Entity dictionary tools",
    "bc2gm-eval": "alt_eval.perl",
    "significance": "Paired bootstrap",
}


def _help_of_each_command(cwd, prelude):
    """Runs `allennlp <name> --help --include-package biomtl_allennlp` for our commands in
    a fresh interpreter started in `cwd`; returns their help texts."""
    code = prelude + (
        "import contextlib, io, json, sys\n"
        "from allennlp.commands import main\n"
        "texts = {}\n"
        f"for name in {sorted(OUR_COMMANDS)!r}:\n"
        "    sys.argv = ['allennlp', name, '--help', '--include-package', 'biomtl_allennlp']\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            main()\n"
        "        except SystemExit as exit:\n"
        "            assert exit.code == 0, (name, exit.code)\n"
        "    texts[name] = out.getvalue()\n"
        "print(json.dumps(texts))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_our_subcommands_from_the_project_root():
    # As `allennlp <name>` run in the project root: discovered through .allennlp_plugins.
    texts = _help_of_each_command(PROJECT_ROOT, "")
    for name, phrase in OUR_COMMANDS.items():
        assert f"usage: allennlp {name}" in texts[name] and phrase in texts[name], name


def test_our_subcommands_from_any_directory(tmp_path):
    # Elsewhere `allennlp` has no plugins file to read: an import of the plugin registers
    # them, and so does `~/.allennlp/plugins` for the `allennlp` command line.
    assert not (tmp_path / ".allennlp_plugins").exists()
    texts = _help_of_each_command(tmp_path, "import biomtl_allennlp\n")
    for name, phrase in OUR_COMMANDS.items():
        assert f"usage: allennlp {name}" in texts[name] and phrase in texts[name], name
    home = tmp_path / "home"
    (home / ".allennlp").mkdir(parents=True)
    (home / ".allennlp" / "plugins").write_text("biomtl_allennlp\n")
    result = subprocess.run(
        [sys.executable, "-m", "allennlp", "bc2gm-eval", "--help"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: allennlp bc2gm-eval" in result.stdout


def test_library_modules_have_no_command_line_of_their_own():
    # `allennlp <name>` is the one entry: no `python -m` shim in the package, so no module
    # below `commands/` imports the command layer.
    package = PROJECT_ROOT / "biomtl_allennlp"
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert '__name__ == "__main__"' not in text, path
        if path.parent.name != "commands" and path != package / "__init__.py":
            assert "biomtl_allennlp.commands" not in text, path
