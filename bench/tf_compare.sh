#!/usr/bin/env bash
# Side-by-side conversion benchmark: edgeport against tf2onnx, onnx2tf and TensorFlow's own
# TFLiteConverter, on the same files, each run under /usr/bin/time -v (wall time, peak RSS).
#
# Cases (skipped with a notice when a file is absent):
#   Keras MobileNetV2 α0.35 96×96 (tests/fixtures/tensorflow/make_fixtures.py,
#   tests/fixtures/tflite/make_fixtures.py):
#     SavedModel -> ONNX      tf2onnx --saved-model    | edgeport convert
#     frozen .pb -> ONNX      tf2onnx --graphdef       | edgeport convert   (TF import -> ONNX)
#     .tflite -> ONNX         tf2onnx --tflite         | edgeport convert
#     SavedModel -> TFLite    TFLiteConverter          | edgeport convert
#   torch mobilenet_v2 / resnet18 ONNX (bench/make_resnet18.py and the quantization fixtures):
#     ONNX -> TFLite          onnx2tf                  | edgeport convert (and --nhwc-io)
#
# Usage: bench/tf_compare.sh EDGEPORT_BIN [BIG_DIR]
#   EDGEPORT_BIN  the edgeport binary to time (use a release build for the figures)
#   BIG_DIR       folder with tensorflow/, tflite/ and the .onnx models (default
#                 $EDGEPORT_FIXTURES or /work/cache/fixtures)
# Environment: PEERS_VENV (tf2onnx 1.17.0, onnx2tf 1.29.24 and their pinned dependencies —
# tensorflow 2.19.0; default /work/cache/venv-peers; make it with
#   python3.11 -m venv V && V/bin/pip install onnx2tf==1.29.24 tf2onnx==1.17.0),
# TF_VENV (tensorflow-cpu 2.21.0 for the TFLiteConverter; default /work/cache/venv-tf),
# ONLY=substring to run only matching rows.
# Prints one row per (case, tool): wall seconds, peak RSS MB, input size MB, exit status; the
# first row is edgeport on a 32 KB model (the process's fixed cost).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
EDGEPORT="$(realpath "${1:?usage: bench/tf_compare.sh EDGEPORT_BIN [BIG_DIR]}")"
BIG="$(realpath "${2:-${EDGEPORT_FIXTURES:-/work/cache/fixtures}}")"
PEERS="${PEERS_VENV:-/work/cache/venv-peers}"
TFV="${TF_VENV:-/work/cache/venv-tf}"
ONLY="${ONLY:-}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
export TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES=""
# onnx2tf downloads a sample-image array at start (to test-run the model) unless the file is in
# the working directory; with no network, give it one (random images in [0, 1], same shape).
cd "$OUT"
"$PEERS/bin/python" -c "import numpy as np
np.save('calibration_image_sample_data_20x128x128x3_float32.npy',
        np.random.default_rng(0).uniform(0, 1, (20, 128, 128, 3)).astype(np.float32))"

size_mb() { du -sk "$1" 2>/dev/null | awk '{printf "%.1f", $1 / 1024}'; }

