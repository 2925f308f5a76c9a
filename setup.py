from setuptools import find_packages, setup

setup(
    name="biomtl_allennlp",
    version="0.1.0",
    description=(
        "Cross-type biomedical named entity recognition with deep multi-task learning "
        "(Wang et al. 2019) as an AllenNLP plugin"
    ),
    # Only the plugin: the research code (`research/`), benchmarks and tests stay in the checkout.
    packages=find_packages(
        exclude=["tests", "tests.*", "benchmarks", "benchmarks.*", "research", "research.*"]
    ),
    # The shipped tagger and its model card (biomtl_allennlp.load_tagger()). The archive is
    # models/mtm_cw/model.tar.gz, linked into the package; a built package holds a copy.
    package_data={"biomtl_allennlp.pretrained": ["*/model.tar.gz", "*/MODEL_CARD.md"]},
    python_requires=">=3.9",
    # What the plugin imports at run time, besides allennlp and allennlp-models: their declared
    # pins cannot install on Python 3.11, so they are installed with --no-deps on the stack
    # pinned in requirements.txt (README, "Install into your own environment"). The tested
    # versions are the pins of requirements.txt.
    install_requires=["torch>=2.6", "numpy>=1.21", "spacy>=3.7,<4", "bioc>=2.1"],
    extras_require={
        # `tag-corpus --workers N` (N > 1) and the figures of `allennlp tables`.
        "ray": ["ray>=2.9"],
        "plots": ["matplotlib>=3.7"],
    },
    entry_points={
        "console_scripts": [],
        # spaCy finds the `biomtl_ner` pipeline component here (no import of the plugin needed).
        "spacy_factories": ["biomtl_ner = biomtl_allennlp.pipelines.spacy_component:make_biomtl_ner"],
    },
)
