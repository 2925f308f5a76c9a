"""
Every generated results page under `docs/`, written again from the committed run records:

    .venv/bin/python -m research.pages [--check] [PAGE ...]

- the budget reproductions (`docs/results_3epoch.md`, `docs/results_gpu*.md`):
  `research.reproduce --tables-only` over the records in `docs/<page>_runs/`, with the
  arguments their runs were trained with;
- the converged runs (`docs/results.md`): `research.converged.summarize` over
  `docs/converged_runs/`.

A page names the command in `PAGES` and holds nothing else that is not in the records (no
date or commit of its writing), so writing it again gives the same bytes. `--check` writes
the pages into a temporary folder and compares them with the committed ones (the markdown;
the figures are drawn too but not compared, their bytes depend on matplotlib's version);
it exits with 1 and a diff when one differs.
"""
import argparse
import contextlib
import difflib
import io
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from research.plan import REPO_ROOT


@dataclass(frozen=True)
class Page:
    """A generated page: the module that writes it and that module's arguments."""

    module: str
    args: List[str]
    # The module's options that name an output file: redirected by `--check`.
    outputs: Dict[str, str]

    @property
    def command(self) -> str:
        return shlex.join([".venv/bin/python", "-m", self.module, *self.args])

    def writer(self) -> Callable[..., int]:
        if self.module == "research.reproduce":
            from research.reproduce import main
        else:
            from research.converged.summarize import main
        return main


def _reproduction(name: str, args: str, default_outputs: bool = False) -> Page:
    """A budget reproduction page `docs/<name>.md` and its figure `docs/<name>_fig4.png`."""
    outputs = {"--results": f"docs/{name}.md", "--figure": f"docs/{name}_fig4.png"}
    extra = "" if default_outputs else f" --results {outputs['--results']} --figure {outputs['--figure']}"
    return Page(
        "research.reproduce",
        shlex.split(args + extra + f" --notes docs/{name}_notes.md --tables-only"),
        outputs,
    )


PAGES: Dict[str, Page] = {
    "docs/results.md": Page(
        "research.converged.summarize",
        shlex.split(
            "--curves docs/results_curves.png --figure4 docs/results_fig4.png --markdown docs/results.md"
        ),
        {"--curves": "docs/results_curves.png", "--figure4": "docs/results_fig4.png",
         "--markdown": "docs/results.md"},
    ),
    "docs/results_3epoch.md": _reproduction(
        "results_3epoch",
        "--budget-epochs 3 --seeds 1,2 --all-seeds Lample,Ma-Hovy,MTM-C,MTM-W --dictionary --many",
        default_outputs=True,
    ),
    "docs/results_gpu.md": _reproduction(
        "results_gpu",
        "--optimizer sgd --batch-size 10 --budget-epochs 50 --seeds 1,2 "
        "--only Lample,Ma-Hovy,STM,MTM-CW --cuda-device 0 --threads 1 --jobs 10 "
        "--time-budget-s 460 --eval-batch-size 64 --runs-dir runs/gpu",
    ),
    "docs/results_gpu_1epoch.md": _reproduction(
        "results_gpu_1epoch",
        "--optimizer sgd --batch-size 10 --budget-epochs 1 --seeds 1 --only MTM-C,MTM-W,MTM-CW "
        "--cuda-device 0 --threads 1 --eval-batch-size 64 --runs-dir runs/gpu_1epoch",
    ),
    "docs/results_gpu_many.md": _reproduction(
        "results_gpu_many",
        "--only MTM-CW,MTM-CW-many --seeds 1 --budget-epochs 3 --cuda-device 0 --threads 4 "
        "--jobs 2 --time-budget-s 300 --eval-batch-size 64 --runs-dir runs/gpu_many",
    ),
}


def write_page(page: Page, out_dir: Optional[Path] = None) -> Path:
    """
    Writes `page` (into `out_dir` instead of `docs/` when given, the records still read from
    `docs/`); returns the markdown file written.
    """
    args = list(page.args)
    markdown = page.outputs.get("--results", page.outputs.get("--markdown"))
    written = REPO_ROOT / markdown
    if out_dir is not None:
        for option, path in page.outputs.items():
            args += [option, str(out_dir / Path(path).name)]
        if page.module == "research.reproduce":  # the records stay those beside the page
            args += ["--store", str(REPO_ROOT / "docs" / f"{Path(markdown).stem}_runs")]
        written = out_dir / Path(markdown).name
    with contextlib.redirect_stdout(io.StringIO()):  # the writers print their tables too
        page.writer()(args, shown_command=page.command)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m research.pages", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("pages", nargs="*", metavar="PAGE", help=f"default: all of {', '.join(PAGES)}")
    parser.add_argument("--check", action="store_true",
                        help="write into a temporary folder and compare with the committed pages")
    args = parser.parse_args(argv)
    if Path.cwd().resolve() != REPO_ROOT:  # the pages' arguments are relative to it
        parser.error(f"run from the repository root, {REPO_ROOT}")
    unknown = [page for page in args.pages if page not in PAGES]
    if unknown:
        parser.error(f"unknown page(s) {unknown}; choose from {', '.join(PAGES)}")
    differing = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.pages or PAGES:
            page = PAGES[name]
            written = write_page(page, Path(scratch) if args.check else None)
            if not args.check:
                continue
            committed = (REPO_ROOT / name).read_text(encoding="utf-8").splitlines(keepends=True)
            again = written.read_text(encoding="utf-8").splitlines(keepends=True)
            if committed != again:
                differing.append(name)
                sys.stdout.writelines(difflib.unified_diff(committed, again, name, "written again"))
    if args.check:
        print(f"{len(differing)} page(s) differ: {', '.join(differing)}" if differing
              else "every page is what its records give")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
