// Shared pieces of every biomtl_allennlp config: the paper's settings (Wang et al. 2019).
// Each model variant (stm, mtm_c, mtm_w, mtm_cw) imports this file and overrides a little.
//
// Datasets are listed once, in the reader; the model builds one CRF head per dataset it
// finds in the vocabulary, so `-o '{"dataset_reader.datasets": ["BC2GM", "NCBI-disease"]}'`
// changes heads, metrics and the validation metric together.
// Data paths resolve against $BIOMTL_DATA_ROOT (or the reader's `data_root`).
{
  // The paper's five corpora (BC4CHEMD must be under the data root).
  paper_datasets: ["BC2GM", "BC4CHEMD", "BC5CDR", "NCBI-disease", "JNLPBA"],

  sizes: {
    word_embedding_dim: 200,
    char_embedding_dim: 30,
    char_hidden_size: 200,  // per direction
    word_hidden_size: 200,  // per direction
    dropout: 0.5,
  },

  reader(datasets, sizes=$.sizes):: {
    type: "multitask_ner",
    datasets: datasets,
    token_indexers: {
      tokens: { type: "single_id" },
      chars: { type: "char_stream" },
    },
  },

  // The model. `private_layers` names what each dataset gets its own copy of: token
  // embedder keys ("chars") go to `private_token_embedders`, "encoder" makes the word
  // BiLSTM a `private_encoder`; the rest is shared.
  //   MTM-CW / STM: []   MTM-C: ["encoder"]   MTM-W: ["chars"]
  model(private_layers, sizes=$.sizes)::
    local token_embedders = {
      tokens: {
        type: "word2vec",
        embedding_dim: sizes.word_embedding_dim,
        // "pretrained_file": "/path/to/wikipedia-pubmed-and-PMC-w2v.bin" (also set it in
        // vocabulary.pretrained_files.tokens so rare pretrained words keep their vector)
      },
      chars: {
        type: "char_stream",
        embedding_dim: sizes.char_embedding_dim,
        hidden_size: sizes.char_hidden_size,
        dropout: sizes.dropout,
      },
    };
    // A BiLSTM that runs unpacked (same outputs as allennlp's "lstm", several times
    // faster on CPU).
    local encoder = {
      type: "padded_bilstm",
      input_size: sizes.word_embedding_dim + 2 * sizes.char_hidden_size,
      hidden_size: sizes.word_hidden_size,
    };
    local private_embedders = [key for key in private_layers if key != "encoder"];
    local unknown = [key for key in private_embedders if !std.objectHas(token_embedders, key)];
    assert std.length(unknown) == 0 :
      "private_layers: unknown layers " + std.toString(unknown) + "; expected 'encoder' or one of " + std.toString(std.objectFields(token_embedders));
    {
      type: "multitask_crf_tagger",
      dropout: sizes.dropout,
      text_field_embedder: {
        token_embedders: {
          [key]: token_embedders[key]
          for key in std.objectFields(token_embedders)
          if !std.member(private_embedders, key)
        },
      },
      [if std.length(private_embedders) > 0 then "private_token_embedders"]: {
        [key]: token_embedders[key] for key in private_embedders
      },
      [if std.member(private_layers, "encoder") then "private_encoder" else "encoder"]: encoder,
    },

  // Words seen fewer than 5 times map to UNK unless they have a pretrained vector.
  vocabulary: {
    type: "from_instances_word2vec",
    min_count: { tokens: 5 },
  },
  // The vocabulary is counted over the training data only (allennlp's default counts the
  // validation and test splits too). Runs before 2026-12-04 22:45 UTC used that default;
  // the converged lanes keep it (`"datasets_for_vocab_creation": null`) so that their runs
  // stay comparable with one another.
  vocab_datasets: ["train"],

  // Batches of 10 sentences of similar length (mixed datasets; see the README).
  data_loader(batch_size=10):: {
    batch_sampler: { type: "bucket", batch_size: batch_size, sorting_keys: ["tokens"] },
  },

  // The paper: SGD lr 0.01, momentum 0.9, lr / (1 + 0.05 t), gradient norm clipped at 5.
  paper_trainer: {
    optimizer: { type: "sgd", lr: 0.01, momentum: 0.9 },
    learning_rate_scheduler: { type: "inverse_time_decay", decay_rate: 0.05 },
    grad_norm: 5.0,
    num_epochs: 100,
    patience: 10,
    validation_metric: "+macro_f1",
    cuda_device: -1,  // -o '{"trainer.cuda_device": 0}' trains on the first GPU
  },

  // A budget for CPU runs: Adam converges in a few epochs where SGD needs hundreds.
  budget_trainer: $.paper_trainer {
    optimizer: { type: "adam", lr: 0.002 },
    learning_rate_scheduler: { type: "inverse_time_decay", decay_rate: 0.05 },
    num_epochs: 5,
    patience: null,
  },

  // Large batches (for GPUs): the budget recipe (Adam 2e-3 at 32 sentences a batch) with the
  // learning rate scaled by the square root of the batch growth, lr = 2e-3 * sqrt(batch / 32)
  // (256: 5.66e-3), trained to convergence (early stopping on devel, patience 5, at most 50
  // epochs). Its validation against batch 32 (issue 12: converged devel F1 within 0.3 points)
  // is the run mtm_cw_b256_s1 of research/converged/lane_b.plan.
  large_batch_trainer(batch_size):: $.budget_trainer {
    optimizer+: { lr: 0.002 * std.sqrt(batch_size / 32) },
    num_epochs: 50,
    patience: 5,
  },

  // Multi-GPU training with allennlp's distributed trainer: one worker per device in
  // `cuda_devices` ([0, 1, ...] for GPUs; [-1, -1] runs two CPU workers over gloo). Each
  // worker trains on its share of the batches, so the batch per optimizer step is
  // batch_size x the number of workers; span metrics are summed over the workers.
  // `find_unused_parameters`: a batch without some corpus leaves that head's parameters
  // without a gradient, which DDP must be told to expect.
  distributed(cuda_devices):: {
    distributed: {
      cuda_devices: cuda_devices,
      ddp_accelerator: { type: "torch", find_unused_parameters: true },
    },
  },

  // On a GPU: the CRF as a tree of matrix products (`crf_algorithm: "scan"`: log2 of the
  // sentence length in steps instead of one kernel launch per token) and mixed precision
  // (`use_amp`; the CRF itself stays float32). The same model and results up to rounding;
  // its speed is what benchmarks/gpu.py measures on a GPU (not yet run on one).
  // `num_workers` > 0: data loading in worker processes, which with `max_instances_in_memory`
  // read, index and tensorize every epoch's batches, so the training process only unpickles
  // them and moves them to the GPU. Measured on 2 CPU cores (benchmarks/data_loading.py,
  // docs/performance.md): in the training process an epoch of the four corpora costs 1.3 s
  // (30,000 sentences/s); handing a batch over from a worker costs about 1 ms, so workers
  // save training-process time only from about 30 sentences per batch (at 64: 0.55x), hence
  // the default 0. The bound is above any training set here, so each worker batches its
  // whole share at once and batches still mix the corpora as in memory; the order in which
  // the workers' batches arrive is not fixed, so such runs are not bit-reproducible.
  gpu(cuda_device=0, num_workers=0):: {
    model+: { crf_algorithm: "scan" },
    trainer+: { cuda_device: cuda_device, use_amp: true },
    [if num_workers > 0 then "data_loader"]+: { num_workers: num_workers, max_instances_in_memory: 1000000 },
  },

  config(datasets, private_layers, trainer=$.paper_trainer, batch_size=10):: {
    dataset_reader: $.reader(datasets),
    train_data_path: "train",  // "train+devel" trains on both, as the paper's code did
    validation_data_path: "devel",
    test_data_path: "test",
    evaluate_on_test: false,
    vocabulary: $.vocabulary,
    datasets_for_vocab_creation: $.vocab_datasets,
    data_loader: $.data_loader(batch_size),
    model: $.model(private_layers),
    trainer: trainer,
  },
}
