import json
import tarfile

import pytest
import torch
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.pretrained.export import (
    TRAINING_ONLY_KEYS,
    average_weights,
    export_tagger,
    read_config,
)
from tests.predictors.tiny_model import tiny_archive_path
from tests.run_allennlp import run_allennlp

TEXTS = [
    "Cisplatin induced nephrotoxicity and hearing loss in patients with BRCA1 mutations.",
    "The IL-2 receptor alpha chain was expressed in T cells treated with dexamethasone.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    output = tmp_path_factory.mktemp("export") / "model.tar.gz"
    summary = export_tagger(tiny_archive_path(), output)
    return output, summary


def test_archive_holds_config_vocabulary_and_half_weights(exported):
    output, summary = exported
    with tarfile.open(output) as tar:
        names = tar.getnames()
    assert {"config.json", "meta.json", "weights.th", "vocabulary"} <= set(names)
    config = read_config(output).as_dict()
    assert not set(TRAINING_ONLY_KEYS) & set(config)
    assert config["model"]["type"] == "multitask_crf_tagger"
    assert summary["bytes"] == output.stat().st_size
    assert summary["datasets"] == ["demo-chemical", "demo-disease", "demo-gene"]


def test_loaded_weights_are_the_originals_rounded_to_float16(exported):
    output, _ = exported
    original = load_archive(tiny_archive_path()).model.state_dict()
    loaded = load_archive(output).model.state_dict()
    assert original.keys() == loaded.keys()
    for name, tensor in original.items():
        assert loaded[name].dtype == tensor.dtype, name
        expected = tensor.half().to(tensor.dtype) if tensor.is_floating_point() else tensor
        assert torch.equal(loaded[name], expected), name


def test_predictions_of_the_export_match_the_rounded_model(exported):
    output, _ = exported
    shipped = Predictor.from_path(str(output))  # the model's default predictor
    rounded = load_archive(tiny_archive_path())
    with torch.no_grad():
        for parameter in rounded.model.parameters():
            parameter.copy_(parameter.half().float())
    reference = Predictor.from_archive(rounded, "biomedical_entities")
    inputs = [{"text": text} for text in TEXTS]
    assert shipped.predict_batch_json(inputs) == reference.predict_batch_json(inputs)


def test_a_serialization_directory_exports_its_best_weights(tmp_path):
    run_dir = tiny_archive_path().parent
    output = tmp_path / "from_dir.tar.gz"
    export_tagger(run_dir, output, half=False)
    original = load_archive(tiny_archive_path()).model.state_dict()
    loaded = load_archive(output).model.state_dict()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in original.items())


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(InputFormatError, match="no such archive"):
        export_tagger(tmp_path / "missing.tar.gz", tmp_path / "out.tar.gz")
    with pytest.raises(InputFormatError, match="weights file not found"):
        export_tagger(tiny_archive_path(), tmp_path / "out.tar.gz", weights_file=tmp_path / "w.th")
    with pytest.raises(InputFormatError, match=f"{tmp_path}: is a folder"):
        export_tagger(tiny_archive_path(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_export_tagger_subcommand(tmp_path, capsys, monkeypatch):
    output = tmp_path / "cli.tar.gz"
    run_allennlp(monkeypatch, "export-tagger", tiny_archive_path(), "-o", output)
    summary = json.loads(capsys.readouterr().out)
    assert summary["bytes"] == output.stat().st_size
    with pytest.raises(SystemExit) as exit_info:
        run_allennlp(monkeypatch, "export-tagger", tmp_path / "nope", "-o", output)
    assert exit_info.value.code == 1
    assert "no such archive or serialization directory" in capsys.readouterr().err


def test_average_weights_is_the_element_wise_mean(tmp_path):
    files = []
    for k, (a, b) in enumerate([([1.0, 2.0], [[0.5]]), ([3.0, 6.0], [[1.5]]), ([2.0, 1.0], [[-2.0]])]):
        files.append(tmp_path / f"w{k}.th")
        torch.save({"a": torch.tensor(a), "b": torch.tensor(b), "steps": torch.tensor([4])}, files[-1])
    averaged = torch.load(average_weights(files, tmp_path / "mean.th"))
    assert torch.equal(averaged["a"], torch.tensor([2.0, 3.0]))
    assert torch.equal(averaged["b"], torch.tensor([[0.0]]))
    assert averaged["a"].dtype == torch.float32 and torch.equal(averaged["steps"], torch.tensor([4]))
    # The mean of one model is that model: an averaged tiny tagger predicts as the original.
    model_dir = tmp_path / "run"
    with tarfile.open(tiny_archive_path()) as tar:
        tar.extractall(model_dir)
    same = average_weights([model_dir / "weights.th"] * 2, tmp_path / "same.th")
    original = torch.load(model_dir / "weights.th")
    assert all(torch.allclose(torch.load(same)[name], tensor) for name, tensor in original.items())


def test_average_weights_refuses_files_of_other_models(tmp_path):
    torch.save({"a": torch.zeros(2)}, tmp_path / "a.th")
    torch.save({"a": torch.zeros(3)}, tmp_path / "b.th")
    torch.save({"c": torch.zeros(2)}, tmp_path / "c.th")
    torch.save({"a": torch.zeros(2), "n": torch.tensor([1])}, tmp_path / "n1.th")
    torch.save({"a": torch.zeros(2), "n": torch.tensor([2])}, tmp_path / "n2.th")
    with pytest.raises(InputFormatError, match=r"b\.th: a has shape \(3,\), \(2,\) in"):
        average_weights([tmp_path / "a.th", tmp_path / "b.th"], tmp_path / "out.th")
    with pytest.raises(InputFormatError, match=r"c\.th: parameter names differ"):
        average_weights([tmp_path / "a.th", tmp_path / "c.th"], tmp_path / "out.th")
    with pytest.raises(InputFormatError, match=r"n2\.th: n \(not floating point\) differs"):
        average_weights([tmp_path / "n1.th", tmp_path / "n2.th"], tmp_path / "out.th")
    with pytest.raises(InputFormatError, match=r"missing\.th: weights file not found"):
        average_weights([tmp_path / "a.th", tmp_path / "missing.th"], tmp_path / "out.th")
    with pytest.raises(InputFormatError, match="no weights files"):
        average_weights([], tmp_path / "out.th")


def test_export_tagger_subcommand_averages_several_weights_files(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    with tarfile.open(tiny_archive_path()) as tar:
        tar.extractall(run)
    original = torch.load(run / "weights.th")
    torch.save({name: 3 * tensor if tensor.is_floating_point() else tensor for name, tensor in original.items()},
               run / "tripled.th")
    output = tmp_path / "mean.tar.gz"
    run_allennlp(monkeypatch, "export-tagger", tiny_archive_path(), "-o", output, "--full-precision",
                 "--weights", run / "weights.th", run / "tripled.th")
    assert json.loads(capsys.readouterr().out)["averaged_weights"] == [str(run / "weights.th"), str(run / "tripled.th")]
    with tarfile.open(output) as tar:
        tar.extractall(tmp_path / "exported")
    exported = torch.load(tmp_path / "exported" / "weights.th")
    for name, tensor in original.items():  # (1 + 3) / 2 = 2 times the original
        assert torch.allclose(exported[name], 2 * tensor if tensor.is_floating_point() else tensor)
