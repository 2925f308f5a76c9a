"""
The reproduction's report: the results markdown (budget, runs, MTM-CW vs STM, the paper's
Tables 2-4 and Fig. 4 through `biomtl_allennlp.evaluation.tables`, the many-dataset
setting) and the Fig. 4 PNG, written from the runs that finished.

The page is a function of the command's arguments and the run records alone (no date or
commit of its writing), so that writing it again from the committed records gives the same
bytes (`python -m research.pages --check`).
"""
import os
import statistics
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from biomtl_allennlp.common.markdown import markdown_table
from biomtl_allennlp.evaluation import tables
from research.plan import (
    DICT_FEATURE,
    DICT_POSTPROCESS,
    DICTIONARY_MODELS,
    MANY,
    REPO_ROOT,
    Budget,
    Run,
    seeds_by_model,
    shown_path,
)
from research.record import machine_description, read_json
from research.store import f1_on_test, metrics_complete, metrics_file

# Table 2 / Fig. 4 columns, in this order; Table 3 is MTM-C/W/CW; Table 4 the MTM-CW variants.
TABLE2_MODELS = ["Lample", "Ma-Hovy", "STM", "MTM-C", "MTM-W", "MTM-CW"]
TABLE4_MODELS = {
    "MTM-CW": "MTM-CW",
    DICT_FEATURE: "MTM-CW + dict feature",
    DICT_POSTPROCESS: "MTM-CW + dict post-processing",
}


def _relative_files(results: tables.Results) -> tables.Results:
    """Lists a `tables.Results`' metrics files relative to the repository."""
    results.files = {m: [shown_path(Path(f)) for f in files] for m, files in results.files.items()}
    return results


def started_range(records: Iterable[Dict[str, Any]]) -> str:
    """`first to last` start time of the recorded runs (`-` when none recorded one)."""
    started = sorted(r["started"] for r in records if isinstance(r.get("started"), str))
    if not started:
        return "-"
    return started[0] if started[0] == started[-1] else f"{started[0]} to {started[-1]}"


def compare_mtm_cw_stm(runs: List[Run], datasets: Sequence[str]) -> List[Dict[str, Any]]:
    """
    Per dataset: STM and MTM-CW test F1 (%) per seed, the difference of the means and the
    differences of runs with the same seed (mean, std, min, max).
    """
    rows = []
    for dataset in datasets:
        stm = {r.seed: f1_on_test(r.metrics_path, dataset)
               for r in runs if r.model == "STM" and r.datasets == [dataset]}
        mtm = {r.seed: f1_on_test(r.metrics_path, dataset)
               for r in runs if r.model == "MTM-CW" and dataset in r.datasets}
        stm = {s: 100 * v for s, v in stm.items() if v is not None}
        mtm = {s: 100 * v for s, v in mtm.items() if v is not None}
        if not stm or not mtm:
            continue
        paired = [mtm[s] - stm[s] for s in sorted(set(stm) & set(mtm))]
        rows.append(
            {
                "dataset": dataset,
                "stm": list(stm.values()),
                "mtm_cw": list(mtm.values()),
                "diff_of_means": statistics.fmean(mtm.values()) - statistics.fmean(stm.values()),
                "paired": paired,
            }
        )
    return rows


def mean_std(values: Sequence[float]) -> str:
    """`mean ± std (n=N)` with 2 decimals (`allennlp tables`' cells), `mean (n=1)`, or `-`."""
    if not values:
        return "-"
    return f"{tables.format_cell(*tables.summarize(values))} (n={len(values)})"


def signed(value: float) -> str:
    return f"{value:+.2f}"


def comparison_lines(rows: List[Dict[str, Any]]) -> List[str]:
    lines = []
    for row in rows:
        paired = row["paired"]
        spread = ""
        if paired:
            spread = (
                f"; same-seed differences {', '.join(signed(d) for d in paired)}"
                f" (mean {signed(statistics.fmean(paired))}"
                + (f", std {statistics.stdev(paired):.2f}" if len(paired) > 1 else "")
                + f", range {signed(min(paired))} to {signed(max(paired))})"
            )
        lines.append(
            f"{row['dataset']}: STM {mean_std(row['stm'])}, MTM-CW {mean_std(row['mtm_cw'])}, "
            f"MTM-CW - STM {signed(row['diff_of_means'])}{spread}"
        )
    return lines


