"""
Merging the entities that the heads of a multi-task model find in one document: mapping
each dataset's entity types to common types, merging identical mentions, and resolving
overlapping ones, on `Entity` objects (`biomtl_allennlp.data.entity`). Used by the
`biomedical_entities` predictor, the visualiser and `biomtl_allennlp.evaluation.pubtator_eval`;
registers nothing.
"""
import dataclasses
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from biomtl_allennlp.data.entity import Entity

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


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


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
    entities: List[Entity], policy: str = "highest_score", scope: str = "type"
) -> List[Entity]:
    """
    Removes overlapping entities according to `policy`:

    - `"keep_all"`: nothing is removed;
    - `"longest"`: greedily keep the longest entity (ties: higher score, then earlier),
      dropping those that overlap an entity already kept;
    - `"highest_score"`: the same, by score first (ties: longer, then earlier).

    With `scope="type"` only entities of the same type compete; with `"all"` every pair of
    overlapping entities does. Returned sorted by `(start, end, type)`.
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
            if policy == "longest":
                return (-length, -entity.score, entity.start, entity.type)
            return (-entity.score, -length, entity.start, entity.type)

        kept = []
        for group in groups.values():
            chosen: List[Entity] = []
            for entity in sorted(group, key=rank):
                if not any(_overlaps(entity, other) for other in chosen):
                    chosen.append(entity)
            kept.extend(chosen)
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
