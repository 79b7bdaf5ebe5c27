#!/usr/bin/env bash
# ruff over the chapters' code: the MyST sources are converted to .ipynb in memory (jupytext),
# which ruff reads cell by cell (an import at the top of a cell is fine there).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for src in notebooks/*.md; do
  jupytext --quiet --to ipynb --output "$tmp/$(basename "${src%.md}").ipynb" "$src"
done
ruff check --config pyproject.toml "$tmp"
