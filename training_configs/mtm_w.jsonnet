// MTM-W: the word-level BiLSTM is shared; each dataset has its own character layer.
local biomtl = import "biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=["chars"])
