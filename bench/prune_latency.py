"""Structured pruning, side by side in one run: for each model, `edgeport prune --structured R`
with each `--round N`, the parameter and MAC reduction from edgeport's own report, and the
onnxruntime latency (CPU, 1 thread, median of --runs after 5 warm-ups) of the original and the
pruned model on the same random input. Issue 7's bar: latency falls at least in proportion to
MACs (latency ratio <= MAC ratio).

usage: python bench/prune_latency.py --edgeport target/release/edgeport
           [--models /work/cache/fixtures/resnet18.onnx ...] [--ratio 0.3] [--round 1 8 16]
           [--runs 30]
Needs onnxruntime and numpy (the test venv); the models are torch exports made by
bench/make_resnet18.py or tests/fixtures/quant/make_big.py.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort


def latency_ms(path, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    for _ in range(5):
        s.run(None, {i.name: x})
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, {i.name: x})
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--models", nargs="+", default=["/work/cache/fixtures/resnet18.onnx", "/work/cache/fixtures/mobilenet_v2.onnx"])
    ap.add_argument("--ratio", type=float, default=0.3)
    ap.add_argument("--round", type=int, nargs="+", default=[1, 8, 16])
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    print(f"structured {a.ratio}; onnxruntime {ort.__version__}, 1 thread, median of {a.runs}\n")
    print("| model | --round | params | MACs | latency ms | latency ratio | MAC ratio | in proportion |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for m in a.models:
            if not os.path.exists(m):
                print(f"| {m} | missing | | | | | | |")
                continue
            base = latency_ms(m, a.runs)
            name = os.path.basename(m).rsplit(".", 1)[0]
            for r in a.round:
                out = os.path.join(d, f"{name}_r{r}.onnx")
                p = subprocess.run([a.edgeport, "--json", "prune", m, "-o", out, "--structured", str(a.ratio), "--round", str(r)],
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"| {name} | {r} | prune failed: {p.stderr.strip()[:200]} | | | | | |")
                    continue
                rep = json.loads(p.stdout)
                pr = rep["params_after"] / rep["params_before"]
                mr = rep["macs_after"] / rep["macs_before"]
                lat = latency_ms(out, a.runs)
                lr = lat / base
                print(f"| {name} | {r} | -{100 * (1 - pr):.1f}% | -{100 * (1 - mr):.1f}% | {base:.2f} → {lat:.2f} | "
                      f"×{lr:.2f} | ×{mr:.2f} | {'yes' if lr <= mr else 'no'} |")


if __name__ == "__main__":
    main()
