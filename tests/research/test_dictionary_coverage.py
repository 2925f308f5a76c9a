"""`research.converged.dictionary_coverage`: the share of each split's gold mentions that
the training-mention dictionary holds, checked on a hand-made data root."""
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

MODULE = "research.converged.dictionary_coverage"


def write_corpus(folder, splits):
    folder.mkdir()
    for split, sentences in splits.items():
        lines = []
        for sentence in sentences:
            lines += [f"{word}\t{tag}" for word, tag in sentence] + [""]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")


def test_coverage_counts_lowercased_mentions_of_every_corpus(tmp_path):
    # Training mentions of both corpora: "il 2", "tumour", "aspirin".
    write_corpus(tmp_path / "gene", {
        "train": [[("IL", "B-GENE"), ("2", "I-GENE"), ("binds", "O")]],
        # "il 2" (found, by lowercasing), "p53" (not found)
        "devel": [[("il", "B-GENE"), ("2", "I-GENE"), ("and", "O"), ("p53", "B-GENE")]],
        # "IL" alone is not the mention "il 2": 0 of 1
        "test": [[("IL", "B-GENE"), ("rose", "O")]],
    })
    write_corpus(tmp_path / "chem", {
        "train": [[("Aspirin", "B-Chemical"), ("eased", "O"), ("tumour", "B-Disease")]],
        # "tumour" (found), "Aspirin" (found), "ibuprofen" (not), "il 2" (found: the
        # dictionary holds the other corpus's training mentions too)
        "devel": [[("tumour", "B-Disease"), ("Aspirin", "B-Chemical"), ("ibuprofen", "B-Chemical")],
                  [("IL", "B-Chemical"), ("2", "I-Chemical")]],
        "test": [[("aspirin", "B-Chemical")]],
    })
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--data-root", str(tmp_path), "--datasets", "gene", "chem"],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT,
    )
    rows = [line for line in result.stdout.splitlines() if line.startswith("| gene") or line.startswith("| chem")]
    assert rows == [
        "| gene | 100.0% (1) | 50.0% (2) | 0.0% (1) |",
        "| chem | 100.0% (2) | 75.0% (4) | 100.0% (1) |",
    ]


def test_no_data_root_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("BIOMTL_DATA_ROOT", raising=False)
    result = subprocess.run([sys.executable, "-m", MODULE, "--datasets", "BC2GM"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode != 0
    assert "BIOMTL_DATA_ROOT" in result.stderr and "BC2GM" in result.stderr
