"""
Tables and learning curves of the converged runs (issue 11) from their committed records
(`docs/converged_runs/<run>/run.json`, `research.record`, written by the lane runner
`research.converged.lanes`; the records without per-epoch history hold the test F1 of seeds
whose run folders were gone before the full records):

    .venv/bin/python -m research.converged.summarize [--curves docs/results_curves.png] \\
        [--figure4 docs/results_fig4.png] [--markdown docs/results.md]

Prints markdown: (1) test F1 of STM and MTM-CW (mixed batches) per seed, mean ± sample
std, the mean difference and a paired t-test over seeds (the paper's test; the paired
bootstrap over test sentences is `allennlp significance`, whose results under
`docs/significance/` are shown beside it); (2) test F1 of every model, mean over its seeds
(the paper's Table 3 models and the MTM-CW variants); (3) the MTM-CW schedule and loss
variants on devel; (4) training time to convergence (the paper's Table 2): time to the end
of the best epoch per training sentence, and MTM-CW's time against its seed's four STMs
together; (5) the paper's Table 2 (P / R / F1), Table 3 and Fig. 4 through
`biomtl_allennlp.evaluation.tables` (as `allennlp tables`), from the runs with full test
records (seeds 1-2 of STM and MTM-CW have test F1 only). `--curves` draws devel F1 against
epoch and against training seconds, STM vs MTM-CW per dataset, for the runs with per-epoch
records; `--figure4` draws Fig. 4; `--markdown` also writes the whole page to a file; the
page ends with the runs of the lane plans (`lane_*.plan`) that have no record yet.
"""
import argparse
import json
import re
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from biomtl_allennlp.common.datasets import BENCHMARK_DATASETS
from biomtl_allennlp.evaluation.tables import format_cell, summarize
from research.converged.lanes import PLANS, read_plan
from research.plan import REPO_ROOT as ROOT
from research.record import RECORD_FILE

DATASETS = list(BENCHMARK_DATASETS)
MTM_CW = "mtm_cw_mixed"  # the main recipe's run names: mtm_cw_mixed_s<seed>
PAIR, PAIR_DATASETS = "mtm_cw_pair", ["BC5CDR", "NCBI-disease"]  # MTM-CW on the two disease corpora alone
# The paper's models: run-name prefix (before _s<seed>) -> the name the tables module uses,
# in the paper's column order.
PAPER_MODELS = {
    "stm_{dataset}": "STM",
    "lample_{dataset}": "Lample",
    "ma_hovy_{dataset}": "Ma-Hovy",
    "mtm_c": "MTM-C",
    "mtm_w": "MTM-W",
    MTM_CW: "MTM-CW",
}
MODELS = {  # every model's run-name prefix -> the name in the tables
    **PAPER_MODELS,
    "stm_sgd_{dataset}": "STM, SGD at the paper's settings",
    "lample_{dataset}": "Lample et al. (per-word char BiLSTM)",
    "ma_hovy_{dataset}": "Ma & Hovy (char CNN)",
    MTM_CW: "MTM-CW (mixed batches)",
    "mtm_cw_invweights": "MTM-CW, equal loss shares",
    "mtm_cw_sqrtweights": "MTM-CW, square-root loss shares",
    "mtm_cw_uniform": "MTM-CW, one-corpus batches, uniform",
    "mtm_cw_homogeneous": "MTM-CW, one-corpus batches, proportional",
    "mtm_cw_passes": "MTM-CW, one corpus per pass (paper code)",
    "mtm_cw_b256": "MTM-CW, batches of 256, lr x sqrt(8)",
    "mtm_cw_sgd": "MTM-CW, SGD at the paper's settings",
    "mtm_cw_sumloss": "MTM-CW, loss summed over the batch (paper code)",
    "mtm_cw_tokenloss": "MTM-CW, loss divided by the batch's tokens",
    "mtm_cw_pair": "MTM-CW on BC5CDR + NCBI-disease only",
    "mtm_cw_sgd_pair": "MTM-CW on BC5CDR + NCBI-disease only, SGD at the paper's settings",
    "mtm_cw_gene_pair": "MTM-CW on BC2GM + JNLPBA only",
    "mtm_cw_dict_feature": "MTM-CW + dictionary feature",
    "mtm_cw_many": "MTM-CW on 12 corpora",
}


def load_runs(records: Path):
    """Run name -> record (`research.record`), with `test_f1` (dataset -> test F1); records
    without per-epoch history (runs recorded from tables, before the full records) are
    `earlier`."""
    runs = {}
    for path in sorted(records.glob(f"*/{RECORD_FILE}")):
        record = json.loads(path.read_text())
        record["test_f1"] = {name: scores["f1"] for name, scores in record["test"].items()}
        record["earlier"] = "epochs" not in record
        runs[record["run"]] = record
    return runs


