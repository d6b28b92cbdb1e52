#!/usr/bin/env bash
# Prepares what the tests need, into .cache/ (never into git), idempotently:
#  - .cache/venv: a Python venv with the pinned packages of tests/requirements.txt
#  - .cache/onnx-1.22.0/data: the ONNX backend test data shipped in the onnx 1.22.0 wheel
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache"
venv="$cache/venv"
stamp="$venv/.requirements.sha"
want=$(sha256sum "$root/tests/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating $venv with tests/requirements.txt"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements.txt"
  echo "$want" > "$stamp"
fi
data=$("$venv/bin/python" -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data"))')
if [ ! -d "$data/node" ]; then
  echo "setup: the installed onnx has no backend node tests at $data" >&2
  exit 1
fi
mkdir -p "$cache/onnx-1.22.0"
ln -sfn "$data" "$cache/onnx-1.22.0/data"
echo "setup: $(ls "$data/node" | wc -l) node-test cases at .cache/onnx-1.22.0/data"
