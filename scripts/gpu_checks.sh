#!/usr/bin/env bash
# The GPU checks of the speed work (issue 11), as one batch for a lent GPU machine: each step bounded
# by its own timeout, every result written under OUT, a failed step does not stop the others.
#
#     OUT=/some/dir bash scripts/gpu_checks.sh                 # a CUDA machine: the 134m preset
#     OUT=/tmp/g DEVICE=cpu MODEL=tiny QUICK=1 bash scripts/gpu_checks.sh   # its CPU twin, in minutes
#     ONLY="check_f64 optim_fused" OUT=... bash scripts/gpu_checks.sh      # some of the steps
#
# A lent machine gives a session 15 minutes and 10 a command: the default steps' limits add up to 9.5
# minutes (the first call also starts the machine); check_f32 is not among the defaults.
# 1. perf check: every fused step (Triton on a GPU) equals its eager step, float64 and float32, and
#    compiles once;
# 2. perf optim on MODEL: the Adam-likes' ratio to the bandwidth floor (target <= 1.3x), Muon beside
#    torch.optim.Muon (target: the first row), the fused steps' first-step (compile) cost;
# 3. perf optim --bf16-state on the same: bf16 state's step against the fp32 one (target <= 1.2x);
# 4. perf train on MODEL, compiled: tokens/s, MFU and peak memory beside HF's Qwen3 where installed.
# Uses the installed torch; the package from this checkout's src/ (nothing is installed).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:?set OUT to the directory for the results}"
DEVICE="${DEVICE:-cuda}"
MODEL="${MODEL:-134m}"
PY="${PYTHON:-python}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${QUICK:-}" ]; then  # the CPU twin: a few optimizers, few rounds
  CHECKED="lion,adamw-logtime-wd"; ADAM_LIKES="adamw,lion,adamw-logtime-wd,muon"; ROUNDS=2; STEPS=2; BATCH=2
else
  CHECKED=""; ADAM_LIKES="adamw,grams,cautious-adamw,adamw-logtime-wd,stable-momentum,adana,lion,muon"
  ROUNDS=10; STEPS=10; BATCH=8
fi
ONLY="${ONLY:-check_f64 optim_fused optim_bf16 train}"
status=0

step() {  # step NAME SECONDS COMMAND...: run it, its output in OUT/NAME.log, its exit status noted
  local name="$1" limit="$2"; shift 2
  case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
  echo "== $name ($(date -u +%H:%M:%S), at most ${limit}s): $*"
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "   exit $rc; last lines:"; tail -n 25 "$OUT/$name.log" | sed 's/^/   /'
  [ "$rc" -eq 0 ] || status=1
}

{
  echo "device $DEVICE, model $MODEL, $(date -u +%FT%TZ)"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])"
  git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo "(no git)"
} >"$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

only=(); [ -n "$CHECKED" ] && only=(--optimizers "$CHECKED")
step check_f64 150 "$PY" -m optarena perf check --device "$DEVICE" "${only[@]}" --md "$OUT/check_f64.md"
step check_f32 150 "$PY" -m optarena perf check --device "$DEVICE" --dtype float32 "${only[@]}" --md "$OUT/check_f32.md"
step optim_fused 210 "$PY" -m optarena perf optim --model "$MODEL" --device "$DEVICE" --fused --no-external \
  --optimizers "$ADAM_LIKES" --rounds "$ROUNDS" --json "$OUT/optim_fused.json" --md "$OUT/optim_fused.md"
step optim_bf16 120 "$PY" -m optarena perf optim --model "$MODEL" --device "$DEVICE" --fused --bf16-state \
  --no-external --optimizers "${ADAM_LIKES%,muon}" --rounds "$ROUNDS" --json "$OUT/optim_bf16.json" \
  --md "$OUT/optim_bf16.md"
compile=(--compile); [ "$DEVICE" = cpu ] && compile=(--peak-flops 1e12)  # CPU: eager, a nominal peak for MFU
step train 90 "$PY" -m optarena perf train --model "$MODEL" --device "$DEVICE" "${compile[@]}" --batch "$BATCH" \
  --steps "$STEPS" --json "$OUT/train.json" --md "$OUT/train.md"
echo "== done ($(date -u +%H:%M:%S)); exit $status"
exit $status
