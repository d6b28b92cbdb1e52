#!/usr/bin/env bash
# Benchmarks Paddle -> ONNX conversion with edgeport's libraries (bench/paddle2onnx: import,
# validate, export; its own workspace so the release build skips the evaluator), on the
# full-size paddle.vision mobilenet_v2 and resnet18 made by
# tests/fixtures/paddle/make_models.py ... big, in both program forms, with /usr/bin/time -v.
# Then checks each exported ONNX file with onnxruntime against Paddle's own outputs.
# Reference (issue 5): paddle2onnx 2.1.0 took 1.2-1.3 s and 440-470 MB for mobilenet_v2.
# Target: < 0.2 s and < 1.5x the model size in RSS.
#
# Usage: bench/convert_paddle.sh [FIXTURE_DIR]   (default /work/cache/fixtures/paddle)
#   PYTHON: a python with onnxruntime + numpy (default .cache/venv/bin/python)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
DIR="${1:-/work/cache/fixtures/paddle}"
PY="${PYTHON:-$REPO/.cache/venv/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO" && cargo build -q --release --manifest-path bench/paddle2onnx/Cargo.toml)
BIN="$TARGET/release/paddle2onnx-bench"
OUT="${TMPDIR:-/tmp}/edgeport-paddle-bench"
mkdir -p "$OUT"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for name in mobilenet_v2 resnet18; do
  for form in pir:json legacy:pdmodel; do
    f="${form%%:*}"; ext="${form##*:}"
    model="$DIR/$name.$f.$ext"
    [[ -f "$model" ]] || { echo "skip $model (run make_models.py big)"; continue; }
    size=$(( $(stat -c %s "$model") + $(stat -c %s "$DIR/$name.$f.pdiparams") ))
    "$BIN" "$model" "$OUT/$name.$f.onnx" 2>/dev/null # warm the page cache
    best=""; best_rss=""
    for i in 1 2 3; do
      /usr/bin/time -v "$BIN" "$model" "$OUT/$name.$f.onnx" 2>"$OUT/time.log" >/dev/null
      wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$OUT/time.log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
      rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$OUT/time.log")
      if [[ -z "$best" ]] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; best_rss=$rss; fi
    done
    awk -v n="$name.$f" -v w="$best" -v r="$best_rss" -v s="$size" 'BEGIN{
      printf "%s: %.1f MB, wall %.3f s (target < 0.2), max RSS %.1f MB = %.2fx model size (target < 1.5)\n", n, s/1e6, w, r*1024/1e6, r*1024/s }'
    "$PY" "$REPO/tests/fixtures/paddle/check_onnx.py" "$OUT/$name.$f.onnx" "$DIR/$name.$f.npz"
  done
done
