import contextlib
import json
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


@contextlib.contextmanager
def global_logging_restored():
    """In-process `allennlp train` (`prepare_global_logging`) replaces the root logger's handlers
    with ones bound to the test's captured stdout/stderr and sets `sys.excepthook`; put them
    back so later tests do not log into closed streams ("--- Logging error ---"). It also
    gives allennlp's tqdm logger the run's `out.log` handler: restored too, or a later
    progress bar reopens that closed file in a deleted temporary folder (FileNotFoundError)."""
    from allennlp.common.tqdm import logger as tqdm_logger

    root = logging.getLogger()
    handlers, level, excepthook = list(root.handlers), root.level, sys.excepthook
    tqdm_handlers = list(tqdm_logger.handlers)
    try:
        yield
    finally:
        for logger, kept in ((root, handlers), (tqdm_logger, tqdm_handlers)):
            for handler in logger.handlers:
                if handler not in kept:
                    handler.close()
            logger.handlers[:] = kept
        root.setLevel(level)
        sys.excepthook = excepthook


@pytest.fixture(autouse=True)
def _restore_global_logging():
    with global_logging_restored():
        yield


@pytest.fixture
def demo_data_root(monkeypatch):
    """Names in configs resolve against the shipped demo corpora."""
    monkeypatch.setenv("BIOMTL_DATA_ROOT", str(DEMO_DATA))
    return DEMO_DATA


@pytest.fixture(scope="session")
def finished_fixture_run(tmp_path_factory):
    """One MTM-CW run on the demo corpora, trained once for the tests of the converged-run
    scripts: 3 epochs, seed 7, every epoch's weights kept (as the lanes keep them), test
    scored at the end. Session-scoped, so it restores the global logging itself."""
    from allennlp.commands.train import train_model_from_file

    run = tmp_path_factory.mktemp("converged") / "fixture_run"
    overrides = {"trainer.num_epochs": 3, "trainer.checkpointer": {"keep_most_recent_by_count": None},
                 "evaluate_on_test": True, "random_seed": 7}
    with pytest.MonkeyPatch.context() as patch, global_logging_restored():
        patch.setenv("BIOMTL_DATA_ROOT", str(DEMO_DATA))
        train_model_from_file(FIXTURES / "configs" / "mtm_cw.jsonnet", run, overrides=json.dumps(overrides))
    return run
