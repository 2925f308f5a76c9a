// `make demo-train`: MTM-CW on the three small synthetic corpora in fixtures/demo, a few minutes
// on 2 CPU cores.
local biomtl = import "biomtl.libsonnet";

biomtl.config(
  datasets=["demo-gene", "demo-chemical", "demo-disease"],
  private_layers=[],
  trainer=biomtl.budget_trainer { num_epochs: 8 },
  batch_size=16,
) + {
  dataset_reader+: { data_root: "fixtures/demo" },
  vocabulary+: { min_count: { tokens: 2 } },
  evaluate_on_test: true,
}
