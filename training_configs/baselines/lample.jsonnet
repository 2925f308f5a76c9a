// Baseline: Lample et al. 2016 BiLSTM-CRF, as used for biomedical NER by Habibi et al. 2017
// (the paper's Table 2 baseline): a per-word character BiLSTM + word embeddings, a word-level
// BiLSTM and a CRF, trained on one dataset.
//
// Choices (kept the same in ma_hovy.jsonnet so the baselines differ only in the char layer):
// - Model: our `multitask_crf_tagger` with one dataset and allennlp's per-word
//   `character_encoding` (TokenCharactersEncoder) embedder, rather than allennlp-models'
//   `crf_tagger`. The CRF head then follows the reader (one head per "<dataset>_labels"
//   namespace), so `-o '{"dataset_reader.datasets": ["BC2GM"]}'` alone switches the dataset
//   (crf_tagger would also need `model.label_namespace`), and the metric keys
//   (`<dataset>_precision|recall|f1`, per type at evaluation) are those of STM/MTM, so the
//   tables module reads baseline metrics.json files as they are. CRF, loss, dropout (0.5 on the
//   embeddings and on the BiLSTM output) and span metrics are then exactly those of STM: the only
//   difference from STM is the character layer (per-word BiLSTM instead of the LM-LSTM-CRF
//   sentence-level char stream).
// - Sizes: word embeddings 200 (the paper's, matching the 200-d PubMed/PMC word2vec vectors),
//   char embeddings 30 (the paper's), char BiLSTM 25 per direction (Lample et al.'s size), word
//   BiLSTM 200 per direction (the paper's), so the encoder input is 200 + 2 * 25 = 250.
// - Vocabulary, data loader (batches of 10) and trainer (SGD 0.01, momentum 0.9, lr / (1 + 0.05t),
//   gradient norm 5) come from biomtl.libsonnet (paper settings); budget_lample.jsonnet uses
//   the CPU budget trainer instead.
local biomtl = import "../biomtl.libsonnet";

local sizes = {
  word_embedding_dim: 200,
  char_embedding_dim: 30,
  char_hidden_size: 25,  // per direction (Lample et al.)
  word_hidden_size: 200,  // per direction
  dropout: 0.5,
};

{
  dataset_reader: {
    type: "multitask_ner",
    datasets: ["NCBI-disease"],
    token_indexers: {
      tokens: { type: "single_id" },
      // min_padding_length 1: no filter width to fit (allennlp warns about the default 0).
      token_characters: { type: "characters", namespace: "token_characters", min_padding_length: 1 },
    },
  },
  train_data_path: "train",
  validation_data_path: "devel",
  test_data_path: "test",
  evaluate_on_test: false,
  vocabulary: biomtl.vocabulary,
  datasets_for_vocab_creation: biomtl.vocab_datasets,
  data_loader: biomtl.data_loader(10),
  model: {
    type: "multitask_crf_tagger",
    dropout: sizes.dropout,
    text_field_embedder: {
      token_embedders: {
        tokens: { type: "word2vec", embedding_dim: sizes.word_embedding_dim },
        token_characters: {
          type: "character_encoding",
          embedding: { embedding_dim: sizes.char_embedding_dim, vocab_namespace: "token_characters" },
          encoder: {
            type: "lstm",
            input_size: sizes.char_embedding_dim,
            hidden_size: sizes.char_hidden_size,
            bidirectional: true,
          },
        },
      },
    },
    encoder: {
      type: "lstm",
      input_size: sizes.word_embedding_dim + 2 * sizes.char_hidden_size,
      hidden_size: sizes.word_hidden_size,
      bidirectional: true,
    },
  },
  trainer: biomtl.paper_trainer,
}
