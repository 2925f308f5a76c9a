"""Every config in training_configs/ builds (reader, vocabulary, model, trainer)."""

import pytest
import torch
from allennlp.commands.train import TrainModel
from allennlp.common import Params

from tests.conftest import DEMO_DATA, PROJECT_ROOT

CONFIGS = sorted((PROJECT_ROOT / "training_configs").rglob("*.jsonnet"))

# Each built-in dataset name gets a tiny stand-in made from the demo corpora.
STAND_INS = {
    "BC2GM-IOBES": "demo-gene",
    "BC4CHEMD-IOBES": "demo-chemical",
    "BC5CDR-IOBES": "demo-disease",
    "NCBI-disease-IOBES": "demo-disease",
    "JNLPBA": "demo-chemical",
    # The other corpora of the 12-corpus configs.
    **{name: "demo-gene" for name in ("AnatEM-IOBES", "BioNLP09-IOBES", "BioNLP11EPI-IOBES", "BioNLP11ID-IOBES",
                                      "BioNLP13GE-IOBES", "BioNLP13PC-IOBES", "CRAFT-IOBES", "Ex-PTM-IOBES")},
}


@pytest.fixture
def tiny_data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    for folder, source in STAND_INS.items():
        (root / folder).mkdir(parents=True)
        for split in ("train", "devel", "test"):
            lines = (DEMO_DATA / source / f"{split}.tsv").read_text().splitlines()
            (root / folder / f"{split}.tsv").write_text("\n".join(lines[:200]) + "\n")
    monkeypatch.setenv("BIOMTL_DATA_ROOT", str(root))
    # Dictionary variants read a user dictionary named by this variable.
    dictionary = tmp_path / "dictionary.tsv"
    dictionary.write_text("p53\tGENE\ncisplatin\tChemical\nbreast cancer\tDisease\n")
    monkeypatch.setenv("BIOMTL_DICTIONARY", str(dictionary))
    return root


def test_configs_exist():
    names = {path.relative_to(PROJECT_ROOT / "training_configs").as_posix() for path in CONFIGS}
    assert {"stm.jsonnet", "mtm_c.jsonnet", "mtm_w.jsonnet", "mtm_cw.jsonnet"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name if path.parent.name == "training_configs" else f"{path.parent.name}/{path.name}")
def test_config_builds(config, tiny_data_root, tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    params = Params.from_file(str(config))
    # `allennlp train` takes this section out before building (one worker's view).
    distributed = params.pop("distributed", None)
    if distributed is not None:
        assert distributed["ddp_accelerator"]["find_unused_parameters"] is True
        assert len(distributed["cuda_devices"]) >= 2
    gpu = params["trainer"].get("cuda_device", -1) >= 0
    if gpu and not torch.cuda.is_available():  # a GPU config, built here with its trainer on CPU
        assert params["model"]["crf_algorithm"] == "scan" and params["trainer"]["use_amp"] is True
        params["trainer"]["cuda_device"], params["trainer"]["use_amp"] = -1, False
    train = TrainModel.from_params(
        params=params, serialization_dir=str(tmp_path / "run"), local_rank=0
    )
    assert train.model is not None
    assert train.trainer is not None
    if gpu:
        assert train.model._crf.algorithm == "scan"


def plan_lines():
    """(config, overrides) of each run of research/converged/*.plan, as the lane runner
    (`research.converged.lanes`) trains it."""
    import json

    from research.converged.lanes import PLANS, read_plan

    assert PLANS
    for plan in PLANS:
        for run in read_plan(plan, PROJECT_ROOT / "runs"):
            yield pytest.param(run.config, json.dumps(run.overrides), id=f"{plan.stem}/{run.name}")


@pytest.mark.parametrize("config, overrides", list(plan_lines()))
def test_lane_plan_run_builds(config, overrides, tiny_data_root, tmp_path, monkeypatch):
    """Each run of the converged-run lanes builds with its overrides (a typo in a plan would
    otherwise show only when the lane reaches it, hours later)."""
    import json

    from allennlp.common.util import prepare_environment

    json.loads(overrides)  # the line's overrides are one JSON object
    monkeypatch.chdir(PROJECT_ROOT)
    params = Params.from_file(config, params_overrides=overrides)
    prepare_environment(params)  # as `allennlp train`: takes the seeds out
    train = TrainModel.from_params(params=params, serialization_dir=str(tmp_path / "run"), local_rank=0)
    assert train.model is not None and train.trainer is not None


def test_gpu_path_trains_with_data_loader_workers(tiny_data_root, tmp_path, monkeypatch):
    """`biomtl.gpu(num_workers=N)`: batches built in worker processes, every epoch (here on
    CPU, mixed precision off); the model trains and validates as with the in-process loader."""
    import json

    from allennlp.commands.train import train_model

    monkeypatch.chdir(PROJECT_ROOT)
    (tmp_path / "workers.jsonnet").write_text(
        f'local biomtl = import "{PROJECT_ROOT}/training_configs/biomtl.libsonnet";\n'
        'biomtl.config(datasets=["BC2GM", "NCBI-disease"], private_layers=[]) '
        '+ biomtl.gpu(cuda_device=-1, num_workers=2) + {trainer+: {use_amp: false, num_epochs: 2}}\n'
    )
    params = Params.from_file(str(tmp_path / "workers.jsonnet"))
    assert params["data_loader"]["num_workers"] == 2
    model = train_model(params, str(tmp_path / "run"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epoch"] == 1 and metrics["training_loss"] > 0
    assert 0 <= metrics["validation_macro_f1"] <= 1
    assert model._crf.algorithm == "scan"


def test_the_vocabulary_counts_training_words_only(tiny_data_root, tmp_path, monkeypatch):
    """Words frequent only in the devel or test split stay out of the vocabulary (they map to
    OOV, as the paper's rule says), for the paper's configs and the baselines alike."""
    monkeypatch.chdir(PROJECT_ROOT)
    folder = tiny_data_root / "NCBI-disease-IOBES"
    for split, word in (("devel", "zzdevelword"), ("test", "zztestword")):
        path = folder / f"{split}.tsv"
        path.write_text(path.read_text() + "".join(f"{word}\tO\n\n" for _ in range(6)))
    (folder / "train.tsv").write_text((folder / "train.tsv").read_text() + "".join("zztrainword\tO\n\n" for _ in range(6)))
    for config in ("stm.jsonnet", "baselines/lample.jsonnet"):
        params = Params.from_file(str(PROJECT_ROOT / "training_configs" / config))
        params["dataset_reader"]["datasets"] = ["NCBI-disease"]
        train = TrainModel.from_params(params=params, serialization_dir=str(tmp_path / config), local_rank=0)
        words = train.model.vocab.get_token_to_index_vocabulary("tokens")
        assert "zztrainword" in words and "zzdevelword" not in words and "zztestword" not in words
