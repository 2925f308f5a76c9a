#!/usr/bin/env bash
# `make demo`: tags the PubMed abstracts of fixtures/pubmed with the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python scripts/demo.py "$@" 2> >(grep -v -e "pkg_resources" -e "^  import pkg_resources" >&2)
