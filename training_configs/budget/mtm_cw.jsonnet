// mtm_cw under the CPU budget: the paper's model, trained with Adam, batches of 32, 5 epochs.
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=[], trainer=biomtl.budget_trainer, batch_size=32)
