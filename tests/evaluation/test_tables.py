import json
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
from allennlp.commands import main as allennlp_main

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.evaluation.tables import (
    Results,
    figure4_data,
    figure4_table,
    load_metrics,
    parse_result_spec,
    render_markdown,
    table2,
    table3,
)
from tests.conftest import PROJECT_ROOT
from tests.run_allennlp import run_allennlp

STM_BC2GM = {
    "BC2GM_precision": 0.80,
    "BC2GM_recall": 0.70,
    "BC2GM_f1": 0.75,
    "BC2GM_GENE_f1": 0.75,
    "loss": 1.5,
}
# A training metrics.json: test_ keys, plus validation keys that must be ignored.
STM_NCBI = {
    "best_epoch": 3,
    "best_validation_NCBI-disease_f1": 0.99,
    "validation_NCBI-disease_f1": 0.98,
    "training_NCBI-disease_f1": 0.97,
    "test_NCBI-disease_precision": 0.85,
    "test_NCBI-disease_recall": 0.83,
    "test_NCBI-disease_f1": 0.84,
    "test_NCBI-disease_Disease_f1": 0.84,
}
MTM_CW_SEED1 = {
    "BC2GM_precision": 0.81,
    "BC2GM_recall": 0.79,
    "BC2GM_f1": 0.80,
    "BC2GM_GENE_f1": 0.80,
    "BC5CDR_precision": 0.87,
    "BC5CDR_recall": 0.89,
    "BC5CDR_f1": 0.88,
    "BC5CDR_Chemical_f1": 0.92,
    "BC5CDR_Disease_f1": 0.84,
    "JNLPBA_precision": 0.71,
    "JNLPBA_recall": 0.73,
    "JNLPBA_f1": 0.72,
    "JNLPBA_protein_f1": 0.70,
    "JNLPBA_cell_line_f1": 0.60,
    "macro_f1": 0.8,
    "loss": 2.0,
}
MTM_CW_SEED2 = {
    "BC2GM_precision": 0.83,
    "BC2GM_recall": 0.81,
    "BC2GM_f1": 0.82,
    "BC2GM_GENE_f1": 0.82,
    "BC5CDR_precision": 0.89,
    "BC5CDR_recall": 0.91,
    "BC5CDR_f1": 0.90,
    "BC5CDR_Chemical_f1": 0.94,
    "BC5CDR_Disease_f1": 0.86,
    "JNLPBA_precision": 0.73,
    "JNLPBA_recall": 0.75,
    "JNLPBA_f1": 0.74,
    "JNLPBA_protein_f1": 0.72,
    "JNLPBA_cell_line_f1": 0.64,
    "macro_f1": 0.82,
    "loss": 1.9,
}


def _write(directory: Path, name: str, content: Dict) -> str:
    path = directory / name
    path.write_text(json.dumps(content))
    return str(path)


@pytest.fixture
def specs(tmp_path):
    return [
        ("STM", _write(tmp_path, "stm_bc2gm.json", STM_BC2GM)),
        ("STM", _write(tmp_path, "stm_ncbi.json", STM_NCBI)),
        ("MTM-CW", _write(tmp_path, "mtm_cw_1.json", MTM_CW_SEED1)),
        ("MTM-CW", _write(tmp_path, "mtm_cw_2.json", MTM_CW_SEED2)),
    ]


def _rows(markdown: str) -> Dict[str, list]:
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] != "---":
            rows[" ".join(cells[:2])] = cells
    return rows


def _overall(dataset: str, precision: float, recall: float, f1: float, prefix: str = "") -> Dict:
    return {f"{prefix}{dataset}_precision": precision, f"{prefix}{dataset}_recall": recall,
            f"{prefix}{dataset}_f1": f1}


