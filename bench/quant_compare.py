"""edgeport quantize vs onnxruntime quantize_static on the same calibration and held-out inputs.

For each model: float ORT outputs on the held-out inputs; onnxruntime.quantization.quantize_static
(QDQ, per-channel, int8 weights, uint8 activations, MinMax) timed; `edgeport quantize` timed;
both outputs run in onnxruntime: cosine to float (mean over samples), max abs, size ratio and
mean run time per sample.

Pinned: onnxruntime 1.32.0, onnx 1.22.0, numpy (/work/cache/venv-torch).
Usage: python quant_compare.py EDGEPORT_BIN FIXTURE_DIR OUTDIR MODEL [MODEL ...] [-- EXTRA edgeport flags]
"""
import os
import subprocess
import sys
import time
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

argv = sys.argv[1:]
extra = []
if "--" in argv:
    i = argv.index("--")
    argv, extra = argv[:i], argv[i + 1:]
exe, fix, outdir, models = argv[0], argv[1], argv[2], argv[3:]
os.makedirs(outdir, exist_ok=True)


def samples(path, model):
    ins = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).get_inputs()
    rank = {i.name: len(i.shape) for i in ins}
    z = np.load(path)
    n = z[ins[0].name].shape[0]
    # Stacked along a new leading axis ([N, 1, ...]) or along the batch axis ([N, ...]).
    return [{k: (z[k][i] if z[k].ndim == r + 1 else z[k][i:i + 1]) for k, r in rank.items()} for i in range(n)]


class Reader(CalibrationDataReader):
    def __init__(self, s):
        self.it = iter(s)

    def get_next(self):
        return next(self.it, None)


def run(path, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    outs = [s.run(None, f) for f in feeds]
    t = time.perf_counter()
    for f in feeds:
        s.run(None, f)
    return outs, (time.perf_counter() - t) / len(feeds)


def cos(a, b):
    c = []
    for x, y in zip(a, b):
        x = np.concatenate([o.ravel() for o in x]).astype(np.float64)
        y = np.concatenate([o.ravel() for o in y]).astype(np.float64)
        c.append(float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-300)))
    return float(np.mean(c)), max(float(np.abs(np.concatenate([o.ravel() for o in x]) - np.concatenate([o.ravel() for o in y])).max()) for x, y in zip(a, b))


print(f"{'model':<14}{'tool':<10}{'cosine':>10}{'max abs':>11}{'size':>8}{'quant s':>9}{'run ms':>9}")
for m in models:
    f = os.path.join(fix, f"{m}.onnx")
    cal = samples(os.path.join(fix, f"{m}_calib.npz"), f)
    held = samples(os.path.join(fix, f"{m}_heldout.npz"), f)
    ref, t_float = run(f, held)
    size = os.path.getsize(f)
    print(f"{m:<14}{'float':<10}{1.0:>10.6f}{0.0:>11.3e}{1.0:>8.3f}{0.0:>9.2f}{t_float * 1e3:>9.2f}")
    o_ort = os.path.join(outdir, f"{m}.ort_int8.onnx")
    t = time.perf_counter()
    quantize_static(f, o_ort, Reader(cal), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    t_ort = time.perf_counter() - t
    got, t_run = run(o_ort, held)
    c, e = cos(ref, got)
    print(f"{m:<14}{'ort':<10}{c:>10.6f}{e:>11.3e}{os.path.getsize(o_ort) / size:>8.3f}{t_ort:>9.2f}{t_run * 1e3:>9.2f}")
    o_ep = os.path.join(outdir, f"{m}.edgeport_int8.onnx")
    t = time.perf_counter()
    r = subprocess.run([exe, "quantize", f, "-o", o_ep, "--calibration", os.path.join(fix, f"{m}_calib.npz"),
                        "--heldout", os.path.join(fix, f"{m}_heldout.npz"), "--json"] + extra, capture_output=True, text=True)
    t_ep = time.perf_counter() - t
    if r.returncode != 0:
        print(f"{m:<14}{'edgeport':<10} FAILED: {r.stdout[-400:]} {r.stderr[-400:]}")
        continue
    got, t_run = run(o_ep, held)
    c, e = cos(ref, got)
    print(f"{m:<14}{'edgeport':<10}{c:>10.6f}{e:>11.3e}{os.path.getsize(o_ep) / size:>8.3f}{t_ep:>9.2f}{t_run * 1e3:>9.2f}")
