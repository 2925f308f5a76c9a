// MTM-CW on the first GPU at batches of 256 sentences (biomtl.large_batch_trainer: Adam,
// lr 2e-3 * sqrt(256 / 32), early stopping on devel) with the GPU path (biomtl.gpu: the
// scan CRF, mixed precision); test scored once at the end. Another batch size:
// -o '{"data_loader.batch_sampler.batch_size": 512, "trainer.optimizer.lr": 0.008}'
// (keep lr = 2e-3 * sqrt(batch / 32)).
// Validation (docs/performance.md, run mtm_cw_b256_s1, one seed, on CPU): devel macro F1 0.52 below
// batch 32 with the same seed, outside the 0.3-point target; not yet a recommended recipe.
local biomtl = import "../biomtl.libsonnet";
local batch_size = 256;

biomtl.config(datasets=biomtl.paper_datasets, private_layers=[], trainer=biomtl.large_batch_trainer(batch_size),
              batch_size=batch_size)
+ biomtl.gpu(cuda_device=0) + { evaluate_on_test: true }
