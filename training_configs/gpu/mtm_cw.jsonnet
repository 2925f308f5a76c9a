// MTM-CW at the paper's settings on the first GPU, with the GPU path (biomtl.gpu: the
// scan CRF and mixed precision). Another GPU: -o '{"trainer.cuda_device": 1}'.
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=biomtl.paper_datasets, private_layers=[]) + biomtl.gpu(cuda_device=0)
