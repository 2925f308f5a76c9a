import itertools
from typing import Dict, Iterator, List, Optional, Tuple, Union

from allennlp.data.dataset_readers.dataset_reader import DatasetReader
from allennlp.data.fields import MetadataField, SequenceLabelField, TextField
from allennlp.data.instance import Instance
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer
from allennlp.data.tokenizers import Token

from biomtl_allennlp.common.datasets import (
    SPLITS,
    dataset_folder,
    dataset_name,
    label_namespace,
    resolve_data_root,
    split_file,
)
from biomtl_allennlp.common.tags import ENCODINGS
from biomtl_allennlp.data.crichton_tsv import read_sentences


@DatasetReader.register("multitask_ner")
class MultiTaskNerDatasetReader(DatasetReader):
    """
    Reads several token-level NER corpora in the Crichton et al. format (`token<TAB>label`
    per line, a blank line between sentences, `-DOCSTART-` lines skipped), in IOBES or BIO,
    and tags every instance with its dataset.

    Labels are converted to BIOUL and stored in the dataset's own vocabulary namespace
    (`"<dataset>_labels"`), so each CRF head only ever scores its own dataset's tags. The
    list of datasets is given once, here; the model builds one head per label namespace it
    finds in the vocabulary, so overriding `dataset_reader.datasets` changes the heads too.

    The `file_path` given to `read()` names a split rather than a file: `"train"`,
    `"devel"`, `"test"`, or several joined by `+` (`"train+devel"` trains on both, as the
    paper's code did). Each dataset's file for a split is `<folder>/<split>.tsv`.
    A real file path (or URL) is accepted too when the reader has exactly one dataset.
    Files are read by `biomtl_allennlp.data.crichton_tsv.read_sentences`: a bad line raises
    `InputFormatError` naming the file and line.

    Sharding (data-loader worker processes, `"num_workers"`, and distributed training) is
    done here, on the stream of sentences of all the files in order, before any `Instance`
    is built: worker / rank `i` of `n` keeps sentences `i, i + n, ...`, the same partition
    allennlp's automatic sharding makes of the instances, without every worker building
    all of them first.

    Fields: `tokens` (`TextField`), `tags` (`SequenceLabelField`, when labelled) and
    `metadata` (`{"words": [...], "dataset": name}`), so allennlp-models' `crf_tagger` can
    read single-dataset instances as well.

    Registered as a `DatasetReader` with name "multitask_ner".

    # Parameters

    datasets : `List[str]`
        Built-in names (`BC2GM`, `BC4CHEMD`, `BC5CDR`, `NCBI-disease`, `JNLPBA`), folders
        under the data root, or paths/URLs of folders holding `train.tsv`, `devel.tsv`,
        `test.tsv`. The dataset's name (namespace, head, metric prefix) is the entry, or
        the last component of a path.
    data_root : `str`, optional
        Folder or URL against which names resolve. Defaults to `$BIOMTL_DATA_ROOT`; with
        neither, reading a dataset given by name raises an error that says so (nothing is
        downloaded unless a path or root given here is a URL).
    label_encoding : `str`, optional (default = `"auto"`)
        `"IOBES"`, `"BIO"`, or `"auto"` to detect it per file (IOBES if any `E-`/`S-` tag).
    token_indexers : `Dict[str, TokenIndexer]`, optional
        Defaults to `{"tokens": SingleIdTokenIndexer()}`.
    max_instances_per_dataset : `int` or `Dict[str, int]`, optional
        Read at most this many sentences of each dataset per split (for quick runs), or a
        cap per split name, e.g. `{"train": 2000}` to cap training data only.
    max_sentence_tokens : `int`, optional (default = `1000`)
        A sentence with more tokens stops reading with an error naming its file and first
        line (memory in training grows with the longest sentence of a batch: 10,000 tokens
        took 6.8 GB); `null` for no limit. The longest sentence of the 12 corpora of
        Crichton et al. has 426 tokens (CRAFT). Raw text at prediction time is cut into
        windows instead (the predictor's `max_sentence_tokens`).
    """

    def __init__(
        self,
        datasets: List[str],
        data_root: Optional[str] = None,
        label_encoding: str = "auto",
        token_indexers: Optional[Dict[str, TokenIndexer]] = None,
        max_instances_per_dataset: Optional[Union[int, Dict[str, int]]] = None,
        max_sentence_tokens: Optional[int] = 1000,
        **kwargs,
    ) -> None:
        super().__init__(
            manual_distributed_sharding=True, manual_multiprocess_sharding=True, **kwargs
        )
        if not datasets:
            raise ValueError("multitask_ner: 'datasets' must name at least one dataset")
        if label_encoding not in ("auto",) + ENCODINGS:
            raise ValueError(
                f"multitask_ner: label_encoding must be 'auto', 'IOBES' or 'BIO', "
                f"not {label_encoding!r}"
            )
        names = [dataset_name(entry) for entry in datasets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"multitask_ner: dataset names must be unique: {duplicates}")
        self.datasets = list(datasets)
        self.data_root = resolve_data_root(data_root)
        self.label_encoding = label_encoding
        self._token_indexers = token_indexers or {"tokens": SingleIdTokenIndexer()}
        self.max_instances_per_dataset = max_instances_per_dataset
        if max_sentence_tokens is not None and (
            not isinstance(max_sentence_tokens, int) or max_sentence_tokens < 1
        ):
            raise ValueError(
                f"multitask_ner: max_sentence_tokens must be a positive integer or null, "
                f"got {max_sentence_tokens!r}"
            )
        self.max_sentence_tokens = max_sentence_tokens

    def _files(self, file_path: str) -> List[Tuple[str, Optional[str], str]]:
        """(dataset name, split, file) triples to read for `file_path`."""
        splits = file_path.split("+")
        if all(split in SPLITS for split in splits):
            return [
                (
                    dataset_name(entry),
                    split,
                    split_file(dataset_folder(entry, self.data_root), split),
                )
                for entry in self.datasets
                for split in splits
            ]
        if len(self.datasets) != 1:
            raise ValueError(
                f"multitask_ner: {file_path!r} is not a split name ({'/'.join(SPLITS)}, or "
                f"several joined by '+'); a file path is only accepted when the reader has "
                f"one dataset, it has {len(self.datasets)}"
            )
        return [(dataset_name(self.datasets[0]), None, file_path)]

    def _cap(self, split: Optional[str]) -> Optional[int]:
        cap = self.max_instances_per_dataset
        if isinstance(cap, dict):
            return cap.get(split) if split is not None else None
        return cap

    def _sentences(self, file_path: str) -> Iterator[Tuple[str, List[str], List[str]]]:
        """(dataset name, words, BIOUL tags) of every sentence of `file_path`'s files."""
        for name, split, path in self._files(file_path):
            sentences = read_sentences(path, self.label_encoding, self.max_sentence_tokens)
            cap = self._cap(split)
            if cap is not None:
                sentences = itertools.islice(sentences, cap)
            for words, tags in sentences:
                yield name, words, tags

    def _read(self, file_path: str) -> Iterator[Instance]:
        for name, words, tags in self.shard_iterable(self._sentences(file_path)):
            yield self.text_to_instance(words, tags, dataset=name)

    def text_to_instance(  # type: ignore
        self, words: List[str], tags: Optional[List[str]] = None, dataset: Optional[str] = None
    ) -> Instance:
        """
        `tags` are BIOUL tags (as `read_sentences` returns them); `dataset` is required
        with tags. Without tags the instance can be tagged by every head of a model.
        """
        # In a data-loader worker the indexers are left to `apply_token_indexers`, in the
        # training process (allennlp does not pickle instances with indexers).
        in_worker = self.get_worker_info() is not None
        tokens = TextField([Token(word) for word in words], None if in_worker else self._token_indexers)
        fields = {
            "tokens": tokens,
            "metadata": MetadataField({"words": words, "dataset": dataset}),
        }
        if tags is not None:
            if dataset is None:
                raise ValueError("text_to_instance: labelled instances need a dataset name")
            fields["tags"] = SequenceLabelField(tags, tokens, label_namespace(dataset))
        return Instance(fields)

    def apply_token_indexers(self, instance: Instance) -> None:
        instance.fields["tokens"]._token_indexers = self._token_indexers  # type: ignore