def test_load_metrics_reads_any_dataset(tmp_path):
    metrics = {
        **_overall("AnatEM-IOBES", 0.5, 0.6, 0.55, "test_"),
        "test_AnatEM-IOBES_Multi-tissue_structure_f1": 0.4,
        **_overall("JNLPBA", 0.7, 0.8, 0.75),
        "JNLPBA_cell_line_f1": 0.6,
        "best_validation_BC2GM_f1": 0.9,
        "macro_f1": 0.6,
        "without_postprocessing": {"test_JNLPBA_f1": 0.1},
    }
    loaded = load_metrics(_write(tmp_path, "m.json", metrics))
    assert loaded == {
        ("AnatEM-IOBES", None, "precision"): 0.5,
        ("AnatEM-IOBES", None, "recall"): 0.6,
        ("AnatEM-IOBES", None, "f1"): 0.55,
        ("AnatEM-IOBES", "Multi-tissue_structure", "f1"): 0.4,
        ("JNLPBA", None, "precision"): 0.7,
        ("JNLPBA", None, "recall"): 0.8,
        ("JNLPBA", None, "f1"): 0.75,
        ("JNLPBA", "cell_line", "f1"): 0.6,
    }
    # Datasets beyond the paper's get rows after the paper's five.
    lines = table3(Results([("MTM-CW", _write(tmp_path, "m.json", metrics))])).splitlines()
    assert lines[2:] == [
        "| BC2GM | - | - | - |",
        "| BC4CHEMD | - | - | - |",
        "| BC5CDR | - | - | - |",
        "| NCBI-disease | - | - | - |",
        "| JNLPBA | - | - | 75.00 |",
        "| AnatEM-IOBES | - | - | 55.00 |",
    ]


def test_load_metrics_prefers_test_keys(tmp_path):
    metrics = {**_overall("BC2GM", 0.4, 0.6, 0.5), **_overall("BC2GM", 0.6, 0.8, 0.7, "test_"),
               "epoch": 2}
    assert load_metrics(_write(tmp_path, "m.json", metrics)) == {
        ("BC2GM", None, "precision"): 0.6,
        ("BC2GM", None, "recall"): 0.8,
        ("BC2GM", None, "f1"): 0.7,
    }


def test_load_metrics_errors_name_the_file(tmp_path):
    not_json = tmp_path / "broken.json"
    not_json.write_text('{\n  "BC2GM_f1": 0.5,\n  oops\n}')
    with pytest.raises(InputFormatError) as error:
        load_metrics(str(not_json))
    assert str(error.value) == (
        f"{not_json}:3: not valid JSON: Expecting property name enclosed in double quotes"
    )
    useless = _write(tmp_path, "useless.json", {"loss": 1.0, "macro_f1": 0.5, "BC2GM_f1": 0.5})
    with pytest.raises(InputFormatError, match="useless.json: no per-dataset metrics: expected"):
        load_metrics(useless)
    listing = _write(tmp_path, "list.json", [1, 2])
    with pytest.raises(InputFormatError, match="list.json: not a JSON object"):
        load_metrics(listing)
    with pytest.raises(InputFormatError, match="missing.json: cannot read metrics file: No such"):
        load_metrics(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="MODEL=path"):
        parse_result_spec("no-equals-sign.json")


def test_table2_merges_stm_files_and_averages_seeds(specs):
    rows = _rows(table2(Results(specs), paper=True))
    assert rows["Dataset Metric"] == [
        "Dataset",
        "Metric",
        "STM",
        "MTM-CW",
        "STM (paper)",
        "MTM-CW (paper)",
    ]
    assert rows["BC2GM P"][2:] == ["80.00", "82.00 ± 1.41", "-", "-"]
    assert rows["BC2GM R"][2:] == ["70.00", "80.00 ± 1.41", "-", "-"]
    assert rows["BC2GM F1"][2:] == ["75.00", "81.00 ± 1.41", "80.00", "80.74"]
    assert rows["NCBI-disease P"][2:] == ["85.00", "-", "-", "-"]
    assert rows["NCBI-disease F1"][2:] == ["84.00", "-", "83.92", "86.14"]
    assert rows["BC4CHEMD F1"][2:] == ["-", "-", "88.75", "89.37"]
    assert rows["BC5CDR F1"][2:] == ["-", "89.00 ± 1.41", "86.96", "88.78"]
    assert rows["JNLPBA F1"][2:] == ["-", "73.00 ± 1.41", "72.17", "73.52"]


def test_table2_without_paper_columns(specs):
    header = table2(Results(specs)).splitlines()[0]
    assert header == "| Dataset | Metric | STM | MTM-CW |"


def test_table3(specs):
    lines = table3(Results(specs), paper=True).splitlines()
    assert lines[0] == "| Dataset | MTM-C | MTM-W | MTM-CW | MTM-CW (paper) |"
    assert lines[2] == "| BC2GM | - | - | 81.00 ± 1.41 | 80.74 |"
    assert lines[3] == "| BC4CHEMD | - | - | - | 89.37 |"
    assert lines[6] == "| JNLPBA | - | - | 73.00 ± 1.41 | 73.52 |"


