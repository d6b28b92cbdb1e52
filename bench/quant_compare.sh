#!/usr/bin/env bash
# edgeport quantize side by side with onnxruntime quantize_static, one run, same 32 calibration
# and 16 held-out inputs: cosine to float, size ratio, quantize time and onnxruntime run time
# of each output (resnet18, mobilenet_v2, MiniLM), LiteRT latency of our int8 .tflite against
# the float32 one (CNNs), MiniLM int4 (GPTQ) and the digits top-1 (real data).
# Models and inputs: tests/fixtures/quant/make_big.py (into $FIXTURES, default
# /work/cache/fixtures/quant: resnet18 and a BatchNorm-recalibrated mobilenet_v2) and
# make_minilm.py (into $MINILM_DIR, default /work/cache/fixtures); digits is committed.
# Builds the release binary once. Usage: bench/quant_compare.sh [MODEL ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-/work/cache/venv-torch/bin/python}"
OUT="${OUT:-$root/.cache/quant_bench}"
cargo build --release -p edgeport --manifest-path "$root/Cargo.toml" >/dev/null
exe="${CARGO_TARGET_DIR:-$root/target}/release/edgeport"
"$PY" "$root/bench/quant_compare.py" "$exe" "$OUT" "$@"
