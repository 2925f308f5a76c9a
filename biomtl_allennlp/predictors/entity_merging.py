"""
Merging the entities that the heads of a multi-task model find in one document: mapping
each dataset's entity types to common types, merging identical mentions, and resolving
overlapping ones, on `Entity` objects (`biomtl_allennlp.documents.entity`). Used by the
`biomedical_entities` predictor, the visualiser and `biomtl_allennlp.evaluation.pubtator_eval`;
registers nothing.
"""
import bisect
import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from biomtl_allennlp.documents.entity import Entity

# Dataset entity type (matched case-insensitively) -> common type. Types not listed are
# kept as they are.
#
# DNA and RNA (JNLPBA) stay types of their own: JNLPBA's DNA and RNA classes also cover
# promoters, enhancers, binding sites and transcripts ("IL-2 promoter", "kappa B site",
# "c-fos mRNA"), which are not gene/protein mentions in the BC2GM sense. Map them to
# "Gene/Protein" with `type_map={"DNA": "Gene/Protein", "RNA": "Gene/Protein"}` if wanted.
DEFAULT_TYPE_MAP: Dict[str, str] = {
    # BC2GM, JNLPBA, other gene corpora
    "gene": "Gene/Protein",
    "protein": "Gene/Protein",
    "gene/protein": "Gene/Protein",
    "gene_or_gene_product": "Gene/Protein",
    "geneorgeneproduct": "Gene/Protein",
    "dna": "DNA",
    "rna": "RNA",
    # BC4CHEMD, BC5CDR
    "chemical": "Chemical",
    "chemicalentity": "Chemical",
    # BC5CDR, NCBI-disease (its PubTator files use the four fine-grained classes)
    "disease": "Disease",
    "specificdisease": "Disease",
    "diseaseclass": "Disease",
    "modifier": "Disease",
    "compositemention": "Disease",
    "diseaseorphenotypicfeature": "Disease",
    # JNLPBA
    "cell_line": "CellLine",
    "cellline": "CellLine",
    "cell_type": "CellType",
    "celltype": "CellType",
    # The other corpora of Crichton et al.: BioNLP13PC's Simple_chemical (its
    # Gene_or_gene_product is above), CRAFT's ontology-named classes (GGP: genes and gene
    # products, CHEBI: chemicals, CL: cell types of the Cell Ontology, Taxon: organisms);
    # their other types (Anatomy, Organism, Complex, Cellular_component, GO, SO, ...) are
    # kept as they are.
    "simple_chemical": "Chemical",
    "chebi": "Chemical",
    "ggp": "Gene/Protein",
    "cl": "CellType",
    "taxon": "Organism",
}

OVERLAP_POLICIES = ("keep_all", "longest", "highest_score")
OVERLAP_SCOPES = ("type", "all")
MERGE_RULES = ("consensus", "union")

# The consensus rule's minimum votes per common type (see `consensus_merge`), chosen on the
# leave-corpora-out protocol of docs/new_text.md; `"*"` is every other type.
DEFAULT_MIN_VOTES: Dict[str, float] = {"*": 0.0, "Chemical": 1.2, "Gene/Protein": 0.6}
# The consensus rule's add-k prior for a span several types claim, and the score a second
# type needs to stay on a span beside the first where no head tells the two apart; chosen
# there too.
DEFAULT_SPAN_TYPE_PRIOR = 4.0
DEFAULT_COEXIST_SCORE = 0.0


