"""
The benchmark scripts' `main` functions on tiny inputs (the demo corpora, a couple of
batches), so the scripts keep working as the code they measure changes. Figures are not
checked; what is: every script runs end to end and reports what it should, the models it
times are the package's, built from the training configs, and its timed training step is
one step of allennlp's trainer.
"""
import copy
import importlib.util
import sys

import pytest
import torch
from allennlp.common import Params

from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger
from tests.conftest import DEMO_DATA, PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT / "benchmarks"
DEMO_DATASETS = ["demo-gene", "demo-chemical", "demo-disease"]
DEMO = ["--datasets", *DEMO_DATASETS, "--data-root", str(DEMO_DATA)]
TINY = ["--max-sentences", "40", "--batch-size", "4", "--threads", "1"]


def load(script: str):
    """A benchmark script as a module (benchmarks/ is not a package; see common.py)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmark_{script}", BENCHMARKS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def restore_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def demo_tagger(config="mtm_cw.jsonnet", max_sentences=8):
    common = load("common")
    corpora = common.load_sentences(DEMO_DATASETS, str(DEMO_DATA), "train", max_sentences)
    sentences = [sentence for corpus in corpora.values() for sentence in corpus]
    return common, common.build_tagger(config, DEMO_DATASETS, str(DEMO_DATA), sentences), sentences


def test_train_throughput(capsys):
    variants = load("train_throughput").main(
        DEMO + TINY + ["--single-dataset", "demo-disease", "--num-batches", "1", "--rounds", "1",
                       "--warmup", "0"]
    )
    assert set(variants) == {
        "stm", "mtm_cw_single", "mtm_cw_mix", "mtm_c_mix", "mtm_w_mix", "crf_tagger",
        "crf_tagger_lean",
    }
    assert all(variant.median_sentences_per_second() > 0 for variant in variants.values())
    output = capsys.readouterr().out
    assert "MTM-CW / STM time per sentence" in output and "STM / crf_tagger" in output
    assert "MTM-W / MTM-CW time per sentence" in output
    # The package's model, as each config builds it (heads from the reader's datasets, private
    # layers where the config puts them); crf_tagger is allennlp-models'.
    models = {name: variant.model for name, variant in variants.items()}
    for name in ("stm", "mtm_cw_single", "mtm_cw_mix", "mtm_c_mix", "mtm_w_mix"):
        assert type(models[name]) is MultiTaskCrfTagger
    assert models["stm"].datasets == ["demo-disease"]
    assert models["mtm_cw_mix"].datasets == sorted(DEMO_DATASETS)
    assert models["mtm_cw_single"] is not models["mtm_cw_mix"]
    assert models["mtm_c_mix"]._encoder is None
    assert set(models["mtm_c_mix"]._encoders) == set(DEMO_DATASETS)
    assert set(models["mtm_w_mix"]._private_embedders["chars"]) == set(DEMO_DATASETS)
    assert type(models["crf_tagger"]).__name__ == "CrfTagger"
    # crf_tagger's layers are the Lample baseline config's, char sizes from the command line.
    embedder = models["crf_tagger"].text_field_embedder
    assert embedder.get_output_dim() == models["crf_tagger"].encoder.get_input_dim() == 200 + 2 * 100


def test_train_step_is_one_step_of_allennlps_trainer(tmp_path):
    """The timed step (`common.train_step`) changes the weights exactly as allennlp's own
    training loop does on the same batch, with the trainer the config specifies."""
    from allennlp.data.data_loaders import SimpleDataLoader
    from allennlp.training import Trainer

    common, tagger, sentences = demo_tagger()
    batch = sentences[:6]
    ours, theirs = copy.deepcopy(tagger.model), copy.deepcopy(tagger.model)
    trainer = common.build_trainer(tagger, ours)
    config = Params.from_file(str(PROJECT_ROOT / "training_configs" / "mtm_cw.jsonnet"))["trainer"]
    group = trainer.optimizer.param_groups[0]
    assert (type(trainer.optimizer).__name__, group["lr"], group["momentum"], trainer._grad_norm) == (
        "SgdOptimizer", config["optimizer"]["lr"], config["optimizer"]["momentum"], config["grad_norm"])
    torch.manual_seed(3)
    loss = common.train_step(trainer, common.tensorize(tagger.reader, tagger.vocab, batch))

    instances = [tagger.reader.text_to_instance(s.words, s.tags, dataset=s.dataset) for s in batch]
    loader = SimpleDataLoader(instances, batch_size=len(instances))
    loader.index_with(tagger.vocab)
    params = tagger.params.duplicate()["trainer"]
    params.update({"num_epochs": 1, "patience": None, "validation_metric": "-loss"})
    allennlp_trainer = Trainer.from_params(
        params=params, model=theirs, serialization_dir=str(tmp_path), data_loader=loader
    )
    torch.manual_seed(3)
    metrics = allennlp_trainer.train()
    assert metrics["training_loss"] == pytest.approx(loss, rel=1e-6)
    torch.testing.assert_close(ours.state_dict(), theirs.state_dict())
    assert not torch.equal(ours._encoder._forward_layers[0].weight_hh_l0,
                           tagger.model._encoder._forward_layers[0].weight_hh_l0)  # it did step


def test_breakdown(capsys):
    results = load("breakdown").main(
        DEMO + TINY + ["--num-batches", "2", "--rounds", "1", "--warmup", "0",
                       "--breakdown-repeats", "1", "--profile", "1"]
    )
    assert set(results["variants"]) == {"train", "infer, own head", "infer, every head"}
    assert all(type(variant.model) is MultiTaskCrfTagger for variant in results["variants"].values())
    # The package's layers, found in the model (not named by the script), and compared with
    # allennlp's stock ones after checking they compute the same.
    parts = [row[0] for row in results["in_place"]]
    for part in ("CharStreamEmbedder", "Word2VecEmbedding", "PaddedBiLstm `encoder`",
                 "Linear `projections.*`", "CRF log-likelihood", "CRF Viterbi", "backward",
                 "total step"):
        assert any(part in label for label in parts), part
    assert "best paths identical" in results["check"]
    assert "PaddedBiLstm `encoder`'s output equal to allennlp's packed `lstm`'s" in results["check"]
    assert [row[0].split(":")[0] for row in results["ratios"]] == [
        "word encoder", "CRF log-likelihood", "Viterbi"]
    output = capsys.readouterr().out
    assert "Where the model's time goes" in output and "torch.profiler, 1 training steps" in output


def test_scaling():
    tables = load("scaling").main(
        DEMO + TINY + ["--num-batches", "1", "--warmup", "0", "--lengths", "3,30",
                       "--batch-sizes", "1,2", "--new-shape-lengths", "7"]
    )
    assert [row[0] for row in tables["length"]] == ["length 3", "length 30"]
    assert [row[1] for row in tables["batch"]] == [1, 2]
    assert len(tables["new_shape"]) == 1


def test_synthetic_sentences_close_their_last_entity():
    scaling = load("scaling")
    assert scaling.close_tags(["O", "B-X"]) == ["O", "U-X"]
    assert scaling.close_tags(["B-X", "I-X"]) == ["B-X", "L-X"]
    assert scaling.close_tags(["B-X", "L-X"]) == ["B-X", "L-X"]


def test_memory_in_process(tmp_path):
    results = load("memory").main(
        DEMO + TINY + ["--in-process", "--steps", "1", "--batch-sizes", "4",
                       "--untrained-archive", "--predict-sentences", "5"]
    )
    assert [result["kind"] for result in results] == ["imports", "train", "predict"]
    assert results[-1]["tokens_per_second"] > 0
    assert all(result["peak_rss_mib"] > 0 for result in results)


def test_tag_corpus_throughput(capsys):
    abstracts = PROJECT_ROOT / "fixtures" / "pubmed" / "abstracts.pubtator"
    load("tag_corpus_throughput").main(
        ["--data", str(abstracts), "--max-documents", "4", "--per-file", "2", "--batch-size", "2",
         "--workers", "1"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "| allennlp tag-corpus --workers 1 | 1 |" in out and "Projection (not measured)" in out


def test_gpu_benchmark_runs_on_cpu(capsys):
    """`benchmarks/gpu.py` (issue 12's one GPU command) end to end on CPU: every path of both
    models, the epoch, and prediction with the shipped model, loop and scan."""
    abstracts = PROJECT_ROOT / "fixtures" / "pubmed" / "abstracts.pubtator"
    load("gpu").main(
        DEMO + ["--max-sentences", "40", "--threads", "1", "--device", "cpu", "--single-dataset", "demo-disease",
                "--batch-sizes", "4", "--sentences-per-round", "8", "--rounds", "1", "--warmup", "0",
                "--predict-data", str(abstracts), "--predict-batch-sizes", "4"]
    )  # fmt: skip
    output = capsys.readouterr().out
    for model in ("STM", "MTM-CW"):
        for path in ("loop", "scan", "scan+amp"):
            assert f"| {model} | 4 | {path} |" in output
    assert "## 2. One epoch of MTM-CW" in output
    prediction = output.split("## 3. Prediction")[1]
    assert "| loop | 4 | 10 |" in prediction and "| scan | 4 | 10 |" in prediction


def test_gpu_paths_train_the_configs_model():
    """Every path of `benchmarks/gpu.py` trains the package's model of the config from the same
    weights, with the crf_algorithm of its path: the loop and the scan take the same step."""
    gpu = load("gpu")
    common, tagger, sentences = demo_tagger()
    tensors = common.tensorize(tagger.reader, tagger.vocab, sentences[:6])
    losses = {}
    for path in gpu.PATHS:
        trainer = gpu.PathTrainer(tagger, torch.device("cpu"), path, torch.bfloat16)
        assert type(trainer.model) is MultiTaskCrfTagger
        torch.testing.assert_close(trainer.model.state_dict(), tagger.model.state_dict())
        assert trainer.model._crf.algorithm == ("loop" if path == "loop" else "scan")
        assert trainer.autocast == (torch.bfloat16 if path == "scan+amp" else None)
        torch.manual_seed(5)
        losses[path] = trainer.step(tensors)
    assert losses["scan"] == pytest.approx(losses["loop"], rel=1e-5)
    assert losses["scan+amp"] == pytest.approx(losses["loop"], rel=5e-2)


def test_data_loading(capsys):
    results = load("data_loading").main(DEMO + ["--max-sentences", "30", "--batch-size", "4",
                                                "--threads", "1", "--workers", "0", "2"])
    # Every epoch held every training sentence once (checked inside), in and out of process.
    assert set(results) == {0, 2}
    assert [row["sentences"] for row in results[0]] == [row["sentences"] for row in results[2]] == [90, 90]
    assert "2 workers, epochs 1-1: training-process CPU" in capsys.readouterr().out


def test_predict_throughput_compares_the_merge_rules(capsys):
    """`benchmarks/predict_throughput.py --compare-merge`: the default merge and the union
    side by side, and the merging step's share, on the shipped fixtures."""
    from biomtl_allennlp.pretrained import tagger_path

    abstracts = PROJECT_ROOT / "fixtures" / "pubmed" / "abstracts.pubtator"
    load("predict_throughput").main(
        [str(tagger_path()), "--data", str(abstracts), "--batch-sizes", "8", "--threads", "1",
         "--compare-merge", "1", "--no-startup"]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "| 8 | " in output
    for merge in ("union", "consensus"):
        assert f"| {merge} | " in output
    assert "consensus / union prediction time (medians): " in output


def test_tokenization_boundaries(tmp_path, capsys):
    """Every gold mention of the file is counted, and the fixture's mentions all fit our tokens."""
    from biomtl_allennlp.documents.pubtator import read_pubtator

    gold = PROJECT_ROOT / "fixtures" / "pubmed" / "gold.pubtator"
    (tmp_path / "gold.txt").write_text(gold.read_text(encoding="utf-8"), encoding="utf-8")
    load("tokenization_boundaries").main(["--data", str(tmp_path)])
    documents = list(read_pubtator(gold))
    mentions = sum(len(document.entities) for document in documents)
    output = capsys.readouterr().out
    assert mentions > 0 and f"| **overall** | {len(documents)} | {mentions} | 0 (0.00%) |" in output


def test_large_document(capsys):
    """One document of the size asked for, tagged whole by the shipped model in a process of its
    own (its text comes back unchanged: checked inside)."""
    load("large_document").main(["--sizes", "3000", "--threads", "1"])
    row = capsys.readouterr().out.split("\n| 3,000 | ")[1]
    tokens, entities = row.split(" | ")[0], row.split(" | ")[4]
    assert int(tokens.replace(",", "")) > 300 and int(entities) > 0
