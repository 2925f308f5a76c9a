import pytest
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

from tests.predictors.tiny_model import tiny_archive_path as _tiny_archive_path


@pytest.fixture(scope="session")
def tiny_archive_path():
    return _tiny_archive_path()


@pytest.fixture(scope="session")
def tiny_archive(tiny_archive_path):
    return load_archive(tiny_archive_path)


@pytest.fixture(scope="session")
def make_predictor(tiny_archive):
    def make(**kwargs):
        return Predictor.from_archive(tiny_archive, "biomedical_entities", extra_args=kwargs)

    return make


@pytest.fixture(scope="session")
def predictor(make_predictor):
    """Default arguments except `overlap_policy="keep_all"`, so every head's spans show."""
    return make_predictor(overlap_policy="keep_all")
