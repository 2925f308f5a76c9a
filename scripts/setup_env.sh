#!/usr/bin/env bash
# Builds (once) the tested environment and links it as .venv.
#
# The virtual environment lives in a cache outside the checkout, keyed by the pinned
# requirement files, so a fresh clone (CI) on a machine that already built it is set up in
# seconds. Set BIOMTL_VENV_CACHE to move the cache.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
key=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -c1-16)
cache_root=${BIOMTL_VENV_CACHE:-$HOME/.cache/biomtl_allennlp}
venv="$cache_root/venv-$key"

if [ ! -f "$venv/.complete" ]; then
  echo "Building the environment in $venv (first time only, a few minutes)..."
  rm -rf "$venv"
  mkdir -p "$cache_root"
  "$PYTHON" -m venv "$venv"
  pip_install() {
    # This machine's pip configuration names local indexes that may be absent; hide that noise.
    local status=0 log="$cache_root/pip-$key.log"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" > "$log" 2>&1 || status=$?
    grep -v "is ignored: it is neither a file nor a directory" "$log" || true
    return "$status"
  }
  pip_install -r requirements.txt
  # allennlp's declared pins cannot install on Python 3.11; it runs on the stack above.
  pip_install --no-deps -r requirements-nodeps.txt
  # allennlp_models calls nltk.download("punkt") at import; this folder silences it offline.
  mkdir -p "$venv/nltk_data/tokenizers/punkt"
  touch "$venv/.complete"
fi

if [ "$(readlink .venv 2>/dev/null || true)" != "$venv" ]; then
  rm -rf .venv
  ln -s "$venv" .venv
fi

# Editable install of this checkout (redone only when the venv points at another checkout).
here=$(pwd -P)
installed=$(cd / && "$venv/bin/python" -I -c \
  "import os, biomtl_allennlp; print(os.path.dirname(os.path.dirname(os.path.realpath(biomtl_allennlp.__file__))))" \
  2>/dev/null || true)
if [ "$installed" != "$here" ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
fi
