"""
The tagger that ships with the project, by short name, offline:

    from biomtl_allennlp import load_tagger
    tagger = load_tagger()  # MTM-CW, every head at once
    tagger.predict_json({"text": "Cisplatin-induced nephrotoxicity in BRCA1 carriers."})["entities"]

Each shipped model is a compact `model.tar.gz` (float16 weights, see `export.py`) in a
folder of its own beside this file, with its model card (`MODEL_CARD.md`).
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, Optional

from biomtl_allennlp.common.errors import InputFormatError

HERE = Path(__file__).resolve().parent
SHIPPED_MODELS: Dict[str, Path] = {"mtm_cw": HERE / "mtm_cw" / "model.tar.gz"}
DEFAULT_MODEL = "mtm_cw"


def tagger_path(name: str = DEFAULT_MODEL) -> Path:
    """The archive of the shipped model `name` (a `ValueError` names the known ones)."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"no shipped model {name!r}; known: {sorted(SHIPPED_MODELS)}")
    path = SHIPPED_MODELS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped model {name!r} is missing at {path} (a checkout without its model "
            "files? `git lfs` is not used: the file is committed as it is)"
        )
    return path


def resolve_archive(name_or_path: str) -> str:
    """
    The archive that `name_or_path` names: a shipped model's archive by name (`mtm_cw`;
    the name wins over a file of that name, which `./mtm_cw` reaches), else an existing
    path (a `model.tar.gz`, or a serialization folder) as it is. `InputFormatError` naming
    the shipped models when it is neither. What `allennlp tag-corpus`, `tag-file` and the
    `biomtl_ner` spaCy component accept as a model.
    """
    if name_or_path in SHIPPED_MODELS:
        return str(tagger_path(name_or_path))
    if os.path.exists(name_or_path):
        return name_or_path
    raise InputFormatError(
        f"not found (a model.tar.gz, or a shipped model: {sorted(SHIPPED_MODELS)})", name_or_path
    )


def archive_overrides(cuda_device: int, crf_algorithm: Optional[str] = None) -> str:
    """
    `Predictor.from_path` overrides of a `multitask_crf_tagger` archive: the CRF algorithm
    `crf_algorithm`, or by default the GPU path (`"scan"`) on a GPU and the archive's own
    (the token loop) on CPU. The same as `allennlp predict ... --overrides`.
    """
    if crf_algorithm is None and cuda_device >= 0:
        crf_algorithm = "scan"
    return json.dumps({"model.crf_algorithm": crf_algorithm}) if crf_algorithm else ""


def load_tagger(
    name: str = DEFAULT_MODEL,
    cuda_device: int = -1,
    crf_algorithm: Optional[str] = None,
    **predictor_args: Any,
):
    """
    The `biomedical_entities` predictor of the shipped model `name`, loaded from the
    package (no network). On a GPU (`cuda_device` >= 0) the CRF runs as `"scan"` unless
    `crf_algorithm` says otherwise (see `archive_overrides`). `predictor_args` are the
    predictor's constructor arguments (`output_format`, `overlap_policy`, `min_score`, ...).
    """
    import biomtl_allennlp  # noqa: F401  (registers the components)
    from biomtl_allennlp.common.archives import predictor_from_path

    return predictor_from_path(
        str(tagger_path(name)),
        "biomedical_entities",
        cuda_device=cuda_device,
        overrides=archive_overrides(cuda_device, crf_algorithm),
        **predictor_args,
    )
