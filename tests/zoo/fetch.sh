#!/usr/bin/env bash
# Fetches the real pretrained TFLite models used by tests/zoo/zoo_check.py and the edgeport-tflite
# zoo tests: the MediaPipe 0.10.14 wheel from PyPI (pinned by version and sha256) ships its
# legacy-solution models under mediapipe/modules/ — face detection (one with sparse weights),
# face/hand/iris/pose landmarks, palm and pose detection, selfie segmentation (custom op
# Convolution2DTransposeBias), a face landmark model with attention (custom ops
# Landmarks2TransformMatrix, TransformTensorBilinear, TransformLandmarks).
#
# Usage: tests/zoo/fetch.sh [DEST]   (default: <repo>/.cache/zoo; or $EDGEPORT_ZOO)
# Needs: a python with pip (uses $PYTHON, else .cache/venv/bin/python, else python3).
# Exit status 75 when the wheel cannot be downloaded (no network); 1 on a checksum mismatch.
# The models land in DEST/mediapipe/*.tflite; the wheel is kept in DEST/wheels/.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="${1:-${EDGEPORT_ZOO:-$REPO/.cache/zoo}}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$REPO/.cache/venv/bin/python" ]; then PY="$REPO/.cache/venv/bin/python"; else PY=python3; fi
fi
VERSION=0.10.14
WHEEL="mediapipe-$VERSION-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SHA256=a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4

mkdir -p "$DEST/wheels" "$DEST/mediapipe"
if [ ! -f "$DEST/wheels/$WHEEL" ]; then
  if ! "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
    --abi cp311 --platform manylinux_2_17_x86_64 -d "$DEST/wheels" "mediapipe==$VERSION" >&2; then
    # Exit 75 (EX_TEMPFAIL) lets tests/run.sh tell "no network" from a real failure.
    echo "fetch.sh: could not download $WHEEL from PyPI (network unavailable?)" >&2
    exit 75
  fi
fi
echo "$SHA256  $DEST/wheels/$WHEEL" | sha256sum -c --quiet - || {
  echo "fetch.sh: $WHEEL does not have the pinned sha256; removed" >&2
  rm -f "$DEST/wheels/$WHEEL"
  exit 1
}
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" - "$DEST/wheels/$WHEEL" "$TMP" <<'PYEOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith("mediapipe/modules/") and n.endswith(".tflite"):
        z.extract(n, sys.argv[2])
PYEOF
find "$TMP/mediapipe/modules" -name '*.tflite' -exec cp {} "$DEST/mediapipe/" \;
echo "$(ls "$DEST/mediapipe" | wc -l) models in $DEST/mediapipe"
