#!/usr/bin/env bash
# Follows the README's "Install into your own environment" block word for word in a fresh
# virtual environment, in a fresh clone of this checkout's HEAD, and shows the tagged output.
# Downloads the pinned stack (torch included, a few GB): not part of `make test`.
#   scripts/check_install.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
git clone -q . "$work/checkout"
# The README's block: the first ```bash fence after the section's heading.
awk '/^### Install into your own environment/{s=1} s&&/^```bash/{b=1; next} b&&/^```/{exit} b' README.md \
  > "$work/readme_block.sh"
echo "== the README's commands ($work/readme_block.sh):"; cat "$work/readme_block.sh"
cd "$work/checkout"
PYTHON_FOR_BLOCK=${PYTHON:-python3}
start=$(date +%s)
env -u VIRTUAL_ENV PATH="$(dirname "$(command -v "$PYTHON_FOR_BLOCK")"):$PATH" \
  bash -euo pipefail -x "$work/readme_block.sh"
echo "== $(( $(date +%s) - start )) s; tagged.jsonl:"
cd ../my-project
cat tagged.jsonl
. ../checkout/biomtl-env/bin/activate
python - <<'PY'
import json
import biomtl_allennlp
output = json.loads(open("tagged.jsonl").readline())
assert "site-packages" in biomtl_allennlp.__file__, biomtl_allennlp.__file__
assert output["entities"], output
for entity in output["entities"]:
    assert output["text"][entity["start"]:entity["end"]] == entity["text"], entity
print("OK: plugin from", biomtl_allennlp.__file__, "-", len(output["entities"]), "entities")
PY