class TypeMapper:
    """
    Maps dataset entity types to common types: `DEFAULT_TYPE_MAP` updated with `type_map`
    (keys matched case-insensitively); unknown types are returned unchanged.

    # Parameters

    type_map : `Mapping[str, str]`, optional (default = `None`)
        Entries added to (or overriding) the default table.
    use_defaults : `bool`, optional (default = `True`)
        Start from `DEFAULT_TYPE_MAP` (`False`: only `type_map`).
    """

    def __init__(self, type_map: Optional[Mapping[str, str]] = None, use_defaults: bool = True):
        if type_map is not None and not isinstance(type_map, Mapping):
            raise ValueError(f"type_map must be a JSON object of strings, got {type_map!r}")
        table = dict(DEFAULT_TYPE_MAP) if use_defaults else {}
        for key, value in (type_map or {}).items():
            if not isinstance(key, str) or not isinstance(value, str) or not value:
                raise ValueError(
                    f"type_map entries must map a type name to a non-empty type name, "
                    f"got {key!r}: {value!r}"
                )
            table[key.lower()] = value
        self.table = table

    def __call__(self, entity_type: str) -> str:
        return self.table.get(entity_type.lower(), entity_type)


class _DisjointSpans:
    """
    A set of pairwise non-overlapping character spans, sorted by start (so also by end):
    whether a new span overlaps one of them is a binary search.
    """

    def __init__(self) -> None:
        self._starts: List[int] = []
        self._ends: List[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        # The kept span with the largest start before `end` has the largest end of those
        # starting before `end`: it overlaps [start, end) iff any of them does.
        index = bisect.bisect_left(self._starts, end)
        return index > 0 and self._ends[index - 1] > start

    def add(self, start: int, end: int) -> None:
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)


def greedy_disjoint(entities: Iterable[Entity], rank: Callable[[Entity], Any]) -> List[Entity]:
    """
    Keeps entities in the order of `rank` (smallest first), each one unless it overlaps an
    entity already kept.

    The entities are first cut into clusters of transitively overlapping spans by one sweep
    in start order; an entity can only be blocked by one of its own cluster, so the greedy
    pass runs per cluster, over a `_DisjointSpans` of that cluster. Time: the sorts, O(n log
    n), plus per cluster of size c at most c list insertions into c places, O(c^2) element
    moves (memmove) in the worst case; clusters in text are a few entities wide (one
    mention and its competing readings), so tagging time stays linear in the text.
    """
    by_start = sorted(entities, key=lambda e: (e.start, e.end))
    kept: List[Entity] = []
    first, cluster_end = 0, None
    for index, entity in enumerate(by_start + [None]):
        if entity is None or (cluster_end is not None and entity.start >= cluster_end):
            spans = _DisjointSpans()
            for candidate in sorted(by_start[first:index], key=rank):
                if not spans.overlaps(candidate.start, candidate.end):
                    spans.add(candidate.start, candidate.end)
                    kept.append(candidate)
            first, cluster_end = index, None
        if entity is not None:
            cluster_end = entity.end if cluster_end is None else max(cluster_end, entity.end)
    return kept


def merge_identical(entities: Iterable[Entity]) -> List[Entity]:
    """
    Merges entities with the same `start`, `end` and `type`: the result has the maximum
    `score`, `dataset` of the best-scoring one and `datasets`, the sorted union of the
    merged entities' `datasets` (or `dataset`). Returned sorted by `(start, end, type)`.
    """
    merged: Dict[Tuple[int, int, str], Entity] = {}
    for entity in entities:
        key = (entity.start, entity.end, entity.type)
        datasets = set(entity.datasets or [entity.dataset])
        current = merged.get(key)
        if current is None:
            merged[key] = dataclasses.replace(entity, datasets=tuple(sorted(datasets)))
            continue
        union = tuple(sorted(set(current.datasets) | datasets))
        best = entity if entity.score > current.score else current
        merged[key] = dataclasses.replace(best, datasets=union)
    return [merged[key] for key in sorted(merged)]


