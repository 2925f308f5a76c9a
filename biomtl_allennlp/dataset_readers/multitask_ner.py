import itertools
import logging
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from allennlp.common.file_utils import cached_path
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
from biomtl_allennlp.common.tags import (
    ENCODINGS,
    detect_encoding,
    spans_to_bioul,
    split_tag,
    tags_to_spans,
)

logger = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"


class DataFormatError(ValueError):
    """Bad input in a corpus file; the message names the file and line."""


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
        Folder or URL against which names resolve. Defaults to `$BIOMTL_DATA_ROOT`, else
        the public repository's `data/` folder (downloaded through `cached_path`).
    label_encoding : `str`, optional (default = `"auto"`)
        `"IOBES"`, `"BIO"`, or `"auto"` to detect it per file (IOBES if any `E-`/`S-` tag).
    token_indexers : `Dict[str, TokenIndexer]`, optional
        Defaults to `{"tokens": SingleIdTokenIndexer()}`.
    max_instances_per_dataset : `int` or `Dict[str, int]`, optional
        Read at most this many sentences of each dataset per split (for quick runs), or a
        cap per split name, e.g. `{"train": 2000}` to cap training data only.
    """

    def __init__(
        self,
        datasets: List[str],
        data_root: Optional[str] = None,
        label_encoding: str = "auto",
        token_indexers: Optional[Dict[str, TokenIndexer]] = None,
        max_instances_per_dataset: Optional[Union[int, Dict[str, int]]] = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
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

    def _read(self, file_path: str) -> Iterator[Instance]:
        for name, split, path in self._files(file_path):
            sentences = read_sentences(path, self.label_encoding)
            cap = self._cap(split)
            if cap is not None:
                sentences = itertools.islice(sentences, cap)
            for words, tags in sentences:
                yield self.text_to_instance(words, tags, dataset=name)

    def text_to_instance(  # type: ignore
        self, words: List[str], tags: Optional[List[str]] = None, dataset: Optional[str] = None
    ) -> Instance:
        """
        `tags` are BIOUL tags (as `read_sentences` returns them); `dataset` is required
        with tags. Without tags the instance can be tagged by every head of a model.
        """
        tokens = TextField([Token(word) for word in words], self._token_indexers)
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


def _open_lines(path: str) -> Iterable[str]:
    try:
        local = cached_path(path)
    except FileNotFoundError:
        raise DataFormatError(f"{path}: file not found") from None
    except Exception as error:  # network errors, HTTP 404, ...
        raise DataFormatError(f"{path}: cannot be read ({error})") from error
    with open(local, encoding="utf-8") as handle:
        yield from handle


def read_sentences(
    path: str, label_encoding: str = "auto"
) -> Iterator[Tuple[List[str], List[str]]]:
    """
    Yields `(words, bioul_tags)` for each sentence of a Crichton-format file.

    Raises `DataFormatError` naming the file and line for a line that is not
    `token<TAB>label`, an unknown tag prefix, an empty or missing file. Tag sequences that
    break the scheme are repaired (see `biomtl_allennlp.common.tags`) and the number of
    repairs is logged as a warning.
    """
    if label_encoding not in ("auto",) + ENCODINGS:
        raise ValueError(f"unknown label encoding {label_encoding!r} (auto, IOBES or BIO)")
    raw = _raw_sentences(path)
    if label_encoding == "auto":
        # Detection needs the whole file's tags; files are small enough to hold.
        raw_list = list(raw)
        label_encoding = detect_encoding([tag for _, _, tags in raw_list for tag in tags])
        raw = iter(raw_list)
    repairs = 0
    sentences = 0
    for first_line, words, tags in raw:
        try:
            spans, repaired = tags_to_spans(tags, label_encoding)
        except ValueError as error:
            # Find the offending line for the message.
            for offset, tag in enumerate(tags):
                try:
                    tags_to_spans([tag], label_encoding)
                except ValueError:
                    raise DataFormatError(f"{path}:{first_line + offset}: {error}") from None
            raise DataFormatError(f"{path}:{first_line}: {error}") from None
        if repaired:
            repairs += repaired
            logger.debug("%s:%d: repaired %d tag(s)", path, first_line, repaired)
        sentences += 1
        yield words, spans_to_bioul(spans, len(words))
    if repairs:
        logger.warning(
            "%s: %d %s tag sequence(s) did not follow the scheme and were repaired by the "
            "conlleval rule (a continuation without a start begins a new entity; an "
            "unclosed entity ends at the next tag); the entity count is that of conlleval",
            path,
            repairs,
            label_encoding,
        )


def _raw_sentences(path: str) -> Iterator[Tuple[int, List[str], List[str]]]:
    """Yields `(first line number, words, raw tags)` per sentence."""
    words: List[str] = []
    tags: List[str] = []
    first_line = 0
    any_sentence = False
    for line_number, line in enumerate(_open_lines(path), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if words:
                any_sentence = True
                yield first_line, words, tags
                words, tags = [], []
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataFormatError(
                f"{path}:{line_number}: expected 'token<TAB>label', found {len(fields)} "
                f"tab-separated field(s): {line[:80]!r}"
            )
        word, tag = fields
        if word == DOCSTART:
            continue
        if not word or word != word.strip():
            raise DataFormatError(
                f"{path}:{line_number}: empty token or token with surrounding whitespace: "
                f"{word!r}"
            )
        try:
            split_tag(tag)
        except ValueError as error:
            raise DataFormatError(f"{path}:{line_number}: {error}") from None
        if not words:
            first_line = line_number
        words.append(word)
        tags.append(tag)
    if words:
        any_sentence = True
        yield first_line, words, tags
    if not any_sentence:
        raise DataFormatError(f"{path}: no sentences (empty file)")
