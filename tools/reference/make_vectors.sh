#!/usr/bin/env bash
# Regenerate tests/vectors/ from the upstream reference implementations.
# Needs the Python environment of tools/reference/requirements.txt in .venv
# (python3 -m venv .venv && .venv/bin/pip install -r tools/reference/requirements.txt).
# The tiny model is written with the seed the C tests use (I4_TEST_TINY_SEED = 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/ideogram4 make-tiny-model "$work/tiny" --seed 1
for script in tools/reference/ref_*.py; do
  echo "== $script"
  "$PY" "$script" --model "$work/tiny" --out tests/vectors
done
