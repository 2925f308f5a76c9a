"""The built wheel is what a user installs into their own environment (README, "Install into
your own environment"): it must hold every module, the shipped model and its card, and
declare the plugin's run-time dependencies, and nothing else (no research code)."""
import email
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "biomtl_allennlp"
SHIPPED = PROJECT_ROOT / "models" / "mtm_cw" / "model.tar.gz"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # Built from a copy: a build writes `build/` and `*.egg-info` into the source tree, and
    # an egg-info in the project root would shadow the installed metadata (entry points).
    source = tmp_path_factory.mktemp("source") / "project"
    shutil.copytree(
        PROJECT_ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__"),
    )  # fmt: skip
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", str(source), "-w", str(out)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (path,) = out.glob("biomtl_allennlp-*.whl")
    return path


def test_wheel_holds_every_module_the_model_and_its_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        str(path.relative_to(PROJECT_ROOT)).replace(os.sep, "/")
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules and modules <= names, sorted(modules - names)
    # Only the plugin: the checkout's research code, benchmarks and tests are not installed.
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"biomtl_allennlp"}, sorted(top_level)
    with zipfile.ZipFile(wheel) as archive:
        model = archive.read("biomtl_allennlp/pretrained/mtm_cw/model.tar.gz")
        card = archive.read("biomtl_allennlp/pretrained/mtm_cw/MODEL_CARD.md")
    assert model == SHIPPED.read_bytes()
    assert card == (PACKAGE / "pretrained" / "mtm_cw" / "MODEL_CARD.md").read_bytes()
    # spaCy finds the pipeline component through the wheel's entry points.
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[spacy_factories]" in text and "biomtl_ner = biomtl_allennlp.pipelines.spacy_component" in text


def test_wheel_declares_the_run_time_dependencies(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(archive.read(metadata))
    requires = [line.split(";")[0].strip() for line in message.get_all("Requires-Dist")]
    names = {requirement.split(">")[0].split("<")[0].split("=")[0] for requirement in requires}
    assert {"torch", "numpy", "spacy", "bioc"} <= names
    # Their declared pins cannot install on Python 3.11: installed with --no-deps instead.
    assert not names & {"allennlp", "allennlp-models", "allennlp_models"}


def test_installed_wheel_registers_its_components_and_finds_the_shipped_model(wheel, tmp_path):
    """Installed from the wheel (not this checkout), `import biomtl_allennlp` (what
    `.allennlp_plugins` and `--include-package` do) registers the model and predictor, and
    the shipped model is found inside the installed package."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    script = (
        "import biomtl_allennlp\n"
        "from allennlp.models import Model\n"
        "from allennlp.predictors import Predictor\n"
        "from biomtl_allennlp.pretrained import tagger_path\n"
        "Model.by_name('multitask_crf_tagger'); Predictor.by_name('biomedical_entities')\n"
        "print(biomtl_allennlp.__file__); print(tagger_path())\n"
    )
    environment = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    module_file, model_path = result.stdout.split()
    assert module_file.startswith(str(target))
    assert model_path.startswith(str(target))
    assert open(model_path, "rb").read() == SHIPPED.read_bytes()
