"""Quantize time, edgeport against onnxruntime's quantize_static, timed in turns.

Issue 6's time figure: static int8 of resnet18 with 32 calibration samples in at most half
onnxruntime's quantize_static time on the same machine. This machine's speed drifts, so one
pair of runs says little: this runs ROUNDS rounds, each onnxruntime's quantize_static (QDQ,
per-channel int8 weights, uint8 activations, MinMax; the same settings as quant_compare.py)
then `edgeport quantize --no-check` (whole-process wall time; --no-check leaves out edgeport's
own held-out check, work quantize_static does not do), and prints every round's ratio and the
minimum and median.

Pinned: onnxruntime 1.32.0, numpy (/work/cache/venv-torch).
Usage: python quant_time.py EDGEPORT_BIN [ROUNDS (8)] [MODEL (resnet18)]
Env: FIXTURES (MODEL.onnx and MODEL_calib.npz, from tests/fixtures/quant/make_big.py;
default /work/cache/fixtures/quant).
"""
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

logging.disable(logging.WARNING)  # quantize_static's per-bias and pre-processing advice
exe = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
model = sys.argv[3] if len(sys.argv) > 3 else "resnet18"
fix = os.environ.get("FIXTURES", "/work/cache/fixtures/quant")
f = os.path.join(fix, f"{model}.onnx")
calp = os.path.join(fix, f"{model}_calib.npz")
z = np.load(calp)
name = z.files[0]
cal = z[name]


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter([{name: cal[i:i + 1]} for i in range(cal.shape[0])])

    def get_next(self):
        return next(self.it, None)


ratios = []
with tempfile.TemporaryDirectory() as d:
    for r in range(rounds):
        t = time.perf_counter()
        quantize_static(f, os.path.join(d, "ort.onnx"), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        t_ort = time.perf_counter() - t
        t = time.perf_counter()
        p = subprocess.run([exe, "quantize", f, "-o", os.path.join(d, "ep.onnx"), "--calibration", calp, "--no-check"],
                           capture_output=True, text=True)
        t_ep = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"edgeport failed: {p.stderr[-800:]}")
        ratios.append(t_ort / t_ep)
        print(f"round {r + 1}: onnxruntime {t_ort:.2f} s, edgeport {t_ep:.2f} s, ratio {ratios[-1]:.2f}x", flush=True)
print(f"{model}: ratio min {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x over {rounds} rounds "
      f"(target >= 2x)")
