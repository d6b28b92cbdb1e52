#!/usr/bin/env bash
# Benchmarks ONNX -> ONNX conversion (import -> validate -> export).
#
# Models: a ResNet-18-shaped model made by make_resnet18.py with onnx.helper and random
# weights (~46.8 MB; torch from PyPI is a multi-GB CUDA build here, so the architecture is
# rebuilt by hand rather than exported from torchvision), and a ~1 GB external-data model
# made by make_big_external.py.
#
# Times `edgeport convert in.onnx -o out.onnx` when the CLI is built (EDGEPORT=path), else the
# example converters/onnx/examples/roundtrip.rs in release, with /usr/bin/time -v (wall clock,
# max RSS). The 1 GB model's time is reported as a ratio to `cp` of the same bytes.
# Targets: resnet18 < 0.25 s wall and peak RSS < 1.2x the file size; 1 GB <= 3x cp.
#
# Usage: bench/convert_onnx.sh [WORKDIR]   (PYTHON defaults to .cache/venv/bin/python, made by tests/setup.sh)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
WORK="${1:-${TMPDIR:-/tmp}/edgeport-bench}"
PY="${PYTHON:-$REPO/.cache/venv/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
mkdir -p "$WORK"

if [[ -n "${EDGEPORT:-}" ]]; then
  conv() { "$EDGEPORT" convert "$1" -o "$2"; }
  TOOL="$EDGEPORT convert"
else
  (cd "$REPO" && cargo build -q --release -p edgeport-onnx --example roundtrip)
  BIN="$TARGET/release/examples/roundtrip"
  TOOL="$BIN"
fi

run_timed() { # label in out -> prints wall seconds and max RSS KiB
  local log="$WORK/time.log"
  if [[ -n "${EDGEPORT:-}" ]]; then
    /usr/bin/time -v "$EDGEPORT" convert "$1" -o "$2" 2>"$log" >/dev/null
  else
    /usr/bin/time -v "$BIN" "$1" -o "$2" 2>"$log" >/dev/null
  fi
  local wall rss cpu
  cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$log")
  echo "$wall $rss $cpu"
}

[[ -f "$WORK/resnet18.onnx" ]] || "$PY" "$HERE/make_resnet18.py" "$WORK/resnet18.onnx"
[[ -f "$WORK/big.onnx" ]] || "$PY" "$HERE/make_big_external.py" "$WORK/big.onnx"

echo "tool: $TOOL"; echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
size=$(stat -c %s "$WORK/resnet18.onnx")
run_timed "$WORK/resnet18.onnx" "$WORK/resnet18_out.onnx" >/dev/null # warm the page cache
best=""
for i in 1 2 3; do
  read -r wall rss cpu < <(run_timed "$WORK/resnet18.onnx" "$WORK/resnet18_out.onnx")
  if [[ -z "$best" ]] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; best_rss=$rss; best_cpu=$cpu; fi
done
awk -v w="$best" -v r="$best_rss" -v s="$size" -v c="$best_cpu" 'BEGIN{
  printf "resnet18: %.1f MB, wall %.3f s (target < 0.25), cpu %.2f s, max RSS %.1f MB = %.2fx file size (target < 1.2)\n", s/1e6, w, c, r*1024/1e6, r*1024/s }'

data_size=$(stat -c %s "$WORK/big.data")
cat "$WORK/big.onnx" "$WORK/big.data" >/dev/null # warm
start=$(date +%s.%N); cp "$WORK/big.data" "$WORK/big_copy.data"; end=$(date +%s.%N)
cp_wall=$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')
rm -f "$WORK/big_copy.data"
read -r wall rss cpu < <(run_timed "$WORK/big.onnx" "$WORK/big_out.onnx")
awk -v w="$wall" -v c="$cp_wall" -v r="$rss" -v s="$data_size" 'BEGIN{
  printf "big (external data, %.2f GB): wall %.2f s, cp %.2f s, ratio %.2fx (target <= 3), max RSS %.1f MB\n", s/1e9, w, c, w/c, r*1024/1e6 }'
rm -f "$WORK/big_out.onnx" "$WORK/big_out.data"
