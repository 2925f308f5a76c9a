// lample.jsonnet under the CPU budget (as training_configs/budget/*.jsonnet): Adam 0.002,
// lr / (1 + 0.05t), gradient norm 5, batches of 32, 5 epochs, no early stopping.
local biomtl = import "../biomtl.libsonnet";

(import "lample.jsonnet") + {
  data_loader: biomtl.data_loader(32),
  trainer: biomtl.budget_trainer,
}