# row CASE TOOL INPUT CMD... : runs CMD under /usr/bin/time -v and prints one row.
row() {
  local case="$1" tool="$2" input="$3"
  shift 3
  if [ -n "$ONLY" ] && [[ "$case $tool" != *"$ONLY"* ]]; then return; fi
  if [ ! -e "$input" ]; then
    printf '%-28s %-22s %8s %9s %8s  %s\n' "$case" "$tool" "-" "-" "-" "skipped: $input absent"
    return
  fi
  /usr/bin/time -v "$@" > "$OUT/log.txt" 2> "$OUT/time.txt"
  local rc=$?
  local wall rss status
  wall=$(grep "Elapsed (wall" "$OUT/time.txt" | awk '{print $NF}' |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  rss=$(grep "Maximum resident" "$OUT/time.txt" | awk '{printf "%.0f", $NF / 1024}')
  status="ok"
  if [ "$rc" -ne 0 ]; then
    status="exit $rc: $(grep -v '^\s' "$OUT/time.txt" | grep -iE 'error|exception' | tail -1 | cut -c1-120)"
  fi
  printf '%-28s %-22s %8.2f %9s %8s  %s\n' "$case" "$tool" "$wall" "$rss" "$(size_mb "$input")" "$status"
}

TF="$BIG/tensorflow/mobilenet_v2_035_96"
TFL="$BIG/tflite/mobilenet_v2_035_96.tflite"
# The frozen graph's placeholder and output node names are fixed by make_fixtures.py.
PB_IN="t:0"
PB_OUT="Identity:0"

printf '%-28s %-22s %8s %9s %8s  %s\n' case tool "wall s" "RSS MB" "in MB" status
# The fixed cost of a conversion (the binary's resident code and tables, allocator, buffers):
# a 32 KB model, so RSS above this row's is what a model costs.
row "floor: 32 KB .tflite->ONNX" edgeport "$REPO/tests/fixtures/tflite/small_float.tflite" \
  "$EDGEPORT" convert "$REPO/tests/fixtures/tflite/small_float.tflite" -o "$OUT/floor.onnx"
row "mnv2 SavedModel->ONNX" tf2onnx "${TF}_saved" \
  "$PEERS/bin/python" -m tf2onnx.convert --saved-model "${TF}_saved" --output "$OUT/a.onnx" --opset 17
row "mnv2 SavedModel->ONNX" edgeport "${TF}_saved" "$EDGEPORT" convert "${TF}_saved" -o "$OUT/b.onnx"
row "mnv2 .pb->ONNX" tf2onnx "$TF.pb" \
  "$PEERS/bin/python" -m tf2onnx.convert --graphdef "$TF.pb" --inputs "$PB_IN" --outputs "$PB_OUT" \
  --output "$OUT/c.onnx" --opset 17
row "mnv2 .pb->ONNX" edgeport "$TF.pb" "$EDGEPORT" convert "$TF.pb" -o "$OUT/d.onnx"
row "mnv2 .tflite->ONNX" tf2onnx "$TFL" \
  "$PEERS/bin/python" -m tf2onnx.convert --tflite "$TFL" --output "$OUT/e.onnx" --opset 17
row "mnv2 .tflite->ONNX" edgeport "$TFL" "$EDGEPORT" convert "$TFL" -o "$OUT/f.onnx"
row "mnv2 SavedModel->TFLite" TFLiteConverter "${TF}_saved" \
  "$TFV/bin/python" -c "import sys, tensorflow as tf
open(sys.argv[2], 'wb').write(tf.lite.TFLiteConverter.from_saved_model(sys.argv[1]).convert())" \
  "${TF}_saved" "$OUT/g.tflite"
row "mnv2 SavedModel->TFLite" edgeport "${TF}_saved" "$EDGEPORT" convert "${TF}_saved" -o "$OUT/h.tflite"
# The standard Keras MobileNetV2 (alpha 1.0, 224x224: 14 MB of weights), made by
# bench/make_mnv2_full.py into $BIG/tf_full: the alpha-0.35 fixture above holds fewer bytes of
# weights than the converter process's own code pages (the floor row), so its RSS ratio mostly
# measures the process, not the model.
FULL="$BIG/tf_full/mobilenet_v2_100_224"
row "full mnv2 SavedModel->ONNX" tf2onnx "${FULL}_saved" \
  "$PEERS/bin/python" -m tf2onnx.convert --saved-model "${FULL}_saved" --output "$OUT/fa.onnx" --opset 17
row "full mnv2 SavedModel->ONNX" edgeport "${FULL}_saved" "$EDGEPORT" convert "${FULL}_saved" -o "$OUT/fb.onnx"
row "full mnv2 .pb->ONNX" tf2onnx "$FULL.pb" \
  "$PEERS/bin/python" -m tf2onnx.convert --graphdef "$FULL.pb" --inputs "$PB_IN" --outputs "$PB_OUT" \
  --output "$OUT/fc.onnx" --opset 17
row "full mnv2 .pb->ONNX" edgeport "$FULL.pb" "$EDGEPORT" convert "$FULL.pb" -o "$OUT/fd.onnx"
row "full mnv2 .pb->TFLite" edgeport "$FULL.pb" "$EDGEPORT" convert "$FULL.pb" -o "$OUT/fd.tflite"
row "full mnv2 .tflite->ONNX" tf2onnx "$FULL.tflite" \
  "$PEERS/bin/python" -m tf2onnx.convert --tflite "$FULL.tflite" --output "$OUT/fe.onnx" --opset 17
row "full mnv2 .tflite->ONNX" edgeport "$FULL.tflite" "$EDGEPORT" convert "$FULL.tflite" -o "$OUT/ff.onnx"
row "full mnv2 SavedModel->TFLite" TFLiteConverter "${FULL}_saved" \
  "$TFV/bin/python" -c "import sys, tensorflow as tf
open(sys.argv[2], 'wb').write(tf.lite.TFLiteConverter.from_saved_model(sys.argv[1]).convert())" \
  "${FULL}_saved" "$OUT/fg.tflite"
row "full mnv2 SavedModel->TFLite" edgeport "${FULL}_saved" "$EDGEPORT" convert "${FULL}_saved" -o "$OUT/fh.tflite"
for m in mobilenet_v2 resnet18; do
  src="$BIG/$m.onnx"
  row "$m ONNX->TFLite" onnx2tf "$src" "$PEERS/bin/onnx2tf" -i "$src" -o "$OUT/onnx2tf_$m" -n
  row "$m ONNX->TFLite" edgeport "$src" "$EDGEPORT" convert "$src" -o "$OUT/$m.tflite"
  row "$m ONNX->TFLite" "edgeport --nhwc-io" "$src" "$EDGEPORT" convert "$src" -o "$OUT/$m.nhwc.tflite" --nhwc-io
done
