import os
import pathlib

import pytest

import biomtl_allennlp  # noqa: F401  (registers the components)

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
DEMO_DATA = PROJECT_ROOT / "fixtures" / "demo"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture
def demo_data_root(monkeypatch):
    """Names in configs resolve against the shipped demo corpora."""
    monkeypatch.setenv("BIOMTL_DATA_ROOT", str(DEMO_DATA))
    return DEMO_DATA
