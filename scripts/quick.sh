#!/usr/bin/env bash
# The README's main job. Sets up .venv if needed, then runs the quick demonstration on CPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
mkdir -p results
exec optarena toy grams-fig1 -- --out results/grams_figure1.png "$@"
