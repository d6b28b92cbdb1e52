#!/usr/bin/env bash
# Benchmarks the reference evaluator against onnxruntime on the ResNet-18-shaped model of
# make_resnet18.py: `edgeport run` (release) vs onnxruntime's CPU session on the same input,
# each timed as the median of several runs of the model (edgeport's time includes import).
# Usage: bench/eval_resnet18.sh [WORKDIR]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
WORK="${1:-${TMPDIR:-/tmp}/edgeport-bench}"
PY="${PYTHON:-$REPO/.cache/venv/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
mkdir -p "$WORK"
[[ -f "$WORK/resnet18.onnx" ]] || "$PY" "$HERE/make_resnet18.py" "$WORK/resnet18.onnx"
(cd "$REPO" && cargo build -q --release -p edgeport)
BIN="$TARGET/release/edgeport"
"$PY" - "$WORK" "$BIN" <<'PY'
import os, subprocess, sys, time
import numpy as np, onnxruntime as ort
work, binary = sys.argv[1], sys.argv[2]
model = os.path.join(work, "resnet18.onnx")
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [d if isinstance(d, int) else 1 for d in inp.shape]
x = np.random.default_rng(0).random(shape, dtype=np.float32)
np.savez(os.path.join(work, "in.npz"), **{inp.name: x})
def median(f, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]
sess.run(None, {inp.name: x})
t_ort = median(lambda: sess.run(None, {inp.name: x}))
cmd = [binary, "run", model, "--inputs", os.path.join(work, "in.npz"), "-o", os.path.join(work, "out.npz")]
subprocess.run(cmd, check=True, capture_output=True)
t_ep = median(lambda: subprocess.run(cmd, check=True, capture_output=True))
got = np.load(os.path.join(work, "out.npz"))
want = sess.run(None, {inp.name: x})
diff = max(float(np.abs(got[k] - w).max()) for k, w in zip(got.files, want))
print(f"onnxruntime {t_ort*1e3:.1f} ms, edgeport evaluator {t_ep*1e3:.1f} ms (incl. process start and import): ratio {t_ep/t_ort:.1f}x; max abs diff {diff:.2e}")
PY
