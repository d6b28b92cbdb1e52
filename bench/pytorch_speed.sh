#!/usr/bin/env bash
# Benchmarks PyTorch -> ONNX conversion with the edgeport CLI: torchvision resnet18 as a
# torch.export program (.pt2, both op sets) and as a traced TorchScript module (.pt), with
# /usr/bin/time -v (wall clock and peak RSS), against the input file size.
# Targets (issue 4): under 0.3 s and peak RSS under 1.5x the file size. For scale, measured in
# the issue: pnnx (TorchScript -> ncnn) 3.1 s / 820 MB; coremltools 12 s / 1.6 GB.
#
# The models come from tests/fixtures/pytorch/make_pt2.py --big and make_ts.py --big
# (torch 2.15 venv) in /work/cache/fixtures/pytorch, or MODELS=dir.
#
# Usage: bench/pytorch_speed.sh EDGEPORT_BINARY [RUNS]   (best of RUNS, default 3)
set -euo pipefail
EXE="${1:?usage: bench/pytorch_speed.sh EDGEPORT_BINARY [RUNS]}"
RUNS="${2:-3}"
MODELS="${MODELS:-/work/cache/fixtures/pytorch}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

printf '| model | file MB | best wall s | peak RSS MB | RSS / file |\n|---|---|---|---|---|\n'
status=0
for m in resnet18.pt2 resnet18_core.pt2 resnet18_jit.pt; do
  f="$MODELS/$m"
  if [[ ! -f "$f" ]]; then
    echo "| $m | missing (run make_pt2.py --big / make_ts.py --big) | | | |"
    continue
  fi
  size=$(stat -c %s "$f")
  best=""; rss=0
  for _ in $(seq "$RUNS"); do
    if ! /usr/bin/time -v "$EXE" convert "$f" -o "$WORK/out.onnx" 2>"$WORK/time.txt" >/dev/null; then
      echo "| $m | convert failed: $(grep -v '^\s' "$WORK/time.txt" | head -1) | | | |"
      status=1
      continue 2
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$WORK/time.txt")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    if [[ -z "$best" ]] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; fi
    if (( kb > rss )); then rss=$kb; fi
  done
  awk -v m="$m" -v s="$size" -v w="$best" -v r="$rss" \
    'BEGIN{printf "| %s | %.1f | %.3f | %.1f | %.2f |\n", m, s/1048576, w, r/1024, r*1024/s}'
done
exit $status
