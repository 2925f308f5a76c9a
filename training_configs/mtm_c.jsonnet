// MTM-C: the character layer is shared; each dataset has its own word-level BiLSTM.
local biomtl = import "biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=["encoder"])
