"""
The research code of this checkout (not part of the installable plugin: `setup.py` leaves it
out): the reproduction of Wang et al. 2019 and the pages of results under `docs/`.

- `plan`: the models (which config makes STM, MTM-C, ...), the budget, the runs to do;
- `run`: executing the plan (`allennlp train` subprocesses, in parallel, with the epoch gate
  controller for a time budget) and the evaluation steps;
- `postprocess`: the dictionary and the dictionary post-processing evaluation (Table 4);
- `store`: finished runs on disk, their reuse, and the committed copies in `docs/*_runs/`;
- `report`: the results markdown and figure of a budget reproduction;
- `reproduce`: the command line that ties them together (`python -m research.reproduce`);
- `converged`: the converged runs (lane plans, their records and analyses, `docs/results.md`);
- `callbacks`: the `epoch_gate` `TrainerCallback`, the runs' side of the epoch gate.

Importing the package registers the callback, so `allennlp train --include-package research.callbacks`
finds it.
"""
from research.callbacks.epoch_gate import EpochGate