def comparison_table(rows: List[Dict[str, Any]]) -> str:
    header = ["Dataset", "STM F1", "MTM-CW F1", "MTM-CW − STM (means)", "same-seed differences",
              "mean ± std of same-seed differences"]
    cells = []
    for row in rows:
        paired = row["paired"]
        if paired:
            spread = signed(statistics.fmean(paired)) + (
                f" ± {statistics.stdev(paired):.2f}" if len(paired) > 1 else ""
            )
        else:
            spread = "-"
        cells.append([
            row["dataset"], mean_std(row["stm"]), mean_std(row["mtm_cw"]),
            signed(row["diff_of_means"]), ", ".join(signed(d) for d in paired) or "-", spread,
        ])
    return markdown_table(header, cells)


def many_dataset_section(done: List[Run], many: List[Run], datasets: Sequence[str]) -> List[str]:
    """MTM-CW on every dataset under the data root, beside MTM-CW on the benchmark datasets."""
    mtm_cw = [r for r in done if r.model == "MTM-CW"]
    all_datasets = list(dict.fromkeys(d for r in many for d in r.datasets))
    rows = []
    for dataset in all_datasets:
        few = [100 * v for r in mtm_cw if dataset in r.datasets
               for v in [f1_on_test(r.metrics_path, dataset)] if v is not None]
        lots = [100 * v for r in many
                for v in [f1_on_test(r.metrics_path, dataset)] if v is not None]
        diff = (signed(statistics.fmean(lots) - statistics.fmean(few))
                if few and lots else "-")
        name = f"**{dataset}**" if dataset in datasets else dataset
        rows.append([name, mean_std(few), mean_std(lots), diff])
    header = ["Dataset", f"MTM-CW ({len(datasets)} datasets)",
              f"{MANY} ({len(all_datasets)} datasets)", "difference of the means"]
    return [
        "## Many-dataset setting: MTM-CW on every dataset under the data root",
        "",
        f"`{MANY}` is MTM-CW trained on all {len(all_datasets)} datasets of the data root "
        f"(seeds {', '.join(str(r.seed) for r in many)}), one CRF head each, under the same "
        "budget; `MTM-CW` is the benchmark-datasets model above. Test F1 (%).",
        "",
        *markdown_table(header, rows).splitlines(),
        "",
    ]


