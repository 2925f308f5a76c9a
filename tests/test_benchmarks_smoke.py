"""
The benchmark scripts' `main` functions on tiny inputs (the demo corpora, a couple of
batches), so the scripts keep working as the code they measure changes. Figures are not
checked, only that every script runs end to end and reports what it should.
"""
import importlib.util
import sys

import pytest

from tests.conftest import DEMO_DATA, PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT / "benchmarks"
DEMO = ["--datasets", "demo-gene", "demo-chemical", "demo-disease", "--data-root", str(DEMO_DATA)]
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


def test_compute_floor(capsys):
    variants = load("compute_floor").main(
        DEMO + TINY + ["--num-batches", "1", "--rounds", "1", "--warmup", "0",
                       "--breakdown-repeats", "1"]
    )
    assert {"model train", "floor train", "model infer, every head"} <= set(variants)
    output = capsys.readouterr().out
    # The floor is checked against the model (same loss, same paths) before timing.
    assert "best paths identical" in output
    assert "Where our model's time goes" in output and "total step" in output


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
