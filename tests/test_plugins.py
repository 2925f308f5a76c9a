"""The plugin loads the way allennlp's commands load it, beside allennlp-models."""
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
        "import_plugins()\n"
        "assert 'crf_tagger' in Model.list_available(), 'allennlp_models not loaded'\n"
        "assert 'multitask_crf_tagger' in Model.list_available()\n"
        "assert 'multitask_ner' in DatasetReader.list_available()\n"
        "assert 'char_stream' in TokenIndexer.list_available()\n"
        "assert 'biomedical_entities' in Predictor.list_available()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "could not be loaded" not in result.stderr, result.stderr[-2000:]
