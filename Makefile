# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
.PHONY: setup demo demo-train test clean-demo

VENV := .venv
ALLENNLP := $(VENV)/bin/allennlp
PYTEST_ARGS ?=

setup:
	@bash scripts/setup_env.sh

# Tags the PubMed abstracts shipped in fixtures/pubmed with the shipped model (offline).
demo: setup
	@bash scripts/demo.sh

# Trains MTM-CW on the small corpora shipped in fixtures/demo and prints per-dataset F1.
demo-train: setup
	@bash scripts/demo_train.sh

# The autocast tests run a second time with oneDNN held to AVX2 (a CPU without AVX-512), so
# both LSTM paths of biomtl_allennlp/nn/autocast.py are tested on every machine.
AUTOCAST_TESTS := mixed_precision or autocast or gpu_benchmark

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS) tests
	ONEDNN_MAX_CPU_ISA=AVX2 $(VENV)/bin/python -m pytest -q -p no:cacheprovider -k "$(AUTOCAST_TESTS)" tests

clean-demo:
	rm -rf runs/demo runs/demo.log runs/demo_tagged
