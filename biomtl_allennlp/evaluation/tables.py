"""
Turns evaluation outputs into the layouts of Wang et al. (2019): Table 2 (precision / recall / F1
per dataset and model), Table 3 (F1 of MTM-C / MTM-W / MTM-CW) and Fig. 4 (F1 per entity type,
macro-averaged over the datasets that have it), as markdown and as a bar chart.

Inputs are `metrics.json` files written by `allennlp evaluate --output-file` (keys such as
`BC2GM_f1`, `BC5CDR_Chemical_precision`) or by `allennlp train` (the same keys prefixed with
`test_`, preferred over plain ones; `validation_`/`best_validation_`/`training_` keys are ignored).
Values are fractions and are shown as percentages with 2 decimals.

Each input is labelled with a model name. Every value of a cell is collected over all the files of
its model: the same model given several times (several seeds) shows `mean ± std` (sample standard
deviation over the files that have the cell); STM given one file per dataset is merged into one
column. Cells without values are `-`.

Metric keys are read by `biomtl_allennlp.common.metric_keys`, which needs no list of datasets:
the tables show the paper's datasets in the paper's order, then any other dataset of the inputs
in the order first seen.

Command line: `allennlp tables` (`biomtl_allennlp/commands/tables.py`), e.g.

    allennlp tables \\
        --result STM=runs/stm_bc2gm/metrics.json --result STM=runs/stm_bc5cdr/metrics.json \\
        --result MTM-CW=runs/mtm_cw_seed1/metrics.json \\
        --result MTM-CW=runs/mtm_cw_seed2/metrics.json \\
        [--markdown results.md] [--plot fig4.png] [--paper]
"""
import json
import math
import statistics
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.markdown import markdown_table
from biomtl_allennlp.common.metric_keys import MEASURES, TEST_PREFIX, MetricKey, parse_metric_keys

# Table layout: the paper's datasets in its order, with their entity types.
PAPER_DATASETS: "OrderedDict[str, List[str]]" = OrderedDict(
    [
        ("BC2GM", ["GENE"]),
        ("BC4CHEMD", ["Chemical"]),
        ("BC5CDR", ["Chemical", "Disease"]),
        ("NCBI-disease", ["Disease"]),
        ("JNLPBA", ["DNA", "RNA", "cell_line", "cell_type", "protein"]),
    ]
)
METRIC_LABELS = {"precision": "P", "recall": "R", "f1": "F1"}

# Fig. 4: entity types and the (dataset, type) components averaged for each.
FIGURE4_GROUPS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("genes/proteins", [("BC2GM", "GENE"), ("JNLPBA", "protein")]),
    ("chemicals", [("BC4CHEMD", "Chemical"), ("BC5CDR", "Chemical")]),
    ("diseases", [("BC5CDR", "Disease"), ("NCBI-disease", "Disease")]),
    ("cell lines", [("JNLPBA", "cell_line")]),
]

TABLE3_MODELS = ["MTM-C", "MTM-W", "MTM-CW"]

# Test F1 (%) reported in the paper (Table 2).
PAPER_F1: Dict[str, Dict[str, float]] = {
    "STM": {
        "BC2GM": 80.00,
        "BC4CHEMD": 88.75,
        "BC5CDR": 86.96,
        "NCBI-disease": 83.92,
        "JNLPBA": 72.17,
    },
    "MTM-CW": {
        "BC2GM": 80.74,
        "BC4CHEMD": 89.37,
        "BC5CDR": 88.78,
        "NCBI-disease": 86.14,
        "JNLPBA": 73.52,
    },
}

