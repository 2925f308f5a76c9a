// mtm_cw_dict_feature.jsonnet under the CPU budget (as training_configs/budget/mtm_cw.jsonnet):
// Adam 0.002, lr / (1 + 0.05t), gradient norm 5, batches of 32, 5 epochs. The dictionary is the
// TSV named by $BIOMTL_DICTIONARY.
local biomtl = import "../biomtl.libsonnet";

(import "mtm_cw_dict_feature.jsonnet") + {
  data_loader: biomtl.data_loader(32),
  trainer: biomtl.budget_trainer,
}
