// STM: the single-task model, one dataset. Train one per dataset with
// -o '{"dataset_reader.datasets": ["BC2GM"]}'.
local biomtl = import "biomtl.libsonnet";

biomtl.config(datasets=["NCBI-disease"], private_layers=[])
