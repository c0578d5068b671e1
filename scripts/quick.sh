#!/usr/bin/env bash
# The README's main job. Sets up .venv if needed, then runs the `quick` benchmark suite on CPU:
# every optimizer of the library on the tiny model and the embedded corpus, then the leaderboard
# (results/quick/leaderboard.md) and the report (results/quick/report.html). Extra arguments go to
# `optarena bench` (e.g. --jobs 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec optarena bench quick --out results/quick --jobs 2 "$@"
