#!/usr/bin/env bash
# The onnxruntime round-trip suite in check mode: every case the committed manifest
# (tests/conformance/manifest/ort.txt) records as passing must still pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/.cache/venv/bin/python" tests/ort_suite.py --check --out "$root/.cache/ort"
