// MTM-CW + dictionary feature (the paper's Table 4): MTM-CW whose word representation also gets,
// per word, binary features "this word is at position p of a dictionary term of type T of length
// n" (n <= 6: 21 features per type), from the `dictionary_features` indexer / embedder pair.
//
// The dictionary is a `term<TAB>type` TSV named by the environment variable BIOMTL_DICTIONARY
// (allennlp passes the environment to jsonnet as ext vars), e.g.
//   allennlp dictionary build --out dict.tsv .../NCBI-disease-IOBES/train.tsv
//   BIOMTL_DICTIONARY=dict.tsv allennlp train training_configs/dictionary/mtm_cw_dict_feature.jsonnet ...
// The paper used CTD dictionaries, which are not available here: `python -m research.reproduce` builds
// the dictionary from the training-split mentions of the benchmark datasets.
//
// Feature blocks are computed for the fixed `entity_types` below (the types of the paper's five
// corpora), so the feature size does not depend on the file: types missing from the dictionary
// give all-zero blocks. The features are concatenated to the embeddings as they are (no
// projection), so the encoder input grows by 21 * 8 = 168.
//
// Dictionary post-processing (the third Table 4 row) is not a training config: it relabels
// O-tagged dictionary matches in an MTM-CW model's predictions at evaluation time, see
// `python -m research.reproduce --dictionary`.
local biomtl = import "../biomtl.libsonnet";

local entity_types = ["GENE", "Chemical", "Disease", "DNA", "RNA", "cell_line", "cell_type", "protein"];
local max_window = 6;
local num_features = std.length(entity_types) * max_window * (max_window + 1) / 2;

{
  // Adds the dictionary feature to any biomtl config (used by budget_mtm_cw_dict_feature too).
  with_dictionary_feature(config):: config + {
    dataset_reader+: {
      token_indexers+: {
        dictionary_features: {
          type: "dictionary_features",
          dictionary_path: std.extVar("BIOMTL_DICTIONARY"),
          entity_types: entity_types,
          max_window: max_window,
        },
      },
    },
    model+: {
      text_field_embedder+: {
        token_embedders+: {
          dictionary_features: { type: "dictionary_features", num_features: num_features },
        },
      },
      encoder+: { input_size: super.input_size + num_features },
    },
  },
}.with_dictionary_feature(
  biomtl.config(datasets=biomtl.paper_datasets, private_layers=[])
)
