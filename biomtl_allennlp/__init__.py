"""
biomtl_allennlp: cross-type biomedical NER with deep multi-task learning (Wang et al. 2019)
as an AllenNLP plugin.

Importing the package registers every component, so both `--include-package
biomtl_allennlp` and a `.allennlp_plugins` file work.
"""
from biomtl_allennlp.common.archives import install_default_tar_filter
from biomtl_allennlp.data.token_indexers.char_stream_indexer import CharStreamIndexer
from biomtl_allennlp.data.vocabularies.word2vec_vocabulary import Word2VecVocabulary
from biomtl_allennlp.dataset_readers.multitask_ner import MultiTaskNerDatasetReader
from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger
from biomtl_allennlp.modules.seq2seq_encoders.padded_bilstm import PaddedBiLstm
from biomtl_allennlp.modules.token_embedders.char_stream_embedder import CharStreamEmbedder
from biomtl_allennlp.modules.token_embedders.word2vec_embedding import Word2VecEmbedding
from biomtl_allennlp.training.learning_rate_schedulers.inverse_time_decay import InverseTimeDecay
from biomtl_allennlp.data.token_indexers.dictionary_features_indexer import (
    DictionaryFeaturesIndexer,
)
from biomtl_allennlp.data.tokenizers import BiomedicalSentenceSplitter, BiomedicalTokenizer
from biomtl_allennlp.modules.token_embedders.dictionary_features_embedder import (
    DictionaryFeaturesEmbedder,
)
from biomtl_allennlp.predictors.biomedical_entities import BiomedicalEntitiesPredictor
from biomtl_allennlp.commands.bc2gm_eval import Bc2gmEval
from biomtl_allennlp.commands.dictionary import Dictionary
from biomtl_allennlp.commands.pubtator_eval import PubtatorEval
from biomtl_allennlp.commands.corpus_eval import CorpusEval
from biomtl_allennlp.commands.visualize import Visualize
from biomtl_allennlp.training.metrics.distributed_span_f1 import DistributedSpanBasedF1Measure
from biomtl_allennlp.commands.tables import Tables
from biomtl_allennlp.commands.export_tagger import ExportTagger
from biomtl_allennlp.commands.significance import Significance
from biomtl_allennlp.data.samplers.dataset_bucket_batch_sampler import DatasetBucketBatchSampler
from biomtl_allennlp.pretrained import load_tagger
from biomtl_allennlp.commands.tag_corpus import TagCorpus
from biomtl_allennlp.commands.tag_file import TagFile

# allennlp's own `load_archive` (`allennlp predict`, `allennlp evaluate`, ...) unpacks with
# tarfile's "data" filter from here on (see `biomtl_allennlp.common.archives`).
install_default_tar_filter()
