// The development model of the leave-corpora-out protocol (docs/new_text.md): the shipped
// recipe (shipped/mtm_cw_many_train_devel.jsonnet: Adam 2e-3, batches of 32 mixing the
// corpora, a fixed 7 epochs, the mean of the last 3 epochs' weights) on the train splits only
// of the 8 corpora that remain after leaving out BioNLP13PC (genes, chemicals), BioNLP11ID
// (genes, chemicals, organisms), NCBI-disease (diseases) and JNLPBA (genes, cell types, cell
// lines). Together the left-out corpora hold every common type that two or more heads of the
// shipped model produce; their devel splits tune the merge, their test splits report it.
local biomtl = import "../biomtl.libsonnet";

biomtl.config(datasets=["AnatEM-IOBES", "BC2GM", "BC5CDR", "BioNLP09-IOBES", "BioNLP11EPI-IOBES",
                        "BioNLP13GE-IOBES", "CRAFT-IOBES", "Ex-PTM-IOBES"],
              private_layers=[],
              trainer=biomtl.budget_trainer { num_epochs: 7, validation_metric: "-loss" }, batch_size=32)
+ { train_data_path: "train", validation_data_path: null, evaluate_on_test: false }
