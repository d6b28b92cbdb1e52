#!/bin/sh
# Seeds fuzz/corpus/onnx_import with the ONNX node-test models (small files) and the test
# fixtures. Run from the repository root after tests/setup.sh.
set -e
out=fuzz/corpus/onnx_import
mkdir -p "$out"
for d in .cache/onnx-1.22.0/data/node/*/; do
    n=$(basename "$d")
    [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$out/$n.onnx"
done
find converters/onnx/tests/fixtures -name '*.onnx' -exec cp {} "$out/" \; 2>/dev/null || true
echo "$(ls "$out" | wc -l) seed files in $out"
