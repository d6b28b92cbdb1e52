"""Refits `passes/src/prune/latency.rs`'s `LatencyModel` defaults on this machine: times ~690
single Conv nodes (1×1, 3×3, depthwise; 16–512 channels; 7–112 positions a side) and 20 batch-1
Gemm layers in onnxruntime's CPU provider (1 thread, best of several runs), then fits the
roofline `max(MACs / (P·e), activation bytes / B_act) + weight bytes / B_w` with
`e = n/(n+n½) · k/(k+k½) · c/(c+c½)` (depthwise: its own rate) by least squares on log time.

usage: python bench/latency_model_fit.py [OUT.csv]   (onnxruntime, numpy, scipy; e.g. /work/cache/venv-torch)
Session 8's fits (onnxruntime 1.32, AVX-512 Xeon; two fits of slightly different grids): P 96–103 GMAC/s,
depthwise 10 GMAC/s, B_act 9.3–9.4 GB/s, log-time rms error 0.21,
n½ 0–5, k½ 37–41, c½ 12–13; Gemm weights stream at about 20 GB/s once they exceed the cache.
"""
import csv
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from scipy.optimize import least_squares

rng = np.random.default_rng(0)


def session(nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def best(s, feeds, budget=0.05):
    for _ in range(3):
        s.run(None, feeds)
    t0 = time.perf_counter()
    s.run(None, feeds)
    reps = max(5, min(60, int(budget / max(1e-5, time.perf_counter() - t0))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        s.run(None, feeds)
        ts.append(time.perf_counter() - t0)
    return float(np.min(ts))


def conv_time(cin, cout, hw, k, group, stride=1):
    w = rng.standard_normal((cout, cin // group, k, k)).astype(np.float32)
    ho = (hw + 2 * (k // 2) - k) // stride + 1
    n = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], pads=[k // 2] * 4,
                         strides=[stride] * 2, group=group)
    s = session([n], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, ho, ho])],
                [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(cout, np.float32), "b")])
    return best(s, {"x": rng.random((1, cin, hw, hw), dtype=np.float32)}), ho


def measure(path):
    chans = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    with open(path, "w") as out:
        out.write("cin,cout,hw,ho,k,group,stride,sec\n")
        for hw in [7, 14, 28, 56, 112]:
            for c in chans:
                if c * hw * hw > 1.3e6:
                    continue
                for cout in chans:
                    if cout * hw * hw > 1.3e6:
                        continue
                    if (c + cout) % 3 and c != cout and cout not in (16, 64, 256):
                        continue
                    for k in (1, 3):
                        if k == 3 and c * cout * hw * hw > 4e8:
                            continue
                        t, ho = conv_time(c, cout, hw, k, 1)
                        out.write(f"{c},{cout},{hw},{ho},{k},1,1,{t}\n")
                for stride in (1, 2):
                    t, ho = conv_time(c, c, hw, 3, c, stride)
                    out.write(f"{c},{c},{hw},{ho},3,{c},{stride},{t}\n")
    print("Gemm (batch 1): weight bytes per second")
    for k in [256, 512, 1024, 2048]:
        for n in [128, 512, 1000, 2048]:
            nd = helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)
            s = session([nd], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
                        [numpy_helper.from_array(rng.standard_normal((n, k)).astype(np.float32), "w")])
            t = best(s, {"x": rng.random((1, k), dtype=np.float32)})
            print(f"  {k:5d} x {n:5d}: {4 * k * n / t / 1e9:6.1f} GB/s")


def fit(path):
    rows = list(csv.DictReader(open(path)))
    A = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    cin, cout, ho, hw, k, g, t = A["cin"], A["cout"], A["ho"], A["hw"], A["k"], A["group"], A["sec"]
    dw = g > 1
    taps = (cin / g) * k * k
    macs = cout * ho * ho * taps
    pos = ho * ho
    act = 4 * (cin * hw * hw + cout * ho * ho)
    wb = 4 * cout * taps

    def model(p):
        P, B, kn, kk, kc, t0, Pd = np.exp(p)
        e = pos / (pos + kn) * taps / (taps + kk) * cout / (cout + kc)
        comp = np.where(dw, macs / (Pd * pos / (pos + kn)), macs / (P * e))
        return np.maximum(comp, act / B) + wb / 20e9 + t0

    def res(p):
        return np.log(model(p)) - np.log(t)

    r = least_squares(res, np.log([85e9, 22e9, 16, 32, 16, 5e-6, 20e9]))
    P, B, kn, kk, kc, t0, Pd = np.exp(r.x)
    print(f"peak {P / 1e9:.1f} GMAC/s, depthwise {Pd / 1e9:.1f} GMAC/s, activations {B / 1e9:.1f} GB/s, "
          f"half positions {kn:.1f}, half reduction {kk:.1f}, half outputs {kc:.1f}, fixed {t0 * 1e6:.1f} us")
    e = np.exp(np.abs(res(r.x)))
    print(f"log-time rms error {np.sqrt(np.mean(res(r.x) ** 2)):.3f}; median error ×{np.median(e):.3f}, "
          f"90th percentile ×{np.percentile(e, 90):.3f}")


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "latency_grid.csv"
    measure(path)
    fit(path)