def mean_std(values):
    """`mean ± std` (2 decimals), the value alone for one, `-` for none."""
    return format_cell(*summarize(values))


def bootstrap_results(significance: Path, dataset: str):
    """The `allennlp significance --output-file` results of MTM-CW vs STM on `dataset`:
    (seeds of the MTM-CW runs, result) for DIR/<dataset>.json and DIR/*/<dataset>.json."""
    results = []
    for path in sorted([significance / f"{dataset}.json", *significance.glob(f"*/{dataset}.json")]):
        if path.is_file():
            result = json.loads(path.read_text())
            seeds = [int(re.search(r"_s(\d+)", a).group(1)) for a in result["a"]]
            results.append((seeds, result))
    return results


def test_table(runs, significance: Path, mtm: str = MTM_CW, datasets=DATASETS):
    """STM against the multi-task runs `mtm`_s<seed> on `datasets`, seed by seed, with the
    paired t-test over seeds and the bootstrap results under `significance`."""
    from scipy import stats

    lines = [
        "| dataset | seeds | STM per seed | STM mean ± std | MTM-CW per seed | MTM-CW mean ± std | MTM-CW - STM "
        "| paired t-test p (seeds) | paired bootstrap over test sentences: seeds, difference, p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in datasets:
        seeds = sorted(run["seed"] for run in model_runs(runs, mtm) if f"stm_{name}_s{run['seed']}" in runs)
        if not seeds:
            continue
        stm = [runs[f"stm_{name}_s{seed}"]["test_f1"][name] for seed in seeds]
        mtm_f1 = [runs[f"{mtm}_s{seed}"]["test_f1"][name] for seed in seeds]
        differences = [a - b for a, b in zip(mtm_f1, stm)]
        p_value = f"{stats.ttest_rel(mtm_f1, stm).pvalue:.3f}" if len(seeds) > 2 else "-"
        bootstrap = "; ".join(
            f"{'+'.join(map(str, b_seeds))}: {result['difference']:+.2f}, p {format_p(result['p_value'], result['samples'])}"
            for b_seeds, result in bootstrap_results(significance, name)
        )  # fmt: skip
        lines.append(
            f"| {name} | {', '.join(map(str, seeds))} | {', '.join(f'{v:.2f}' for v in stm)} | {mean_std(stm)} "
            f"| {', '.join(f'{v:.2f}' for v in mtm_f1)} | {mean_std(mtm_f1)} | {statistics.mean(differences):+.2f} "
            f"| {p_value} | {bootstrap or '-'} |"
        )
    return "\n".join(lines)


def format_p(p_value: float, samples: int) -> str:
    return f"< {1 / samples:g}" if p_value == 0 else f"{p_value:.3f}"


def model_runs(runs, prefix: str, dataset: Optional[str] = None):
    """The runs of one model (run-name prefix, `{dataset}` filled in) that scored `dataset`
    (all its runs when `dataset` is None)."""
    pattern = re.compile(re.escape(prefix.format(dataset=dataset)) + r"_s\d+$")
    return [
        run for key, run in sorted(runs.items())
        if pattern.match(key) and (dataset is None or dataset in run["test_f1"])
    ]  # fmt: skip


def models_table(runs):
    lines = [
        "| model | " + " | ".join(DATASETS) + " |",
        "|---|" + "---|" * len(DATASETS),
    ]
    for prefix, label in MODELS.items():
        cells = []
        for name in DATASETS:
            scores = [run["test_f1"][name] for run in model_runs(runs, prefix, name)]
            cells.append(f"{mean_std(scores)} (n={len(scores)})" if scores else "-")
        if any(cell != "-" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_results(runs, directory: Path):
    """`tables.Results` of the paper's models over the runs with full test records: each
    record's test scores written as an `allennlp train` metrics file under `directory`."""
    from biomtl_allennlp.evaluation.tables import Results

    specs = []
    for prefix, label in PAPER_MODELS.items():
        for name in DATASETS if "{dataset}" in prefix else [None]:
            for run in model_runs(runs, prefix, name):
                if run.get("earlier"):
                    continue
                metrics = {}
                for dataset, scores in run["test"].items():
                    for measure in ("precision", "recall", "f1"):
                        metrics[f"test_{dataset}_{measure}"] = scores[measure] / 100
                    for entity_type, f1 in scores["types_f1"].items():
                        metrics[f"test_{dataset}_{entity_type}_f1"] = f1 / 100
                path = directory / f"{run['run']}.json"
                path.write_text(json.dumps(metrics))
                specs.append((label, str(path)))
    return Results(specs) if specs else None


def variants_table(runs):
    lines = [
        "| run | best epoch | devel F1 " + " / ".join(DATASETS) + " | devel macro | test F1 " + " / ".join(DATASETS) + " |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(key for key in runs if key.startswith("mtm_cw_")):
        run = runs[key]
        devel = " / ".join(f"{run['validation_f1'][name]:.2f}" if name in run["validation_f1"] else "-" for name in DATASETS)
        test = " / ".join(f"{run['test_f1'][name]:.2f}" if name in run["test_f1"] else "-" for name in DATASETS)
        macro = f"{run['validation_macro_f1']:.2f}"
        if set(run["validation_f1"]) < set(DATASETS):  # selected on fewer corpora
            macro = f"{macro} (over its {len(run['validation_f1'])} corpora)"
        elif len(run["validation_f1"]) != len(DATASETS):  # selected on more corpora: the four's mean beside
            four = statistics.mean(run["validation_f1"][name] for name in DATASETS)
            macro = f"{four:.2f} (over its {len(run['validation_f1'])} corpora: {macro})"
        lines.append(f"| {key} | {run['best_epoch']} | {devel} | {macro} | {test} |")
    return "\n".join(lines)


def time_to_best(run) -> float:
    return run["epochs"][run["best_epoch"]]["training_duration_s"]


def time_table(runs):
    timed = {key: run for key, run in runs.items() if "epochs" in run and not run["resumed"]}
    lines = [
        "| run | processor | training sentences | best epoch / epochs | time to best epoch | s per training sentence | whole run |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in sorted(timed):
        run = timed[key]
        sentences = sum(run["training_sentences"].values())
        lines.append(
            f"| {key} | {run['machine']} | {sentences:,} | {run['best_epoch']} / {run['epochs_trained']} "
            f"| {time_to_best(run) / 60:.1f} min | {time_to_best(run) / sentences:.4f} | {run['training_duration_s'] / 60:.1f} min |"
        )
    lines.append("")
    lines += time_against_stms(timed, MTM_CW, DATASETS, "MTM-CW")
    lines += time_against_stms(timed, PAIR, PAIR_DATASETS, "MTM-CW on BC5CDR + NCBI-disease")
    return "\n".join(lines)


def time_against_stms(timed, mtm: str, datasets, label: str):
    """One line per seed of the runs `mtm`_s<seed>: their time to the best epoch and whole
    run against the same seed's STMs on `datasets` together (the paper: MTM-CW +5.1%)."""
    lines = []
    for run in model_runs(timed, mtm):
        seed = run["seed"]
        stms = [timed.get(f"stm_{name}_s{seed}") for name in datasets]
        if all(stms):
            to_best, whole = sum(map(time_to_best, stms)), sum(run["training_duration_s"] for run in stms)
            lines.append(
                f"Seed {seed}: {label} to its best epoch {time_to_best(run) / 60:.1f} min vs the same seed's "
                f"{len(stms)} STMs to theirs {to_best / 60:.1f} min ({time_to_best(run) / to_best - 1:+.1%}); "
                f"whole runs {run['training_duration_s'] / 60:.1f} vs {whole / 60:.1f} min "
                f"({run['training_duration_s'] / whole - 1:+.1%})."
            )
    return lines


def queued_runs(runs) -> str:
    """The runs of the lane plans that have no record yet, in each lane's order."""
    lines = []
    for plan in PLANS:
        missing = [run.name for run in read_plan(plan, ROOT / "runs") if run.name not in runs]
        if missing:
            lines.append(f"- `{plan.relative_to(ROOT)}`: " + ", ".join(missing))
    return "\n".join(lines) or "- none: every planned run has a record."


def plot_curves(runs, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(DATASETS), figsize=(4 * len(DATASETS), 7), squeeze=False)
    for column, name in enumerate(DATASETS):
        for prefix, label, colour in ((f"stm_{name}_s", "STM", "tab:blue"), (MTM_CW + "_s", "MTM-CW", "tab:red")):
            for key in sorted(k for k, run in runs.items() if k.startswith(prefix) and "epochs" in run):
                run = runs[key]
                epochs = [epoch["epoch"] for epoch in run["epochs"]]
                seconds = [epoch["training_duration_s"] for epoch in run["epochs"]]
                f1 = [epoch["validation_f1"][name] for epoch in run["epochs"]]
                seed_label = f"{label} seed {run['seed']}"
                axes[0][column].plot(epochs, f1, marker="o", markersize=3, color=colour, label=seed_label)
                axes[1][column].plot([s / 60 for s in seconds], f1, marker="o", markersize=3, color=colour, label=seed_label)
                for row, x in ((0, epochs[run["best_epoch"]]), (1, seconds[run["best_epoch"]] / 60)):
                    axes[row][column].plot([x], [f1[run["best_epoch"]]], marker="*", markersize=12, color=colour)
        axes[0][column].set_title(f"{name}: devel F1")
        axes[0][column].set_xlabel("epoch")
        axes[1][column].set_xlabel("training minutes (1 thread)")
        for row in (0, 1):
            axes[row][column].set_ylabel("devel F1 (%)")
            axes[row][column].grid(alpha=0.3)
            if axes[row][column].get_legend_handles_labels()[0]:
                axes[row][column].legend(fontsize="small", loc="lower right")
    figure.suptitle("Converged runs: devel F1 per epoch (star: best epoch by the run's devel metric)")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=90)
    plt.close(figure)


def main(argv: Optional[Sequence[str]] = None, shown_command: Optional[str] = None) -> int:
    """Prints the page (and writes it with `--markdown`); `shown_command` is the command the
    page names (default: this invocation's)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", default=str(ROOT / "docs" / "converged_runs"))
    parser.add_argument("--significance", default=str(ROOT / "docs" / "significance"))
    parser.add_argument("--curves", default=None, help="write the learning curves PNG here")
    parser.add_argument("--figure4", default=None, help="write Fig. 4 (F1 per entity type) PNG here")
    parser.add_argument("--markdown", default=None, help="also write the page to this file")
    args = parser.parse_args(argv)
    runs = load_runs(Path(args.records))
    sections = [
        "## Test F1 (%), STM vs MTM-CW\n\n" + test_table(runs, Path(args.significance)),
        "## Test F1 (%), STM vs MTM-CW on BC5CDR + NCBI-disease only (`mtm_cw_pair`)\n\n"
        + test_table(runs, Path(args.significance) / "pair", PAIR, PAIR_DATASETS),
        "## Test F1 (%) of every model, mean ± std over seeds\n\n" + models_table(runs),
        "## MTM-CW variants, devel F1 at the best epoch (%)\n\n" + variants_table(runs),
        "## Training time to convergence\n\n" + time_table(runs),
    ]
    with tempfile.TemporaryDirectory() as directory:
        results = paper_results(runs, Path(directory))
        if results is not None:
            from biomtl_allennlp.evaluation import tables

            fig4 = f"\n\n![Fig. 4]({Path(args.figure4).name})" if args.figure4 else ""
            sections += [
                "## Table 2: precision (P), recall (R) and F1 per dataset (runs with full test records; "
                "paper: with PubMed vectors)\n\n" + tables.table2(results, paper=True),
                "## Table 3: F1 of the multi-task models (runs with full test records)\n\n"
                + tables.table3(results, paper=True),
                "## Fig. 4: F1 per entity type, macro-average over datasets\n\n" + tables.figure4_table(results) + fig4,
            ]
            if args.figure4:
                tables.plot_figure4(results, args.figure4)
    if args.curves:
        plot_curves(runs, args.curves)
        sections.append(f"## Learning curves\n\n![devel F1 per epoch and per training minute]({Path(args.curves).name})")
    sections.append("## Still to run (no record yet; lanes run them in this order)\n\n" + queued_runs(runs))
    page = "\n\n".join(sections) + "\n"
    print(page, end="")
    if args.markdown:
        command = shown_command or shlex.join(
            [".venv/bin/python", "-m", "research.converged.summarize", *(argv if argv is not None else sys.argv[1:])]
        )
        # No date or commit of the writing: the page is a function of the records alone.
        header = (
            "# Reproduction results: Wang et al. 2019, converged runs (generated)\n\nGenerated by `"
            + command + "` from the committed run records (`docs/converged_runs/`); do not edit by hand. Every run: "
            "early stopping on devel (patience 5, at most 50 epochs), model selection by devel macro F1, test "
            "scored once; Adam 2e-3, batches of 32, no external word vectors, 1 CPU thread (the `_sgd_` runs: "
            "the paper's SGD settings of `training_configs/stm.jsonnet` and `mtm_cw.jsonnet`, patience 10, at most 100 epochs). The analysis is "
            "[`converged.md`](converged.md); the earlier 3-epoch budget tables of every model are "
            "[`results_3epoch.md`](results_3epoch.md).\n\n"
        )
        Path(args.markdown).write_text(header + page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
