// The shipped tagger's recipe (issue 13): MTM-CW with the converged reproduction's budget
// (Adam 2e-3, batches of 32 mixing the corpora) trained on the train and devel splits of the
// four public corpora, as the paper's code trained, for a fixed 7 epochs: the train-only
// runs' early stopping chose epochs 6, 4 and 9 (counting from 0; mtm_cw_mixed_s1-3). There
// is no held-out devel split left, so no model selection: the last epoch is the model, and
// the test splits are scored once at the end.
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=["BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA"], private_layers=[],
              trainer=biomtl.budget_trainer { num_epochs: 7, validation_metric: "-loss" }, batch_size=32)
+ { train_data_path: "train+devel", validation_data_path: null, evaluate_on_test: true }
