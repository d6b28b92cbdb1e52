#!/usr/bin/env bash
# The test command (README and CI run exactly this): set up the pinned Python env and the
# ONNX test data, check formatting and lints, run every Rust test (unit, integration, the
# ONNX node-test conformance suite through the evaluator), then the onnxruntime round-trip
# suite and the TFLite export suite (LiteRT), the frameworks' end-to-end checks (PyTorch,
# TF/Keras, Caffe/MXNet/Paddle), the MediaPipe zoo checks (conversions vs LiteRT, then the
# ONNX layout and int8 in onnxruntime; the pinned wheel is fetched into .cache/zoo; skipped with
# a notice only when there is no network), and print the pass counts of the conformance suites.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export RUST_BACKTRACE=0
# Each stage's heading carries the seconds elapsed so far, so CI time can be traced to a stage.
stage() { echo "== $* [${SECONDS}s]"; }
bash tests/setup.sh
stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
stage "cargo test"
cargo test --workspace --quiet --no-fail-fast
if [ -f tests/ort_suite.py ]; then
  stage "onnxruntime round-trip suite"
  bash tests/ort_run.sh
fi
stage "Quantized ONNX (digits CNN: static int8, mixed precision) in onnxruntime: integer kernels, folded float layers"
"$root/.cache/venv/bin/python" tests/fixtures/quant/check_ort.py \
  "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" "$root/.cache/quant_ort"
stage "TFLite export suite (ai-edge-litert vs onnxruntime, TRANSPOSE counts)"
"$root/.cache/venv/bin/python" tests/tflite/tflite_suite.py --check \
  --edgeport "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" --out "$root/.cache/tflite_suite"
stage "Caffe/MXNet/Paddle fixtures → ONNX (onnxruntime) and TFLite (ai-edge-litert) vs the frameworks' outputs"
"$root/.cache/venv/bin/python" tests/frameworks/e2e_check.py \
  --edgeport "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" --out "$root/.cache/frameworks_e2e"
stage "PyTorch fixtures (.pt2, TorchScript) → ONNX and TFLite vs torch eager's outputs"
"$root/.cache/venv/bin/python" tests/fixtures/pytorch/check_e2e.py "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport"
stage "TF/Keras fixtures (.pb, SavedModel, .tflite) → ONNX, TFLite and the evaluator vs TF's outputs"
"$root/.cache/venv/bin/python" tests/fixtures/tensorflow/check_e2e.py \
  --edgeport "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" --out "$root/.cache/tf_e2e"
stage "MediaPipe zoo (pinned 0.10.14 wheel from PyPI, cached in .cache/zoo) → evaluator, ONNX, TFLite vs LiteRT"
zoo_rc=0
PYTHON="$root/.cache/venv/bin/python" bash tests/zoo/fetch.sh "$root/.cache/zoo" || zoo_rc=$?
if [ "$zoo_rc" -eq 0 ]; then
  "$root/.cache/venv/bin/python" tests/zoo/zoo_check.py \
    --edgeport "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" --zoo "$root/.cache/zoo" --out "$root/.cache/zoo_out"
  # The Rust zoo tests (evaluator vs the LiteRT outputs zoo_check.py just saved; already built).
  EDGEPORT_ZOO="$root/.cache/zoo" cargo test -p edgeport-tflite --test zoo --quiet
  stage "MediaPipe zoo → ONNX layout (no weight or cancelling Transposes) and int8 in onnxruntime (QLinearAdd, no Clip)"
  "$root/.cache/venv/bin/python" tests/zoo/layout_quant_check.py \
    "${CARGO_TARGET_DIR:-$root/target}/debug/edgeport" "$root/.cache/zoo" "$root/.cache/zoo_layout"
elif [ "$zoo_rc" -eq 75 ]; then
  echo "SKIPPED the MediaPipe zoo check: the pinned wheel could not be downloaded (network unavailable)"
else
  exit "$zoo_rc"
fi
bash tests/conformance_counts.sh
echo "== done [${SECONDS}s]"
