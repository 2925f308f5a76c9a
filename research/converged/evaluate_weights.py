"""
`allennlp evaluate` of one weights file of a run directory, as a subprocess: the helper of
`checkpoint_average` and `per_corpus_selection`.
"""
import json
import subprocess
import sys
from pathlib import Path
from typing import Optional


def evaluate_weights(run_dir: Path, weights: Path, split: str, output: Path, overrides: Optional[dict] = None) -> dict:
    """The metrics of `weights` (the model of `run_dir`) on `split`, also written to `output`.
    Exits with allennlp's error output when the evaluation fails."""
    command = [sys.executable, "-m", "allennlp", "evaluate", str(run_dir), split,
               "--weights-file", str(weights), "--include-package", "biomtl_allennlp",
               "--output-file", str(output)]  # fmt: skip
    if overrides:
        command += ["-o", json.dumps(overrides)]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"allennlp evaluate of {weights} on {split} failed:\n{done.stderr[-3000:]}")
    return json.loads(output.read_text())
