// Baseline: Ma & Hovy 2016 CNN-BiLSTM-CRF: a per-word character CNN (max-pooled over the word)
// + word embeddings, a word-level BiLSTM and a CRF, trained on one dataset.
//
// Choices (the same as in lample.jsonnet, see there why our `multitask_crf_tagger` is used
// instead of allennlp-models' `crf_tagger`): one CRF head per dataset the reader reads, so
// `-o '{"dataset_reader.datasets": ["BC2GM"]}'` alone switches the dataset; same CRF, loss,
// dropout (0.5 on the embeddings and on the BiLSTM output) and span metrics as STM.
// - Char layer: allennlp's `character_encoding` (TokenCharactersEncoder) with a `cnn` encoder,
//   Ma & Hovy's sizes: 30 filters of width 3, tanh, max-pooled; char embeddings 30. The
//   `characters` indexer pads every word to at least 3 characters (min_padding_length 3) so the
//   width-3 filter always fits.
// - Word embeddings 200, word BiLSTM 200 per direction (the paper's sizes, Ma & Hovy also used
//   200 per direction), encoder input 200 + 30 = 230.
// - Vocabulary, data loader (batches of 10) and trainer (SGD 0.01, momentum 0.9, lr / (1 + 0.05t),
//   gradient norm 5) come from biomtl.libsonnet; budget_ma_hovy.jsonnet uses the CPU budget
//   trainer instead.
local biomtl = import "../biomtl.libsonnet";

local sizes = {
  word_embedding_dim: 200,
  char_embedding_dim: 30,
  char_num_filters: 30,
  char_filter_width: 3,
  word_hidden_size: 200,  // per direction
  dropout: 0.5,
};

{
  dataset_reader: {
    type: "multitask_ner",
    datasets: ["NCBI-disease"],
    token_indexers: {
      tokens: { type: "single_id" },
      token_characters: {
        type: "characters",
        namespace: "token_characters",
        min_padding_length: sizes.char_filter_width,
      },
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
            type: "cnn",
            embedding_dim: sizes.char_embedding_dim,
            num_filters: sizes.char_num_filters,
            ngram_filter_sizes: [sizes.char_filter_width],
            conv_layer_activation: "tanh",
          },
        },
      },
    },
    encoder: {
      type: "lstm",
      input_size: sizes.word_embedding_dim + sizes.char_num_filters,
      hidden_size: sizes.word_hidden_size,
      bidirectional: true,
    },
  },
  trainer: biomtl.paper_trainer,
}
