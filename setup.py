from setuptools import find_packages, setup

setup(
    name="biomtl_allennlp",
    version="0.1.0",
    description=(
        "Cross-type biomedical named entity recognition with deep multi-task learning "
        "(Wang et al. 2019) as an AllenNLP plugin"
    ),
    packages=find_packages(exclude=["tests", "tests.*", "benchmarks", "benchmarks.*"]),
    # The shipped tagger and its model card (biomtl_allennlp.load_tagger()). The archive is
    # models/mtm_cw/model.tar.gz, linked into the package; a built package holds a copy.
    package_data={"biomtl_allennlp.pretrained": ["*/model.tar.gz", "*/MODEL_CARD.md"]},
    python_requires=">=3.9",
    # The tested stack is pinned in requirements.txt (allennlp itself is installed with
    # --no-deps, see requirements-nodeps.txt and scripts/setup_env.sh).
    install_requires=[],
    entry_points={"console_scripts": []},
)
