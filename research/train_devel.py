"""
What training on train+devel gives (issue 13): STM on BC5CDR for a fixed 7 epochs (the
converged train-only runs' early stopping chose epochs 7, 4 and 6, counting from 0), seed 1,
1 thread, once on the train split and once on train+devel; no validation, test scored at the
end. Trained by the research runner (`research.run`; resumable), records and metrics in
`docs/train_devel_runs/<run>/`:

    BIOMTL_DATA_ROOT=../shared/data .venv/bin/python -m research.train_devel [RUNS_DIR]
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from biomtl_allennlp.common.datasets import resolve_data_root
from research.plan import REPO_ROOT, Budget, Run

STORE = REPO_ROOT / "docs" / "train_devel_runs"
CONFIG = "training_configs/budget/stm.jsonnet"


def plan(runs_dir: Path) -> List[Run]:
    """The two runs: the same recipe on the train split and on train+devel."""
    runs = []
    for data in ("train", "train+devel"):
        overrides = {
            "dataset_reader.datasets": ["BC5CDR"],
            "train_data_path": data,
            "validation_data_path": None,
            "trainer.num_epochs": 7,
            "trainer.patience": None,
            "trainer.validation_metric": "-loss",
            "evaluate_on_test": True,
            "random_seed": 1,
            "numpy_seed": 1,
            "pytorch_seed": 1,
        }
        name = f"stm_BC5CDR_fixed7_{data.replace('+', '_')}_s1"
        runs.append(Run(model="STM", datasets=["BC5CDR"], seed=1, config=CONFIG,
                        run_dir=runs_dir / name, overrides=overrides, recover=True,
                        record_budget=False))
    return runs


def main(argv: Optional[Sequence[str]] = None) -> int:
    from research.run import execute
    from research.store import restore_from_store

    parser = argparse.ArgumentParser(
        prog="python -m research.train_devel", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs_dir", nargs="?",
                        default=str(Path.home() / ".cache" / "biomtl_allennlp" / "runs" / "extra"))
    args = parser.parse_args(argv)
    data_root = Path(resolve_data_root(None) or REPO_ROOT.parent / "shared" / "data").resolve()
    runs_dir = Path(args.runs_dir).expanduser().resolve()
    runs = plan(runs_dir)
    restore_from_store(runs, STORE)
    execute(runs, Budget(threads=1), data_root, runs_dir, None, None, jobs=1, store_dir=STORE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