def resolve_overlaps(
    entities: List[Entity],
    policy: str = "highest_score",
    scope: str = "type",
    support: Optional[Callable[[Entity], float]] = None,
) -> List[Entity]:
    """
    Removes overlapping entities according to `policy`:

    - `"keep_all"`: nothing is removed;
    - `"longest"`: greedily keep the longest entity (ties: higher score, then earlier),
      dropping those that overlap an entity already kept;
    - `"highest_score"`: the same, by score first (ties: longer, then earlier).

    With `scope="type"` only entities of the same type compete; with `"all"` every pair of
    overlapping entities does. `support` (optional) ranks before the score (the consensus
    merge's support). Returned sorted by `(start, end, type)`; time as `greedy_disjoint`.
    """
    if policy not in OVERLAP_POLICIES:
        raise ValueError(f"overlap_policy must be one of {OVERLAP_POLICIES}, got {policy!r}")
    if scope not in OVERLAP_SCOPES:
        raise ValueError(f"overlap_scope must be one of {OVERLAP_SCOPES}, got {scope!r}")
    if policy == "keep_all":
        kept = list(entities)
    else:
        groups: Dict[Optional[str], List[Entity]] = {}
        for entity in entities:
            groups.setdefault(entity.type if scope == "type" else None, []).append(entity)

        def rank(entity: Entity):
            length = entity.end - entity.start
            first = -support(entity) if support is not None else 0.0
            if policy == "longest":
                return (-length, first, -entity.score, entity.start, entity.type)
            return (first, -entity.score, -length, entity.start, entity.type)

        kept = [entity for group in groups.values() for entity in greedy_disjoint(group, rank)]
    return sorted(kept, key=lambda e: (e.start, e.end, e.type))


def merge_entities(
    entities: Iterable[Entity],
    type_mapper: Optional[TypeMapper] = None,
    overlap_policy: str = "highest_score",
    overlap_scope: str = "type",
) -> List[Entity]:
    """
    Maps each entity's `type` through `type_mapper` (when given), merges identical mentions
    (`merge_identical`) and resolves overlaps (`resolve_overlaps`).
    """
    if type_mapper is not None:
        entities = [dataclasses.replace(entity, type=type_mapper(entity.type)) for entity in entities]
    return resolve_overlaps(merge_identical(entities), overlap_policy, overlap_scope)


def heads_per_type(
    types_of_head: Mapping[str, Iterable[str]], type_mapper: Optional[TypeMapper] = None
) -> Dict[str, int]:
    """Common type -> number of heads that produce it, from each head's entity types."""
    counts: Dict[str, int] = {}
    for types in types_of_head.values():
        for common in {type_mapper(t) if type_mapper else t for t in types}:
            counts[common] = counts.get(common, 0) + 1
    return counts


def votes_threshold(min_votes: Mapping[str, float], entity_type: str) -> float:
    return float(min_votes.get(entity_type, min_votes.get("*", 0.0)))