def load_metrics(path: str) -> Dict[MetricKey, float]:
    """
    Reads one metrics JSON file.

    # Returns

    `{MetricKey(dataset, type_or_None, measure): fraction}` (a `MetricKey` is a
    `(dataset, entity_type, measure)` tuple). `test_`-prefixed keys win over plain ones.

    # Raises

    `InputFormatError` (naming the file, and the line for invalid JSON) when it cannot be read,
    is not a JSON object, or has no per-dataset metric.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise InputFormatError(f"cannot read metrics file: {error.strerror}", path) from error
    except json.JSONDecodeError as error:
        raise InputFormatError(f"not valid JSON: {error.msg}", path, error.lineno) from error
    except ValueError as error:
        raise InputFormatError(f"not valid JSON: {error}", path) from error
    if not isinstance(data, dict):
        raise InputFormatError("not a JSON object of metrics", path)

    numeric = {
        key: value for key, value in data.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    metrics: Dict[MetricKey, float] = {}
    from_test: Dict[MetricKey, bool] = {}
    for key, parsed in parse_metric_keys(numeric).items():
        is_test = key.startswith(TEST_PREFIX)
        if parsed in metrics and from_test[parsed] and not is_test:
            continue
        metrics[parsed] = float(numeric[key])
        from_test[parsed] = is_test
    if not metrics:
        raise InputFormatError(
            "no per-dataset metrics: expected, for each dataset, the keys "
            "'<dataset>_precision', '<dataset>_recall' and '<dataset>_f1' (optionally "
            "'test_'-prefixed, with per-type keys such as '<dataset>_<type>_f1')",
            path,
        )
    return metrics


class Results:
    """
    Metric values of several models, each collected over all the files given for the model.

    # Parameters

    specs : `Sequence[Tuple[str, str]]`
        `(model, metrics_path)` pairs; a model may appear several times.
    """

    def __init__(self, specs: Sequence[Tuple[str, str]]) -> None:
        self.models: List[str] = []
        self.files: Dict[str, List[str]] = {}
        self.values: Dict[str, Dict[MetricKey, List[float]]] = {}
        seen: Dict[str, None] = {}
        for model, path in specs:
            metrics = load_metrics(path)
            if model not in self.values:
                self.models.append(model)
                self.files[model] = []
                self.values[model] = {}
            self.files[model].append(path)
            for key, value in metrics.items():
                self.values[model].setdefault(key, []).append(value)
                seen.setdefault(key.dataset)
        # Table rows: the paper's datasets, then the others in the order first seen.
        self.datasets: List[str] = list(PAPER_DATASETS)
        self.datasets += [dataset for dataset in seen if dataset not in PAPER_DATASETS]

    def get(self, model: str, dataset: str, entity_type: Optional[str], metric: str) -> List[float]:
        """All values of a cell (fractions), `[]` when missing."""
        return list(self.values.get(model, {}).get(MetricKey(dataset, entity_type, metric), []))

    def type_f1(self, model: str, dataset: str, entity_type: str) -> List[float]:
        """
        F1 values of one entity type of a dataset; for a single-type dataset the dataset-level F1
        stands in when the per-type key is missing.
        """
        values = self.get(model, dataset, entity_type, "f1")
        if not values and PAPER_DATASETS.get(dataset) == [entity_type]:
            values = self.get(model, dataset, None, "f1")
        return values


def parse_result_spec(spec: str) -> Tuple[str, str]:
    """`"MODEL=path"` -> `("MODEL", "path")`."""
    model, sep, path = spec.partition("=")
    if not sep or not model.strip() or not path.strip():
        raise ValueError(f"--result expects MODEL=path/to/metrics.json, got {spec!r}")
    return model.strip(), path.strip()


def summarize(values: Sequence[float]) -> Tuple[Optional[float], Optional[float]]:
    """`(mean, sample std)`; std is `None` for fewer than 2 values, both `None` for none."""
    if not values:
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def format_cell(mean: Optional[float], std: Optional[float] = None) -> str:
    """`mean` (a percentage) with 2 decimals, `± std` when given, `-` when missing."""
    if mean is None or math.isnan(mean):
        return "-"
    if std is None:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {std:.2f}"


def format_values(values: Sequence[float]) -> str:
    """Fractions -> `mean ± std` as percentages (or `-`)."""
    mean, std = summarize([100.0 * v for v in values])
    return format_cell(mean, std)


def table2(results: Results, paper: bool = False) -> str:
    """Table 2: P / R / F1 (%) per dataset (rows) and model (columns)."""
    header = ["Dataset", "Metric"] + results.models
    paper_models = list(PAPER_F1) if paper else []
    header += [f"{model} (paper)" for model in paper_models]
    rows = []
    for dataset in results.datasets:
        for metric in MEASURES:
            row = [dataset, METRIC_LABELS[metric]]
            row += [format_values(results.get(m, dataset, None, metric)) for m in results.models]
            for model in paper_models:
                row.append(_paper_cell(model, dataset) if metric == "f1" else "-")
            rows.append(row)
    return markdown_table(header, rows)


def _paper_cell(model: str, dataset: str) -> str:
    return format_cell(PAPER_F1[model].get(dataset))


def table3(results: Results, paper: bool = False) -> str:
    """Table 3: F1 (%) of MTM-C / MTM-W / MTM-CW per dataset."""
    header = ["Dataset"] + TABLE3_MODELS + (["MTM-CW (paper)"] if paper else [])
    rows = []
    for dataset in results.datasets:
        row = [dataset]
        row += [format_values(results.get(m, dataset, None, "f1")) for m in TABLE3_MODELS]
        if paper:
            row.append(_paper_cell("MTM-CW", dataset))
        rows.append(row)
    return markdown_table(header, rows)


class Figure4Cell:
    """F1 (%) of one entity type for one model: `mean`, `std` and the components used."""

    def __init__(
        self, mean: Optional[float], std: Optional[float], components: List[Tuple[str, str]]
    ) -> None:
        self.mean = mean
        self.std = std
        self.components = components


def figure4_cell(
    results: Results, model: str, components: Sequence[Tuple[str, str]]
) -> Figure4Cell:
    """
    Macro-average of the F1 of the available `components`. With several runs and the same number
    of values for every component, runs are paired in file order and the std is over the per-run
    averages; otherwise the mean of the component means is given without std.
    """
    available = [(c, results.type_f1(model, *c)) for c in components]
    available = [(c, [100.0 * v for v in values]) for c, values in available if values]
    if not available:
        return Figure4Cell(None, None, [])
    used = [c for c, _ in available]
    counts = {len(values) for _, values in available}
    if len(counts) == 1:
        runs = counts.pop()
        per_run = [statistics.fmean(values[i] for _, values in available) for i in range(runs)]
        mean, std = summarize(per_run)
        return Figure4Cell(mean, std, used)
    mean = statistics.fmean(statistics.fmean(values) for _, values in available)
    return Figure4Cell(mean, None, used)


def figure4_data(results: Results) -> "OrderedDict[str, Dict[str, Figure4Cell]]":
    """`{entity type group: {model: Figure4Cell}}` in the paper's order."""
    data: "OrderedDict[str, Dict[str, Figure4Cell]]" = OrderedDict()
    for group, components in FIGURE4_GROUPS:
        data[group] = {model: figure4_cell(results, model, components) for model in results.models}
    return data


