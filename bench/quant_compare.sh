#!/usr/bin/env bash
# edgeport quantize vs onnxruntime quantize_static: cosine to float on 16 held-out inputs, size
# ratio, quantize time and onnxruntime run time of both outputs, on the same 32 calibration inputs.
# Models and inputs come from tests/fixtures/quant/make_big.py and make_minilm.py (written to
# $FIXTURES, default /work/cache/fixtures); digits from the committed fixture.
# Usage: bench/quant_compare.sh [MODEL ...] [-- extra edgeport quantize flags]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
FIXTURES="${FIXTURES:-/work/cache/fixtures}"
PY="${PY:-/work/cache/venv-torch/bin/python}"
OUT="${OUT:-$root/.cache/quant_bench}"
cargo build --release -p edgeport --manifest-path "$root/Cargo.toml" >/dev/null
exe="${CARGO_TARGET_DIR:-$root/target}/release/edgeport"
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(resnet18 mobilenet_v2)
"$PY" "$root/bench/quant_compare.py" "$exe" "$FIXTURES" "$OUT" "${models[@]}"
