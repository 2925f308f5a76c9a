import json
from pathlib import Path
from typing import Dict

import pytest

from biomtl_allennlp.evaluation.tables import (
    MetricsFileError,
    Results,
    figure4_data,
    figure4_table,
    load_metrics,
    main,
    parse_metric_key,
    parse_result_spec,
    render_markdown,
    table2,
    table3,
)

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
    "BC5CDR_f1": 0.88,
    "BC5CDR_Chemical_f1": 0.92,
    "BC5CDR_Disease_f1": 0.84,
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
    "BC5CDR_f1": 0.90,
    "BC5CDR_Chemical_f1": 0.94,
    "BC5CDR_Disease_f1": 0.86,
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


def test_parse_metric_key():
    assert parse_metric_key("BC2GM_f1") == ("BC2GM", None, "f1")
    assert parse_metric_key("test_BC2GM_f1") == ("BC2GM", None, "f1")
    assert parse_metric_key("JNLPBA_cell_line_f1") == ("JNLPBA", "cell_line", "f1")
    assert parse_metric_key("NCBI-disease_Disease_precision") == (
        "NCBI-disease",
        "Disease",
        "precision",
    )
    assert parse_metric_key("BC5CDR_Chemical_recall") == ("BC5CDR", "Chemical", "recall")
    assert parse_metric_key("best_validation_BC2GM_f1") is None
    assert parse_metric_key("macro_f1") is None
    assert parse_metric_key("loss") is None


def test_load_metrics_prefers_test_keys(tmp_path):
    path = _write(tmp_path, "m.json", {"BC2GM_f1": 0.5, "test_BC2GM_f1": 0.7, "epoch": 2})
    assert load_metrics(path) == {("BC2GM", None, "f1"): 0.7}


def test_load_metrics_errors_name_the_file(tmp_path):
    not_json = tmp_path / "broken.json"
    not_json.write_text("{not json")
    with pytest.raises(MetricsFileError, match="broken.json.*not valid JSON"):
        load_metrics(str(not_json))
    useless = _write(tmp_path, "useless.json", {"loss": 1.0, "macro_f1": 0.5})
    with pytest.raises(MetricsFileError, match="useless.json.*no recognisable"):
        load_metrics(useless)
    listing = _write(tmp_path, "list.json", [1, 2])
    with pytest.raises(MetricsFileError, match="list.json"):
        load_metrics(listing)
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
    path = _write(tmp_path, "m.json", {"BC4CHEMD_f1": 0.9})
    data = figure4_data(Results([("STM", path)]))
    assert data["chemicals"]["STM"].mean == pytest.approx(90.0)
    assert data["chemicals"]["STM"].std is None


def test_cli_writes_markdown_and_png(specs, tmp_path):
    markdown_path = tmp_path / "out.md"
    plot_path = tmp_path / "fig4.png"
    argv = []
    for model, path in specs:
        argv += ["--result", f"{model}={path}"]
    argv += ["--markdown", str(markdown_path), "--plot", str(plot_path), "--paper"]
    assert main(argv) == 0
    markdown = markdown_path.read_text()
    assert markdown == render_markdown(Results(specs), paper=True)
    assert "## Table 2" in markdown and "## Table 3" in markdown and "## Fig. 4" in markdown
    assert "| BC2GM | F1 | 75.00 | 81.00 ± 1.41 | 80.00 | 80.74 |" in markdown
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_path.stat().st_size > 1000


def test_cli_reports_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    assert main(["--result", f"STM={bad}"]) == 1
    assert "bad.json" in capsys.readouterr().err
