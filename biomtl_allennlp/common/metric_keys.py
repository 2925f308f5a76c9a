"""
The names of the model's metrics, written and read in one place.

`multitask_crf_tagger` reports, per dataset head, `<dataset>_<measure>` (exact span match
over all types) and, at the end of an epoch or in `allennlp evaluate`,
`<dataset>_<type>_<measure>` per entity type, with `measure` one of `MEASURES`, plus
`macro_f1`. `allennlp train` writes the same keys with `training_`, `validation_`,
`best_validation_` and `test_` prefixes.

Reading keys back needs no list of datasets: a dataset is a prefix whose three overall
keys (`<dataset>_precision`, `_recall`, `_f1`) are all present and which does not extend
another such prefix (`JNLPBA_cell_line_f1` is JNLPBA's type `cell_line`, because
`JNLPBA_f1` exists). Entity types may contain underscores; dataset names should not
begin with another dataset's name followed by `_`.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional

MEASURES = ("precision", "recall", "f1")
MACRO_F1 = "macro_f1"
# Prefixes `allennlp train` adds; only `test_` keys (and unprefixed ones) are results.
TEST_PREFIX = "test_"
IGNORED_PREFIXES = ("best_validation_", "validation_", "training_")


class MetricKey(NamedTuple):
    dataset: str
    entity_type: Optional[str]  # None: all types of the dataset
    measure: str


def metric_key(dataset: str, measure: str, entity_type: Optional[str] = None) -> str:
    """`<dataset>_<measure>` or `<dataset>_<type>_<measure>`."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {MEASURES}")
    return f"{dataset}_{measure}" if entity_type is None else f"{dataset}_{entity_type}_{measure}"


def _strip(key: str) -> Optional[str]:
    if key.startswith(IGNORED_PREFIXES):
        return None
    return key[len(TEST_PREFIX) :] if key.startswith(TEST_PREFIX) else key


def datasets_in(keys: Iterable[str]) -> List[str]:
    """The datasets that `keys` (unprefixed or `test_` keys) report, in first-seen order."""
    stripped = [key for key in (_strip(key) for key in keys) if key is not None]
    present = set(stripped)
    candidates: List[str] = []
    for key in stripped:
        if key.endswith("_f1"):
            prefix = key[: -len("_f1")]
            if prefix and all(f"{prefix}_{m}" in present for m in MEASURES):
                if prefix not in candidates:
                    candidates.append(prefix)
    return [
        name
        for name in candidates
        if not any(other != name and name.startswith(other + "_") for other in candidates)
    ]


def parse_metric_keys(keys: Iterable[str]) -> Dict[str, MetricKey]:
    """
    `{key: MetricKey}` for every per-dataset key among `keys` (other keys, such as
    `macro_f1`, `loss`, `validation_*`, are left out). `test_` keys keep their prefix in
    the returned mapping's keys.
    """
    keys = list(keys)
    datasets = sorted(datasets_in(keys), key=len, reverse=True)
    parsed: Dict[str, MetricKey] = {}
    for key in keys:
        rest = _strip(key)
        if rest is None:
            continue
        for dataset in datasets:
            if not rest.startswith(dataset + "_"):
                continue
            tail = rest[len(dataset) + 1 :]
            for measure in MEASURES:
                if tail == measure:
                    parsed[key] = MetricKey(dataset, None, measure)
                elif tail.endswith("_" + measure) and len(tail) > len(measure) + 1:
                    parsed[key] = MetricKey(dataset, tail[: -len(measure) - 1], measure)
            break
    return parsed
