#!/usr/bin/env bash
# Prints the pass counts of the conformance suites from their committed manifests.
root=$(cd "$(dirname "$0")/.." && pwd)
m="$root/tests/conformance/manifest"
if [ -f "$m/eval.txt" ]; then
  total=$(grep -vc '^#' "$m/eval.txt"); pass=$(grep -c ' pass$' "$m/eval.txt")
  node_total=$(grep -v '^#' "$m/eval.txt" | grep -vc '^light_'); node_pass=$(grep -v '^light_' "$m/eval.txt" | grep -c ' pass$')
  light_pass=$(grep '^light_' "$m/eval.txt" | grep -c ' pass$')
  echo "conformance eval (import -> evaluator): node tests $node_pass/$node_total pass, light models $light_pass/9 pass"
fi
if [ -f "$m/ort.txt" ]; then
  orig=$(grep -c 'original:pass' "$m/ort.txt"); rt=$(grep -c 'original:pass exported:pass' "$m/ort.txt")
  wins=$(grep -c 'win at opset' "$m/ort.txt")
  echo "conformance ort (import -> export -> onnxruntime): $rt/$orig of the cases onnxruntime passes on the original also pass after the round trip; $wins more pass only when exported at a lower opset"
fi
