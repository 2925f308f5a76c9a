"""The paired bootstrap against a loop-by-loop reference, and per-sentence span counts
against `allennlp evaluate` of the same archive."""
import json

import numpy
import pytest
from allennlp.commands.train import train_model_from_file

from biomtl_allennlp.evaluation.significance import (
    f1_of_sums, load_counts, paired_bootstrap, save_counts, sentence_counts, span_counts,
)
from biomtl_allennlp.common.errors import InputFormatError
from tests.conftest import FIXTURES
from tests.run_allennlp import run_allennlp


def test_span_counts_by_hand():
    gold = ["B-GENE", "L-GENE", "O", "U-Chemical", "O"]
    predicted = ["B-GENE", "L-GENE", "O", "U-GENE", "U-Chemical"]
    # GENE 0-1 matches; U-GENE at 3 has the wrong type; U-Chemical at 4 the wrong place.
    assert span_counts(predicted, gold) == [1, 2, 1]


def reference_bootstrap(a, b, samples, seed, chunk):
    """The same resamples, one resample and one pair at a time."""
    generator = numpy.random.default_rng(seed)
    differences = []
    for start in range(0, samples, chunk):
        indices = generator.integers(a[0].shape[0], size=(min(chunk, samples - start), a[0].shape[0]))
        for row in indices:
            pairs = []
            for pair_a, pair_b in zip(a, b):
                scores = []
                for counts in (pair_a[row], pair_b[row]):
                    tp, fp, fn = counts.sum(axis=0)
                    precision = tp / (tp + fp) if tp + fp else 0.0
                    recall = tp / (tp + fn) if tp + fn else 0.0
                    scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
                pairs.append(scores[0] - scores[1])
            differences.append(sum(pairs) / len(pairs))
    return numpy.array(differences)


def random_counts(generator, sentences):
    return generator.integers(0, 4, size=(sentences, 3))


def test_bootstrap_equals_the_reference():
    generator = numpy.random.default_rng(5)
    a = [random_counts(generator, 40) for _ in range(2)]
    b = [random_counts(generator, 40) for _ in range(2)]
    result = paired_bootstrap(a, b, samples=300, seed=3, chunk=70)
    resampled = reference_bootstrap(a, b, 300, 3, 70)
    observed = numpy.mean([f1_of_sums(x) - f1_of_sums(y) for x, y in zip(a, b)])
    assert result["difference"] == pytest.approx(100 * observed, abs=1e-12)
    assert result["p_value"] == numpy.mean(numpy.abs(resampled - observed) >= abs(observed))
    assert result["interval_95"] == pytest.approx(list(100 * numpy.percentile(resampled, [2.5, 97.5])))


def test_identical_models_are_not_different_and_a_clear_winner_is():
    generator = numpy.random.default_rng(0)
    counts = random_counts(generator, 200)
    same = paired_bootstrap([counts], [counts], samples=500)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0
    better = counts.copy()
    better[:, 0] += better[:, 1] + better[:, 2]  # every sentence: all spans found, none wrong
    better[:, 1:] = 0
    clear = paired_bootstrap([better], [counts], samples=500)
    assert clear["f1_a"] == [100.0]
    assert clear["difference"] > 0 and clear["p_value"] < 0.01


def test_models_scored_on_different_sentences_are_an_error():
    with pytest.raises(InputFormatError, match="different sentences"):
        paired_bootstrap([numpy.zeros((3, 3))], [numpy.zeros((4, 3))])


@pytest.mark.usefixtures("demo_data_root")
def test_sentence_counts_sum_to_allennlp_evaluate(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train_model_from_file(FIXTURES / "configs" / "mtm_cw.jsonnet", run,
                          overrides=json.dumps({"trainer.num_epochs": 3, "trainer.optimizer.lr": 0.02}))
    evaluated = tmp_path / "test.json"
    run_allennlp(monkeypatch, "evaluate", run / "model.tar.gz", "test", "--output-file", evaluated,
                 "--include-package", "biomtl_allennlp")
    metrics = json.loads(evaluated.read_text())
    checked = 0
    for dataset in ("demo-gene", "demo-chemical", "demo-disease"):
        counts = sentence_counts(str(run / "model.tar.gz"), dataset, batch_size=3)
        tp, fp, fn = counts.sum(axis=0)
        precision = tp / (tp + fp) if tp + fp else 0.0
        assert precision == pytest.approx(metrics[f"{dataset}_precision"], abs=1e-9)
        assert float(f1_of_sums(counts)) == pytest.approx(metrics[f"{dataset}_f1"], abs=1e-9)
        checked += tp + fp > 0
    assert checked > 0
    with pytest.raises(InputFormatError, match="no head for 'BC5CDR'"):
        sentence_counts(str(run / "model.tar.gz"), "BC5CDR")
    # The command: counts saved from the archive give the same test as the archive itself.
    archive, counts_dir = str(run / "model.tar.gz"), tmp_path / "counts"
    from_archive, from_counts = tmp_path / "archive.json", tmp_path / "counts.json"
    run_allennlp(monkeypatch, "significance", "--a", archive, "--b", archive, "--dataset", "demo-gene",
                 "--samples", 50, "--save-counts", counts_dir, "--output-file", from_archive)
    saved = counts_dir / "run.demo-gene.test.json"
    assert json.loads(saved.read_text())["counts_tp_fp_fn"] == sentence_counts(archive, "demo-gene").tolist()
    run_allennlp(monkeypatch, "significance", "--a", saved, "--b", archive, "--dataset", "demo-gene",
                 "--samples", 50, "--output-file", from_counts)
    expected, found = json.loads(from_archive.read_text()), json.loads(from_counts.read_text())
    assert found["f1_a"] == expected["f1_a"] and found["p_value"] == expected["p_value"] == 1.0


def test_counts_files_are_checked(tmp_path):
    counts = numpy.array([[1, 0, 0], [0, 1, 2]])
    path = tmp_path / "m.json"
    save_counts(str(path), counts, "abc", "BC5CDR", "test", "run/model.tar.gz")
    loaded, fingerprint = load_counts(str(path), "BC5CDR", "test")
    assert loaded.tolist() == counts.tolist() and fingerprint == "abc"
    assert json.loads(path.read_text())["f1"] == pytest.approx(100 * 2 / 5)  # 2 tp / (2 tp + 1 fp + 2 fn)
    with pytest.raises(InputFormatError, match="counts of BC5CDR test, not of BC5CDR devel"):
        load_counts(str(path), "BC5CDR", "devel")
    record = json.loads(path.read_text())
    record["counts_tp_fp_fn"] = [[1, 0, 0]]
    path.write_text(json.dumps(record))
    with pytest.raises(InputFormatError, match="must be 2 rows of 3 counts"):
        load_counts(str(path), "BC5CDR", "test")
    path.write_text("{}")
    with pytest.raises(InputFormatError, match="m.json: not a per-sentence counts file"):
        load_counts(str(path), "BC5CDR", "test")


def test_counts_of_different_sentences_are_not_paired(tmp_path, monkeypatch, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_counts(str(a), numpy.array([[1, 0, 0]]), "one", "X", "test", "a")
    save_counts(str(b), numpy.array([[0, 0, 1]]), "two", "X", "test", "b")
    with pytest.raises(SystemExit):
        run_allennlp(monkeypatch, "significance", "--a", a, "--b", b, "--dataset", "X")
    assert "scored on different X test sentences" in capsys.readouterr().err