def test_figure4(specs):
    results = Results(specs)
    data = figure4_data(results)
    assert data["genes/proteins"]["MTM-CW"].components == [("BC2GM", "GENE"), ("JNLPBA", "protein")]
    assert data["genes/proteins"]["STM"].components == [("BC2GM", "GENE")]
    lines = figure4_table(results).splitlines()
    assert lines[0] == "| Entity type | STM | MTM-CW |"
    # Runs paired by file order: (80 + 70) / 2 = 75 and (82 + 72) / 2 = 77.
    assert lines[2] == "| genes/proteins | 75.00 | 76.00 ± 1.41 |"
    assert lines[3] == "| chemicals | - | 93.00 ± 1.41 |"
    assert lines[4] == "| diseases | 84.00 | 85.00 ± 1.41 |"
    assert lines[5] == "| cell lines | - | 62.00 ± 2.83 |"
    notes = "\n".join(lines[6:])
    assert (
        "- genes/proteins: BC2GM GENE, JNLPBA protein; only STM: BC2GM GENE" in notes
    )
    assert "- chemicals: BC5CDR Chemical (missing: BC4CHEMD Chemical)" in notes
    assert (
        "- diseases: BC5CDR Disease, NCBI-disease Disease; "
        "only STM: NCBI-disease Disease; MTM-CW: BC5CDR Disease" in notes
    )
    assert "- cell lines: JNLPBA cell_line" in notes


def test_single_type_dataset_falls_back_to_dataset_f1(tmp_path):
    path = _write(tmp_path, "m.json", _overall("BC4CHEMD", 0.9, 0.9, 0.9))
    data = figure4_data(Results([("STM", path)]))
    assert data["chemicals"]["STM"].mean == pytest.approx(90.0)
    assert data["chemicals"]["STM"].std is None


def _tables(monkeypatch, argv):
    """`allennlp tables ARGV` in this process."""
    run_allennlp(monkeypatch, "tables", *argv)


def test_cli_writes_markdown_and_png(specs, tmp_path, monkeypatch):
    markdown_path = tmp_path / "out.md"
    plot_path = tmp_path / "fig4.png"
    argv = []
    for model, path in specs:
        argv += ["--result", f"{model}={path}"]
    argv += ["--markdown", str(markdown_path), "--plot", str(plot_path), "--paper"]
    _tables(monkeypatch, argv)
    markdown = markdown_path.read_text()
    assert markdown == render_markdown(Results(specs), paper=True)
    assert "## Table 2" in markdown and "## Table 3" in markdown and "## Fig. 4" in markdown
    assert "| BC2GM | F1 | 75.00 | 81.00 ± 1.41 | 80.00 | 80.74 |" in markdown
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_path.stat().st_size > 1000


def test_cli_reports_bad_input(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    with pytest.raises(SystemExit) as exit_info:
        _tables(monkeypatch, ["--result", f"STM={bad}"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"error: {bad}:1: not valid JSON: Expecting value\n"
    with pytest.raises(SystemExit) as exit_info:
        _tables(monkeypatch, ["--result", "no-equals-sign.json"])
    assert exit_info.value.code == 2  # a usage error, reported by argparse
    assert "--result expects MODEL=path/to/metrics.json, got 'no-equals-sign.json'" in (
        capsys.readouterr().err
    )


def test_allennlp_tables_subcommand(specs, tmp_path, monkeypatch, capsys):
    argv = ["allennlp", "tables"]
    for model, path in specs:
        argv += ["--result", f"{model}={path}"]
    monkeypatch.setattr(sys, "argv", argv + ["--paper", "--include-package", "biomtl_allennlp"])
    allennlp_main()
    assert capsys.readouterr().out == render_markdown(Results(specs), paper=True)
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    monkeypatch.setattr(sys, "argv", ["allennlp", "tables", "--result", f"STM={bad}"])
    with pytest.raises(SystemExit) as exit_info:
        allennlp_main()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"error: {bad}: not a JSON object of metrics\n"


def test_allennlp_tables_help_in_a_fresh_process():
    # The subcommand is found the way allennlp finds plugin subcommands (.allennlp_plugins in
    # the working directory), and --help explains it.
    result = subprocess.run(
        [sys.executable, "-m", "allennlp", "tables", "--help"], cwd=PROJECT_ROOT,
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: allennlp tables [-h] --result MODEL=PATH")
    assert "Table 2" in result.stdout and "--include-package" in result.stdout
    assert "allennlp evaluate" in result.stdout