def _component_names(components: Sequence[Tuple[str, str]]) -> str:
    return ", ".join(f"{dataset} {entity_type}" for dataset, entity_type in components)


def figure4_table(results: Results) -> str:
    """Fig. 4 as a markdown table, followed by the components each average used."""
    data = figure4_data(results)
    header = ["Entity type"] + results.models
    rows = [
        [group] + [format_cell(cells[m].mean, cells[m].std) for m in results.models]
        for group, cells in data.items()
    ]
    notes = ["", "Components averaged (F1 of each entity type of each dataset):", ""]
    for group, components in FIGURE4_GROUPS:
        cells = data[group]
        used = [c for c in components if any(c in cell.components for cell in cells.values())]
        missing = [c for c in components if c not in used]
        line = f"- {group}: {_component_names(used) if used else 'none available'}"
        if missing and used:
            line += f" (missing: {_component_names(missing)})"
        partial = [
            f"{model}: {_component_names(cell.components)}"
            for model, cell in cells.items()
            if cell.components and cell.components != used
        ]
        if partial:
            line += f"; only {'; '.join(partial)}"
        notes.append(line)
    return markdown_table(header, rows) + "\n" + "\n".join(notes)


def render_markdown(results: Results, paper: bool = False) -> str:
    """All tables as one markdown document."""
    sources = [
        f"- {model}: {len(results.files[model])} file(s): {', '.join(results.files[model])}"
        for model in results.models
    ]
    parts = [
        "# Results",
        "",
        "Percentages; `mean ± std` (sample std) where a model has several runs, "
        "`-` where missing.",
        "",
        *sources,
        "",
        "## Table 2: precision (P), recall (R) and F1 per dataset",
        "",
        table2(results, paper),
        "",
        "## Table 3: F1 of the multi-task models",
        "",
        table3(results, paper),
        "",
        "## Fig. 4: F1 per entity type (macro-average over datasets)",
        "",
        figure4_table(results),
        "",
    ]
    return "\n".join(parts)


def plot_figure4(results: Results, path: str) -> None:
    """Fig. 4 as a grouped bar chart (one group per entity type, one bar per model) in `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = figure4_data(results)
    groups = list(data)
    models = results.models
    width = 0.8 / max(len(models), 1)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 0.4 * len(models)), 4.0))
    for index, model in enumerate(models):
        cells = [data[group][model] for group in groups]
        positions = [g + (index - (len(models) - 1) / 2) * width for g in range(len(groups))]
        heights = [cell.mean if cell.mean is not None else 0.0 for cell in cells]
        errors = [cell.std if cell.std is not None else 0.0 for cell in cells]
        has_errors = any(cell.std is not None for cell in cells)
        axes.bar(
            positions,
            heights,
            width,
            label=model,
            yerr=errors if has_errors else None,
            capsize=3 if has_errors else 0,
        )
    axes.set_xticks(list(range(len(groups))))
    axes.set_xticklabels(groups)
    axes.set_ylabel("F1 (%)")
    axes.set_title("F1 per entity type")
    means = [
        cell.mean for cells in data.values() for cell in cells.values() if cell.mean is not None
    ]
    if means:
        axes.set_ylim(max(0.0, min(means) - 15.0), min(100.0, max(means) + 5.0))
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
