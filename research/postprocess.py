"""
The dictionary variants' non-training steps (paper Table 4): the dictionary built from the
training mentions, and `MTM-CW+dict-postprocess`, which tags the test sentences with an MTM-CW
archive, labels dictionary matches among the words tagged `O` and scores exact span matches.
"""
import hashlib
import itertools
import logging
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.datasets import dataset_folder, label_namespace, split_file
from biomtl_allennlp.common.metric_keys import TEST_PREFIX, metric_key
from biomtl_allennlp.common.scoring import precision_recall_f1

# `{dataset: {entity type: [true positives, false positives, false negatives]}}`
Counts = Dict[str, Dict[str, List[int]]]


def build_dictionary(
    data_root: Path, datasets: Sequence[str], out: Path, max_sentences: Optional[int]
) -> str:
    """
    Builds the `term<TAB>type` dictionary from the training mentions of `datasets` (the first
    `max_sentences` sentences of each, as the models see them) and returns its SHA-1.
    """
    from biomtl_allennlp.data.crichton_tsv import read_sentences
    from biomtl_allennlp.dictionary import build_dictionary_from_corpus

    out.parent.mkdir(parents=True, exist_ok=True)
    # The corpora mix IOBES and BIO: go through the reader (BIOUL out) into one IOBES file.
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as tmp:
        for dataset in datasets:
            sentences = read_sentences(split_file(dataset_folder(dataset, str(data_root)), "train"))
            if max_sentences is not None:
                sentences = itertools.islice(sentences, max_sentences)
            for words, tags in sentences:
                for word, tag in zip(words, tags):
                    tag = {"L": "E", "U": "S"}.get(tag[0], tag[0]) + tag[1:]
                    tmp.write(f"{word}\t{tag}\n")
                tmp.write("\n")
    try:
        dictionary = build_dictionary_from_corpus([tmp.name], label_encoding="IOBES")
    finally:
        os.remove(tmp.name)
    dictionary.save(str(out))
    return hashlib.sha1(out.read_bytes()).hexdigest()


def span_counts(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, List[int]]:
    """`{type: [true positives, false positives, false negatives]}` of exact span matches."""
    from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans

    gold_spans = set(bioul_tags_to_spans(list(gold)))
    predicted_spans = set(bioul_tags_to_spans(list(predicted)))
    counts: Dict[str, List[int]] = {}
    for label, span in predicted_spans:
        counts.setdefault(label, [0, 0, 0])[0 if (label, span) in gold_spans else 1] += 1
    for label, span in gold_spans - predicted_spans:
        counts.setdefault(label, [0, 0, 0])[2] += 1
    return counts


def add_counts(counts: Dict[str, List[int]], more: Dict[str, List[int]]) -> None:
    """Adds `more` (`{type: [tp, fp, fn]}`) into `counts`."""
    for label, values in more.items():
        totals = counts.setdefault(label, [0, 0, 0])
        for i in range(3):
            totals[i] += values[i]


def metrics_from_counts(counts: Counts, prefix: str = TEST_PREFIX) -> Dict[str, float]:
    """`{dataset: {type: [tp, fp, fn]}}` -> `test_<dataset>_<measure>` and per-type keys."""
    metrics: Dict[str, float] = {}
    for dataset, per_type in counts.items():
        total = [sum(c[i] for c in per_type.values()) for i in range(3)]
        for entity_type, values in [(None, total)] + sorted(per_type.items()):
            scores = precision_recall_f1(*values)
            for measure in ("precision", "recall", "f1"):
                metrics[prefix + metric_key(dataset, measure, entity_type)] = scores[measure]
    return metrics


def evaluate_postprocessing(
    archive_path: Path,
    dictionary_path: Path,
    cuda_device: int = -1,
    batch_size: int = 64,
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """
    Tags every test sentence of the archive's datasets with the model (each sentence by its own
    dataset's head), applies dictionary post-processing restricted to the dataset's entity types,
    and scores exact span matches.

    # Returns

    `(metrics with post-processing, metrics without)`, keys `test_<dataset>_<measure>`.
    """
    from biomtl_allennlp.common.archives import load_archive_safely
    from biomtl_allennlp.dictionary import EntityDictionary, postprocess_tags

    # forward_on_instances warns that the batch loss cannot be split per instance.
    logging.getLogger("allennlp.models.model").setLevel(logging.ERROR)
    archive = load_archive_safely(str(archive_path), cuda_device=cuda_device)
    model = archive.model
    model.eval()
    reader = archive.validation_dataset_reader
    dictionary = EntityDictionary.from_file(str(dictionary_path))
    instances = list(reader.read("test"))
    # Entity types of each dataset: those of its label namespace.
    types: Dict[str, List[str]] = {}
    for dataset in model.datasets:
        labels = model.vocab.get_token_to_index_vocabulary(label_namespace(dataset))
        types[dataset] = sorted({label.split("-", 1)[1] for label in labels if label != "O"})
    with_pp: Counts = {}
    without_pp: Counts = {}
    for start in range(0, len(instances), batch_size):
        batch = instances[start : start + batch_size]
        outputs = model.forward_on_instances(batch)
        for instance, output in zip(batch, outputs):
            dataset = instance["metadata"]["dataset"]
            words = instance["metadata"]["words"]
            gold = list(instance["tags"].labels)
            predicted = output["tags"][dataset]
            processed = postprocess_tags(words, predicted, dictionary, types[dataset])
            for counts, tags in ((without_pp, predicted), (with_pp, processed)):
                per_type = counts.setdefault(dataset, {t: [0, 0, 0] for t in types[dataset]})
                add_counts(per_type, span_counts(gold, tags))
    return metrics_from_counts(with_pp), metrics_from_counts(without_pp)