def write_results(
    runs: List[Run],
    budget: Budget,
    datasets: Sequence[str],
    command: str,
    results_path: Path,
    figure_path: Path,
    data_root: Path,
    dictionary: Optional[Path] = None,
    notes: Optional[Path] = None,
    store_dir: Optional[Path] = None,
) -> List[str]:
    """
    Writes the results markdown (and the Fig. 4 PNG) from the runs that have complete metrics;
    returns the MTM-CW vs STM summary lines.
    """
    done = [r for r in runs if metrics_complete(r.metrics_path, r.datasets)]
    specs = [(r.model, str(metrics_file(r, store_dir)))
             for m in TABLE2_MODELS for r in done if r.model == m]
    # Table 4 only where a dictionary variant finished (MTM-CW alone is not Table 4).
    table4_specs = [
        (TABLE4_MODELS[r.model], str(metrics_file(r, store_dir)))
        for m in TABLE4_MODELS for r in done if r.model == m
    ] if any(r.model in DICTIONARY_MODELS for r in done) else []
    comparison = compare_mtm_cw_stm(done, datasets)
    summary = comparison_lines(comparison)
    records = {run.name: read_json(run.record_path) or {} for run in runs}
    epochs_per_run = [
        r["epochs_trained"] for r in records.values() if isinstance(r.get("epochs_trained"), int)
    ]
    threads_used = [r["threads"] for r in records.values() if isinstance(r.get("threads"), int)]
    budget_rows = budget.describe(epochs_per_run, threads_used, seeds_by_model(runs))

    parts = [
        "# Reproduction results: Wang et al. 2019, cross-type biomedical NER with multi-task learning",
        "",
        "Generated by `python -m research.reproduce` from the run records (do not edit by hand: "
        "running it again, or `python -m research.pages`, overwrites this file).",
        "",
        f"- Command: `{command}`",
        f"- Runs started: {started_range(records.values())}",
        "- Machine: "
        + (
            "; ".join(sorted({r["machine"] for r in records.values() if r.get("machine")}))
            or machine_description(budget.cuda_device)
        ),
        f"- Data: {os.path.relpath(data_root, REPO_ROOT)} (datasets: {', '.join(datasets)})"
        + ("" if "BC4CHEMD" in datasets else "; BC4CHEMD is not available here, its rows stay empty"),
        "",
        "## Budget (the same for every run)",
        "",
        markdown_table(["Setting", "Value"], budget_rows),
        "",
        "The paper trains with SGD (lr 0.01, momentum 0.9) for up to 100+ epochs with early "
        "stopping and 200-d word2vec vectors pre-trained on PubMed/PMC; the runs here use the "
        "budget above and randomly initialised word embeddings, so absolute scores are lower "
        "than the paper's; the comparison between models under the same budget is the point.",
        "",
        "## Runs",
        "",
    ]
    total_wall = 0.0
    run_rows = []
    for run in runs:
        record = records[run.name]
        wall = record.get("wall_time_s")
        if isinstance(wall, (int, float)):
            total_wall += wall
        status = f"`{shown_path(metrics_file(run, store_dir))}`" if run in done else "missing"
        datasets_text = (
            f"{len(run.datasets)} datasets" if run.model == MANY
            else ", ".join(run.datasets)
        )
        run_rows.append([
            run.name, run.model, datasets_text, run.seed,
            record.get("epochs_trained", "-") if run.is_training else "-",
            wall if wall is not None else "-", status,
        ])
    parts += [
        markdown_table(
            ["Run", "Model", "Datasets", "Seed", "Epochs", "Wall time (s)", "Metrics"], run_rows
        ),
        "",
        f"Total wall time of the runs: {total_wall / 3600:.2f} h ({total_wall:.0f} s)"
        + (" (runs in parallel: the sum of their wall times)"
           if budget.time_budget_s is not None else "") + ".",
        "",
    ]
    parts += [
        "## MTM-CW vs STM (test F1, %)",
        "",
        comparison_table(comparison) if comparison else "No dataset has both STM and MTM-CW runs.",
        "",
    ]
    if specs:
        results = _relative_files(tables.Results(specs))
        body = tables.render_markdown(results, paper=True).splitlines()
        # Drop the module's own title; keep its sections.
        body = [line for line in body if line != "# Results"]
        parts += ["## Paper tables", ""] + body
        figure_path.parent.mkdir(parents=True, exist_ok=True)
        tables.plot_figure4(results, str(figure_path))
        parts += ["", f"![Fig. 4: F1 per entity type]({os.path.relpath(figure_path, results_path.parent)})", ""]
    else:
        parts += ["No finished runs yet.", ""]
    if table4_specs:
        results4 = _relative_files(tables.Results(table4_specs))
        parts += [
            "## Table 4: dictionary feature and dictionary post-processing",
            "",
            "The paper's CTD dictionaries are not available: the dictionary "
            + (f"(`{shown_path(dictionary)}`) " if dictionary else "")
            + "holds the entity mentions of the training splits of the benchmark datasets "
            "(the sentences the models were trained on), so every training entity is a "
            "dictionary term. Post-processing labels dictionary matches (longest match, "
            "the dataset's entity types only) among the words the model tagged `O`, and is "
            "scored by exact span match like allennlp's SpanBasedF1Measure.",
            "",
            tables.table2(results4),
            "",
        ]
    many = [r for r in done if r.model == MANY]
    if many:
        parts += many_dataset_section(done, many, datasets)
    if notes is not None:
        parts += ["", notes.read_text(encoding="utf-8").rstrip(), ""]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return summary
