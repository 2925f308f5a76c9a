"""One tiny trained archive per test process, shared by the predictor and evaluation tests."""
import atexit
import functools
import pathlib
import shutil
import tempfile

import pytest
from allennlp.commands.train import train_model_from_file

from tests.conftest import DEMO_DATA, FIXTURES


@functools.lru_cache(maxsize=None)
def tiny_archive_path() -> pathlib.Path:
    """Trains the tiny mtm_cw model (heads demo-gene, demo-chemical, demo-disease) once."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="biomtl_tiny_"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIOMTL_DATA_ROOT", str(DEMO_DATA))
        train_model_from_file(FIXTURES / "configs" / "mtm_cw.jsonnet", directory / "run")
    return directory / "run" / "model.tar.gz"
