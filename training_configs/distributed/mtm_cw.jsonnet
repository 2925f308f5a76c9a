// mtm_cw (budget recipe) on two GPUs with allennlp's distributed trainer. Each GPU takes
// batches of 32, so every optimizer step sees 64 sentences; more GPUs: list them below.
// On CPU, `-o '{"distributed.cuda_devices": [-1, -1]}'` runs the same with two processes.
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=[], trainer=biomtl.budget_trainer, batch_size=32)
+ biomtl.distributed(cuda_devices=[0, 1])
