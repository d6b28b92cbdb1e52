#!/usr/bin/env bash
# ONNX → TFLite conversion time and peak RSS (release build) on resnet18 / mobilenet_v2 made by
# tests/fixtures/tflite_export/make_models.py --big DIR. Usage: tests/tflite/bench.sh [DIR]
# Runs both the converter-only tool (tests/tflite/bench, no evaluator linked) and, when built,
# `edgeport convert` (release), each under /usr/bin/time -v.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:-$REPO/.cache/tflite_models}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO/tests/tflite/bench" && cargo build --release -q)
BENCH="$CARGO_TARGET_DIR/release/tflite-convert-bench"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for m in resnet18 mobilenet_v2; do
  [ -f "$DIR/$m.onnx" ] || { echo "$m: missing $DIR/$m.onnx"; continue; }
  size=$(stat -c %s "$DIR/$m.onnx")
  for flag in "" "--nhwc-io"; do
    /usr/bin/time -v "$BENCH" "$DIR/$m.onnx" "$OUT/$m.tflite" $flag 2> "$OUT/time.txt" | sed "s/^/$m $flag: /"
    rss=$(grep "Maximum resident" "$OUT/time.txt" | awk '{print $6}')
    wall=$(grep "Elapsed (wall" "$OUT/time.txt" | awk '{print $8}')
    echo "$m $flag: wall $wall, max RSS $((rss / 1024)) MB, model $((size / 1048576)) MB"
  done
  if [ -x "$REPO/target/release/edgeport" ]; then
    /usr/bin/time -v "$REPO/target/release/edgeport" convert "$DIR/$m.onnx" -o "$OUT/$m.cli.tflite" --nhwc-io > /dev/null 2> "$OUT/time.txt"
    echo "$m edgeport convert --nhwc-io: wall $(grep "Elapsed (wall" "$OUT/time.txt" | awk '{print $8}'), max RSS $(( $(grep "Maximum resident" "$OUT/time.txt" | awk '{print $6}') / 1024 )) MB"
  fi
done
