// The shipped recipe (mtm_cw_train_devel.jsonnet: the converged budget on train+devel for a
// fixed 7 epochs, the last epoch is the model) on all 12 corpora of the data root: the
// 12-corpus train-only run (mtm_cw_many_s1 of research/converged/lane_a.plan) kept the four
// paper corpora's devel macro F1 (80.06 vs 79.99 / 80.37 / 79.83 of the four-corpus runs,
// seeds 1-3) and scored BC5CDR test +0.99 over the four-corpus seed 3 (bootstrap p 0.0014).
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=["AnatEM-IOBES", "BC2GM", "BC5CDR", "BioNLP09-IOBES", "BioNLP11EPI-IOBES",
                        "BioNLP11ID-IOBES", "BioNLP13GE-IOBES", "BioNLP13PC-IOBES", "CRAFT-IOBES",
                        "Ex-PTM-IOBES", "JNLPBA", "NCBI-disease"],
              private_layers=[],
              trainer=biomtl.budget_trainer { num_epochs: 7, validation_metric: "-loss" }, batch_size=32)
+ { train_data_path: "train+devel", validation_data_path: null, evaluate_on_test: true }
