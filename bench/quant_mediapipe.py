"""Static int8 of trained models: MediaPipe's landmark models (from the pinned zoo wheel that
tests/run.sh fetches into .cache/zoo), converted TFLite → ONNX by edgeport, quantized by
onnxruntime's quantize_static (QDQ, per-channel, uint8 activations, min-max) and by
`edgeport quantize` (static int8; and with --min-cosine where given), on the same 32 random
[0, 1] calibration images; output cosine to the float model over all outputs on 16 more, size
ratio, and onnxruntime run time of both int8 models timed in turns (one thread, best of 5).

Usage: python quant_mediapipe.py EDGEPORT_BIN OUTDIR [MODEL[:MIN_COSINE] ...]
Env: ZOO (default .cache/zoo/mediapipe under the repo)
"""
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
exe, out = sys.argv[1], sys.argv[2]
zoo = os.environ.get("ZOO", os.path.join(ROOT, ".cache/zoo/mediapipe"))
models = sys.argv[3:] or ["face_landmark", "hand_landmark_full:0.9995", "pose_landmark_full:0.99"]
os.makedirs(out, exist_ok=True)


def session(p):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])


def outputs(p, name, xs):
    s = session(p)
    return [np.concatenate([o.ravel() for o in s.run(None, {name: xs[i:i + 1]})]) for i in range(len(xs))]


def cosine(a, b):
    return float(np.mean([(x @ y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-30) for x, y in zip(a, b)]))


def in_turns(paths, name, xs, reps=5):
    ss = [session(p) for p in paths]
    best = [float("inf")] * len(ss)
    for _ in range(reps):
        for j, s in enumerate(ss):
            t = time.perf_counter()
            for i in range(len(xs)):
                s.run(None, {name: xs[i:i + 1]})
            best[j] = min(best[j], (time.perf_counter() - t) / len(xs))
    return best


def edgeport(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"edgeport {' '.join(args)} failed:\n{r.stdout[-800:]}{r.stderr[-800:]}")


class Reader(CalibrationDataReader):
    def __init__(self, name, xs):
        self.it = iter([{name: xs[i:i + 1]} for i in range(len(xs))])

    def get_next(self):
        return next(self.it, None)


print(f"{'model':<20}{'tool':<26}{'cosine':>10}{'size':>8}{'ms':>9}")
for spec in models:
    m, _, budget = spec.partition(":")
    src = os.path.join(zoo, m + ".tflite")
    raw = os.path.join(out, m + ".onnx")
    f = os.path.join(out, m + ".folded.onnx")
    edgeport("convert", src, "-o", raw)
    edgeport("convert", raw, "-o", f, "--passes", "fold,dce")
    inp = onnx.load(f).graph.input[0]
    name = inp.name
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    cal = rng.random([32] + shape[1:], dtype=np.float32)
    held = rng.random([16] + shape[1:], dtype=np.float32)
    calp = os.path.join(out, m + "_calib.npz")
    np.savez(calp, **{name: cal})
    ref = outputs(f, name, held)
    size = os.path.getsize(f)
    o_ort = os.path.join(out, m + ".ort_int8.onnx")
    quantize_static(f, o_ort, Reader(name, cal), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    runs = [("ort int8", o_ort)]
    o_ep = os.path.join(out, m + ".edgeport_int8.onnx")
    edgeport("quantize", f, "-o", o_ep, "--calibration", calp, "--no-check")
    runs.append(("edgeport int8", o_ep))
    if budget:
        o_mx = os.path.join(out, m + ".edgeport_mixed.onnx")
        edgeport("quantize", f, "-o", o_mx, "--calibration", calp, "--no-check", "--min-cosine", budget)
        runs.append((f"edgeport --min-cosine {budget}", o_mx))
    times = in_turns([f] + [p for _, p in runs], name, held)
    print(f"{m:<20}{'float':<26}{1.0:>10.6f}{1.0:>8.3f}{times[0] * 1e3:>9.2f}", flush=True)
    for (tool, p), t in zip(runs, times[1:]):
        c = cosine(ref, outputs(p, name, held))
        print(f"{m:<20}{tool:<26}{c:>10.6f}{os.path.getsize(p) / size:>8.3f}{t * 1e3:>9.2f}", flush=True)
