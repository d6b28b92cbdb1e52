#!/usr/bin/env bash
# Distillation speed on the digits CNN: `edgeport distill` (release build, candle autograd)
# against the same loop in PyTorch (bench/distill_torch.py), in one run, as steps per second.
# Teacher: tests/fixtures/quant/digits_cnn.onnx; student: tests/fixtures/distill/
# digits_student_init.onnx; data: the 1347 unlabeled training images; KL T=4, Adam, batch 32.
# Usage: bench/distill_speed.sh [STEPS]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
STEPS="${1:-300}"
PY="${PYTHON:-/work/cache/venv-torch/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# EDGEPORT_BIN overrides the binary (e.g. a debug build); the default is a release build.
if [[ -z "${EDGEPORT_BIN:-}" ]]; then
  (cd "$REPO" && cargo build -q --release -p edgeport)
fi
BIN="${EDGEPORT_BIN:-$TARGET/release/edgeport}"
FX="$REPO/tests/fixtures"
"$BIN" --json distill --teacher "$FX/quant/digits_cnn.onnx" --student "$FX/distill/digits_student_init.onnx" \
  --data "$FX/distill/digits_unlabeled.npz" -o "$WORK/s.onnx" --steps "$STEPS" --batch 32 --lr 3e-3 \
  --loss kl --temperature 4 --optimizer adam > "$WORK/ep.json"
"$PY" "$HERE/distill_torch.py" "$STEPS" "${TORCH_THREADS:-1}" > "$WORK/torch.json"
"$PY" - "$WORK/ep.json" "$WORK/torch.json" <<'PY'
import json, sys
ep = json.load(open(sys.argv[1])); th = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"edgeport distill: {ep['steps_per_sec']:.1f} steps/s ({ep['steps']} steps, {ep['seconds']:.2f} s, loss {ep['first_loss']:.4f} -> {ep['final_loss']:.4f})")
print(f"pytorch {th['threads']} threads: {th['steps_per_sec']:.1f} steps/s ({th['steps']} steps, {th['seconds']:.2f} s, final loss {th['final_loss']:.4f})")
print(f"ratio edgeport / pytorch: {ep['steps_per_sec'] / th['steps_per_sec']:.3f}")
PY
