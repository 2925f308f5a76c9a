"""
Compact model archives for shipping: the weights in half precision and only what
`Predictor.from_path` needs (`config.json`, `vocabulary/`, the weights, and allennlp's
`meta.json` with its version), as `allennlp export-tagger` writes them.
"""
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch
from allennlp.common import Params
from allennlp.common.meta import META_NAME, Meta
from allennlp.models.archival import CONFIG_NAME, archive_model

from biomtl_allennlp.common.archives import load_archive_safely
from biomtl_allennlp.common.errors import InputFormatError

PathLike = Union[str, os.PathLike]

# Config keys of training alone (data files, trainer), dropped from a shipped config; the
# reader, model, vocabulary and data loaders stay (`allennlp predict` / `evaluate` use them).
TRAINING_ONLY_KEYS = (
    "train_data_path",
    "validation_data_path",
    "test_data_path",
    "evaluate_on_test",
    "trainer",
    "distributed",
    "datasets_for_vocab_creation",
)


def average_weights(weights_files: Sequence[PathLike], output: PathLike) -> Path:
    """
    Writes the element-wise mean of several weights files of one model (e.g. the last
    epochs of a run) to `output`, for `export_tagger(weights_file=...)` or
    `allennlp evaluate --weights-file`. Floating-point tensors are averaged in float64 and
    stored in their own dtype; any other tensor (none in our models) must be equal in every
    file. Raises `InputFormatError` naming the file whose parameter names or shapes differ
    from the first's.
    """
    if not weights_files:
        raise InputFormatError("average_weights: no weights files given")
    paths = [Path(path) for path in weights_files]
    for path in paths:
        if not path.is_file():
            raise InputFormatError("weights file not found", path=path)
    first = torch.load(paths[0], map_location="cpu")
    sums = {name: tensor.double() if tensor.is_floating_point() else tensor for name, tensor in first.items()}
    for path in paths[1:]:
        state = torch.load(path, map_location="cpu")
        if set(state) != set(first):
            raise InputFormatError(
                f"parameter names differ from {paths[0]}: "
                f"{sorted(set(state) ^ set(first))[:5]}",
                path=path,
            )
        for name, tensor in state.items():
            if tensor.shape != first[name].shape:
                raise InputFormatError(
                    f"{name} has shape {tuple(tensor.shape)}, {tuple(first[name].shape)} in {paths[0]}",
                    path=path,
                )
            if tensor.is_floating_point():
                sums[name] = sums[name] + tensor.double()
            elif not torch.equal(tensor, first[name]):
                raise InputFormatError(f"{name} (not floating point) differs from {paths[0]}", path=path)
    mean = {
        name: (total / len(paths)).to(first[name].dtype) if first[name].is_floating_point() else total
        for name, total in sums.items()
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(mean, output)
    return output


def export_tagger(
    source: PathLike,
    output: PathLike,
    weights_file: Optional[PathLike] = None,
    half: bool = True,
) -> Dict[str, Any]:
    """
    Writes a compact `model.tar.gz` of a trained tagger.

    # Parameters

    source : `PathLike`
        A `model.tar.gz`, or a serialization directory (`config.json`, `vocabulary/`, and
        `best.th` or `--weights`), e.g. of a run still training.
    output : `PathLike`
        The archive to write.
    weights_file : `PathLike`, optional
        Weights to export instead of the archive's (or the directory's `best.th`).
    half : `bool`, optional (default = `True`)
        Store floating-point weights as float16. They are loaded back into the float32
        parameters (`load_state_dict` converts), so predictions differ from the original
        model's only by float16 rounding of the weights.

    # Returns

    A summary: `parameters`, `bytes`, `vocabulary` sizes per namespace, `datasets`.
    """
    source, output = Path(source), Path(output)
    if not source.exists():
        raise InputFormatError("no such archive or serialization directory", path=source)
    if source.is_dir() and weights_file is None:
        weights_file = source / "best.th"
    if weights_file is not None and not Path(weights_file).is_file():
        raise InputFormatError("weights file not found", path=weights_file)
    if output.is_dir():
        raise InputFormatError("is a folder: give the archive's file name (model.tar.gz)", path=output)
    archive = load_archive_safely(
        str(source), weights_file=None if weights_file is None else str(weights_file)
    )
    model = archive.model
    config = archive.config.duplicate().as_dict(quiet=True)
    for key in TRAINING_ONLY_KEYS:
        config.pop(key, None)
    state = {
        name: tensor.half() if half and tensor.is_floating_point() else tensor
        for name, tensor in model.state_dict().items()
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        staging_dir = Path(staging)
        (staging_dir / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        model.vocab.save_to_files(str(staging_dir / "vocabulary"))
        Meta.new().to_file(staging_dir / META_NAME)
        torch.save(state, staging_dir / "exported.th")
        # allennlp's own archive layout, the weights under the name `load_archive` reads.
        archive_model(staging_dir, weights="exported.th", archive_path=output)
    return {
        "parameters": sum(t.numel() for t in state.values()),
        "bytes": output.stat().st_size,
        "vocabulary": {
            namespace: model.vocab.get_vocab_size(namespace)
            for namespace in sorted(model.vocab.get_namespaces())
        },
        "datasets": list(getattr(model, "datasets", [])),
    }


def read_config(archive: PathLike) -> Params:
    """The `config.json` of a `model.tar.gz` (without extracting the weights)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile(CONFIG_NAME)
        if member is None:
            raise InputFormatError(f"no {CONFIG_NAME} in the archive", path=archive)
        return Params(json.loads(member.read()))
