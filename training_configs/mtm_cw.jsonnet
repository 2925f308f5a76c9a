// MTM-CW: character and word layers shared by all datasets, one CRF per dataset.
local biomtl = import "biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=[])
