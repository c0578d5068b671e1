#!/usr/bin/env bash
# Creates .venv (once) with torch and optarena installed; sourced by the other scripts.
# torch is installed first at a pinned CPU build when none is importable, because a bare
# `torch` requirement would pull a multi-GB CUDA build; machines that already have torch
# (e.g. a GPU box) keep theirs, seen through --system-site-packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OPTARENA_VENV:-$ROOT/.venv}"
TORCH_PIN="${OPTARENA_TORCH:-torch==2.13.0}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv --system-site-packages "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install --quiet "$TORCH_PIN" 2> >(grep -v "is ignored: it is neither" >&2)
fi
stamp="$VENV/.optarena-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  "$PY" -m pip install --quiet -e "$ROOT[test]" 2> >(grep -v "is ignored: it is neither" >&2)
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
