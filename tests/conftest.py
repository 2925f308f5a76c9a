import logging
import os
import pathlib
import sys

import pytest

import biomtl_allennlp  # noqa: F401  (registers the components)

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
DEMO_DATA = PROJECT_ROOT / "fixtures" / "demo"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _restore_global_logging():
    """In-process `allennlp train` (`prepare_global_logging`) replaces the root logger's handlers
    with ones bound to the test's captured stdout/stderr and sets `sys.excepthook`; put them
    back so later tests do not log into closed streams ("--- Logging error ---"). It also
    gives allennlp's tqdm logger the run's `out.log` handler: restored too, or a later
    progress bar reopens that closed file in a deleted temporary folder (FileNotFoundError)."""
    from allennlp.common.tqdm import logger as tqdm_logger

    root = logging.getLogger()
    handlers, level, excepthook = list(root.handlers), root.level, sys.excepthook
    tqdm_handlers = list(tqdm_logger.handlers)
    yield
    for logger, kept in ((root, handlers), (tqdm_logger, tqdm_handlers)):
        for handler in logger.handlers:
            if handler not in kept:
                handler.close()
        logger.handlers[:] = kept
    root.setLevel(level)
    sys.excepthook = excepthook


@pytest.fixture
def demo_data_root(monkeypatch):
    """Names in configs resolve against the shipped demo corpora."""
    monkeypatch.setenv("BIOMTL_DATA_ROOT", str(DEMO_DATA))
    return DEMO_DATA