def consensus_merge(
    entities: Iterable[Entity],
    heads_of_type: Mapping[str, int],
    min_votes: Mapping[str, float] = DEFAULT_MIN_VOTES,
    overlap_policy: str = "highest_score",
    overlap_scope: str = "type",
    span_type_prior: float = DEFAULT_SPAN_TYPE_PRIOR,
    exclusive_types: Optional[Iterable[Iterable[str]]] = None,
    coexist_score: float = DEFAULT_COEXIST_SCORE,
) -> List[Entity]:
    """
    Merges the (type-mapped) entities of several heads: one type per mention among types
    that exclude each other, competing extents resolved:

    1. **Votes.** A span's votes for a common type are the sum, over the heads that found
       that span with that type, of their scores (span posteriors): 2.0 when two heads
       found it with certainty. Spans with fewer than `min_votes` of their type are
       dropped, unless a single head produces the type (one head is never overruled by a
       vote: its own output stays as it is, so `heads=[one head]` gives that head's output).
    2. **One type per span.** When heads of types that exclude each other claim the same
       span (`WT1` as Gene/Protein by nine gene heads and as Chemical by one chemical head),
       the type with the highest smoothed support keeps it: its votes over the number of
       heads that can produce the type (`heads_of_type`) plus `span_type_prior` (ties:
       higher score, then type name), an add-k estimate of how likely a head of the type
       is to agree. With prior 0 this is the share of the type's heads, which favours types
       few heads produce; with a large prior the votes, which favour types many heads
       produce. Which types exclude each other:
       `exclusive_types`, sets of types of which a span keeps at most one (the predictor
       passes each head's own types: a corpus that annotates genes and chemicals had to
       choose one for a span, while no corpus chose between Anatomy (AnatEM's cells and
       tumours) and CellType or Disease); `None`: every pair of types excludes each other.
       Types that do not exclude each other share a span when the weaker one's best score
       reaches `coexist_score` (0: always; above 1: never, one type per span).
    3. **Overlaps** as `resolve_overlaps` with `overlap_policy` and `overlap_scope`, ranked
       by the smoothed support of 2 first for `"highest_score"` (two heads' competing
       extents of one mention: the extent more heads found wins).

    Why votes and not the share of the type's heads in step 1: on the leave-corpora-out
    protocol both choose the same spans (one development model), while on the shipped
    model's own test corpora a share threshold tuned with two chemical heads asks three of
    four for agreement and loses recall that two agreeing heads keep (docs/new_text.md).
    The merged entity's `score` is the best head's, `datasets` the heads that agree. Time
    as `greedy_disjoint`.

    # Parameters

    entities : `Iterable[Entity]`
        Every head's entities, types already mapped to common types.
    heads_of_type : `Mapping[str, int]`
        Common type -> number of heads that can produce it (types missing: 1).
    min_votes : `Mapping[str, float]`, optional (default = `DEFAULT_MIN_VOTES`)
        Common type -> minimum votes; `"*"` for the other types.
    overlap_policy : `str`, optional (default = `"highest_score"`)
    overlap_scope : `str`, optional (default = `"type"`)
    span_type_prior : `float`, optional (default = `DEFAULT_SPAN_TYPE_PRIOR`)
        The add-k prior of step 2 (k >= 0).
    exclusive_types : `Iterable[Iterable[str]]`, optional (default = `None`)
        Step 2's groups of types that exclude each other; `None`: all types.
    coexist_score : `float`, optional (default = `DEFAULT_COEXIST_SCORE`)
        Step 2's score for a second type that no group excludes.
    """
    if not span_type_prior >= 0:
        raise ValueError(f"span_type_prior must be a number >= 0, got {span_type_prior!r}")
    # (start, end, type) -> head -> its best score for that span and type
    scores: Dict[Tuple[int, int, str], Dict[str, float]] = {}
    entities = list(entities)
    for entity in entities:
        by_head = scores.setdefault((entity.start, entity.end, entity.type), {})
        for head in entity.datasets or (entity.dataset,):
            by_head[head] = max(by_head.get(head, 0.0), entity.score)
    votes = {key: sum(by_head.values()) for key, by_head in scores.items()}
    span_type_key = {
        key: votes[key] / (max(heads_of_type.get(key[2], 1), 1) + span_type_prior) for key in votes
    }

    def key_of(entity: Entity) -> Tuple[int, int, str]:
        return (entity.start, entity.end, entity.type)

    kept = [
        entity
        for entity in merge_identical(entities)
        if heads_of_type.get(entity.type, 1) <= 1
        or votes[key_of(entity)] >= votes_threshold(min_votes, entity.type)
    ]
    # One type per span among types that exclude each other: best first, each kept unless
    # a type kept before on the span excludes it.
    groups = None if exclusive_types is None else [frozenset(group) for group in exclusive_types]

    def excludes(a: str, b: str) -> bool:
        return groups is None or any(a in group and b in group for group in groups)

    of_span: Dict[Tuple[int, int], List[Entity]] = {}
    for entity in sorted(kept, key=lambda e: (-span_type_key[key_of(e)], -e.score, e.type)):
        chosen = of_span.setdefault((entity.start, entity.end), [])
        if not chosen or (
            entity.score >= coexist_score
            and not any(excludes(entity.type, other.type) for other in chosen)
        ):
            chosen.append(entity)
    # Ranked by the smoothed support of 2: within one type it orders as the support does
    # (same number of heads), and across types (`overlap_scope="all"`) as step 2 decides.
    return resolve_overlaps(
        [entity for chosen in of_span.values() for entity in chosen],
        overlap_policy,
        overlap_scope,
        lambda e: span_type_key[key_of(e)],
    )
