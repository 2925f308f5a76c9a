"""
The reproduction of Wang et al. 2019 as a library (its command line is
`benchmarks/reproduce.py`):

- `plan`: the models (which config makes STM, MTM-C, ...), the budget, the runs to do;
- `run`: executing the plan (`allennlp train` subprocesses, in parallel, with the epoch gate
  controller for a time budget) and the evaluation steps;
- `postprocess`: the dictionary and the dictionary post-processing evaluation (Table 4);
- `store`: finished runs on disk, their reuse, and the committed copies in `docs/*_runs/`;
- `report`: the results markdown and figure;
- `reproduce`: the command line that ties them together.

The trainer side of the epoch gate is the `epoch_gate` `TrainerCallback`
(`biomtl_allennlp.training.callbacks.epoch_gate`).
"""
