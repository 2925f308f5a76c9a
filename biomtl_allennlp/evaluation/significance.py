"""
Paired bootstrap significance of span F1 differences between two models over the same test
sentences (issue 11: MTM-CW vs STM per dataset, over seed pairs).

For each sentence of a dataset's split, `sentence_counts` counts exact-match entity spans:
true positives, false positives, false negatives (the counts allennlp's
`SpanBasedF1Measure` sums, so F1 from their sums is the `<dataset>_f1` of `allennlp
evaluate`). `paired_bootstrap` resamples sentences with replacement, the same sentences for
both models and for every seed pair, and recomputes the mean over seed pairs of F1(A) -
F1(B). The p-value is two-sided, with the resampled differences shifted to the null
(Berg-Kirkpatrick et al. 2012): the fraction of resamples whose difference is at least the
observed one away from it. Better than a t-test over 2-3 seeds: it uses the thousands of
test sentences, and pools the seed pairs.

`save_counts` / `load_counts` keep one model's per-sentence counts as a small JSON file
(with a fingerprint of the scored sentences and their gold tags), so a later test can pool
seeds whose model archives are gone: `allennlp significance` takes such files in place of
archives.
"""
import hashlib
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy

from biomtl_allennlp.common.archives import load_archive_safely
from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.tags import bioul_to_spans


def span_counts(predicted: List[str], gold: List[str]) -> List[int]:
    """`[tp, fp, fn]` of one sentence's BIOUL tags (exact span and type match)."""
    predicted_spans, gold_spans = set(bioul_to_spans(predicted)), set(bioul_to_spans(gold))
    true_positives = len(predicted_spans & gold_spans)
    return [true_positives, len(predicted_spans) - true_positives, len(gold_spans) - true_positives]


def sentence_counts(
    archive_file: str, dataset: str, split: str = "test", batch_size: int = 64, cuda_device: int = -1
) -> numpy.ndarray:
    """
    Per sentence of `dataset`'s `split`, in file order, the `[tp, fp, fn]` of the archived
    model's head for `dataset`. Shape: (num_sentences, 3).
    """
    return scored_sentences(archive_file, dataset, split, batch_size, cuda_device)[0]


def scored_sentences(
    archive_file: str, dataset: str, split: str = "test", batch_size: int = 64, cuda_device: int = -1
) -> Tuple[numpy.ndarray, str]:
    """
    `sentence_counts` and the fingerprint of the scored sentences (a SHA-1 over their tokens
    and gold tags, in order): two models' counts can be paired only when it is the same.
    """
    archive = load_archive_safely(archive_file, cuda_device=cuda_device)
    model, reader = archive.model, archive.dataset_reader
    if dataset not in model.datasets:
        raise InputFormatError(f"{archive_file}: the model has no head for {dataset!r}; its heads: {model.datasets}")
    reader.datasets = [dataset]
    instances = list(reader.read(split))
    model.eval()
    counts, fingerprint = [], hashlib.sha1()
    for start in range(0, len(instances), batch_size):
        batch = instances[start : start + batch_size]
        for instance, output in zip(batch, model.forward_on_instances(batch)):
            gold = list(instance["tags"].labels)
            counts.append(span_counts(output["tags"][dataset], gold))
            tokens = [token.text for token in instance["tokens"].tokens]
            fingerprint.update(json.dumps([tokens, gold]).encode("utf-8"))
    return numpy.array(counts, dtype=numpy.int64).reshape(-1, 3), fingerprint.hexdigest()


def save_counts(
    path: str, counts: numpy.ndarray, fingerprint: str, dataset: str, split: str, source: str
) -> None:
    """Write one model's per-sentence counts (see `load_counts`)."""
    record = {
        "source": source, "dataset": dataset, "split": split, "sentences": len(counts),
        "sentences_sha1": fingerprint, "f1": 100 * float(f1_of_sums(counts)),
        "counts_tp_fp_fn": counts.tolist(),
    }
    Path(path).write_text(json.dumps(record, separators=(",", ":")) + "\n", encoding="utf-8")


def load_counts(path: str, dataset: str, split: str) -> Tuple[numpy.ndarray, str]:
    """
    Counts written by `save_counts`, checked against the `dataset` and `split` asked for.
    Returns the counts, shape (num_sentences, 3), and the sentences' fingerprint.
    """
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        counts = numpy.array(record["counts_tp_fp_fn"], dtype=numpy.int64)
        found = (record["dataset"], record["split"], record["sentences"], record["sentences_sha1"])
    except (ValueError, KeyError, TypeError) as error:
        raise InputFormatError(f"{path}: not a per-sentence counts file of `allennlp significance` ({error})")
    if found[:2] != (dataset, split):
        raise InputFormatError(f"{path}: counts of {found[0]} {found[1]}, not of {dataset} {split}")
    if counts.ndim != 2 or counts.shape != (found[2], 3) or (counts < 0).any():
        raise InputFormatError(f"{path}: 'counts_tp_fp_fn' must be {found[2]} rows of 3 counts >= 0")
    return counts, found[3]


def f1_of_sums(counts: numpy.ndarray) -> numpy.ndarray:
    """F1 from `[tp, fp, fn]` summed over the second-last axis (0 where undefined)."""
    true_positives, false_positives, false_negatives = numpy.moveaxis(counts.sum(axis=-2), -1, 0)
    denominator = 2 * true_positives + false_positives + false_negatives
    return numpy.where(denominator > 0, 2 * true_positives / numpy.maximum(denominator, 1), 0.0)


def paired_bootstrap(
    counts_a: Sequence[numpy.ndarray], counts_b: Sequence[numpy.ndarray], samples: int = 10000,
    seed: int = 0, chunk: int = 200,
) -> Dict[str, object]:
    """
    `counts_a[k]` and `counts_b[k]`: `sentence_counts` of seed pair k, all over the same
    sentences. Returns per pair F1 (%) of A and B, the mean difference (points), its 95%
    bootstrap interval and the two-sided p-value.
    """
    # Shape: (num_pairs, num_sentences, 3)
    a, b = numpy.stack(counts_a), numpy.stack(counts_b)
    if a.shape != b.shape:
        raise InputFormatError(f"the models scored different sentences: {a.shape} vs {b.shape} counts")
    # Shape: (num_pairs,)
    f1_a, f1_b = f1_of_sums(a), f1_of_sums(b)
    observed = float(numpy.mean(f1_a - f1_b))
    generator = numpy.random.default_rng(seed)
    differences = []
    for start in range(0, samples, chunk):
        # Shape: (resamples, num_sentences): sentence indices drawn with replacement.
        indices = generator.integers(a.shape[1], size=(min(chunk, samples - start), a.shape[1]))
        # Shape: (num_pairs, resamples, num_sentences, 3) -> F1 (num_pairs, resamples)
        differences.append((f1_of_sums(a[:, indices]) - f1_of_sums(b[:, indices])).mean(axis=0))
    resampled = numpy.concatenate(differences)
    p_value = float(numpy.mean(numpy.abs(resampled - observed) >= abs(observed)))
    low, high = numpy.percentile(resampled, [2.5, 97.5])
    return {
        "f1_a": [100 * float(f1) for f1 in f1_a],
        "f1_b": [100 * float(f1) for f1 in f1_b],
        "difference": 100 * observed,
        "interval_95": [100 * float(low), 100 * float(high)],
        "p_value": p_value,
        "samples": samples,
    }
