"""End-to-end check of the Caffe, MXNet and PaddlePaddle fixtures: each model is converted with
the edgeport CLI to ONNX and to TFLite, the results are run in onnxruntime and ai-edge-litert,
and every output is compared with the framework's own output saved beside the fixture (.npz).

The fixtures and their .npz were written by the frameworks themselves (see make_*.py next to
them): Caffe outputs come from OpenCV's dnn module, MXNet's from mxnet 1.9.1, Paddle's from
paddlepaddle 3.3.1. This script needs no framework: only onnxruntime, ai-edge-litert and numpy
(the test venv, tests/requirements.txt).

usage: python e2e_check.py --edgeport BIN [--big DIR] [--out DIR] [--only SUBSTR] [--tol 1e-4]
  --big DIR   also check the full-size models generated into DIR (caffe/, mxnet/, paddle/ subfolders;
              caffe/ by tests/fixtures/caffe/make_caffe.py big DIR/caffe)
Exit 1 when a conversion fails or a max abs difference exceeds the tolerance (relative to the
output's magnitude when it exceeds 1: tol * max(1, max|ref|)).
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Conversions that are known not to work yet, with the reason. They are printed as "gap", not
# hidden, and a gap that starts passing is reported so it can be taken off this list.
KNOWN_GAPS = {}
FIX = os.path.join(HERE, "..", "fixtures")


class Case:
    def __init__(self, name, args, npz, inputs, outputs=None, sort_rows=False):
        self.name = name  # display name
        self.args = args  # arguments to `edgeport convert` before -o
        self.npz = npz
        self.inputs = inputs  # npz keys that are model inputs, in model order
        self.outputs = outputs  # npz keys of the outputs in model order (None: every other key)
        self.sort_rows = sort_rows  # detection rows [.., 7]: compare after sorting


def shape_args(npz, names):
    d = np.load(npz)
    out = []
    for n in names:
        out += ["--input-shape", f"{n}=" + ",".join(str(s) for s in d[n].shape)]
    return out


def cases(big):
    c = []
    caffe = os.path.join(FIX, "caffe")
    for m in ["cnn", "v1net", "misc", "misc2", "ssd"]:
        p = os.path.join(caffe, m)
        c.append(Case(f"caffe/{m}", [p + ".prototxt", "--weights", p + ".caffemodel"], p + ".npz", ["data"], sort_rows=(m == "ssd")))
    mx = os.path.join(FIX, "mxnet")
    tiny = os.path.join(mx, "tiny.npz")
    c.append(Case("mxnet/tiny", [os.path.join(mx, "tiny-symbol.json")] + shape_args(tiny, ["data", "idx"]), tiny, ["data", "idx"], ["out"]))
    up = os.path.join(mx, "upsample.npz")
    c.append(Case("mxnet/upsample", [os.path.join(mx, "upsample-symbol.json")] + shape_args(up, ["data"]), up, ["data"], ["out0", "out1"]))
    m25 = os.path.join(mx, "mobilenet0.25.npz")
    c.append(Case("mxnet/mobilenet0.25", [os.path.join(mx, "mobilenet0.25-symbol.json")] + shape_args(m25, ["data"]), m25, ["data"], ["out"]))
    pd = os.path.join(FIX, "paddle")
    for m in ["det_head", "mobilenet_v2_small", "zoo", "rec_head"]:
        for form, ext in [("pir", "json"), ("legacy", "pdmodel")]:
            p = os.path.join(pd, f"{m}.{form}")
            c.append(Case(f"paddle/{m}.{form}", [f"{p}.{ext}"], p + ".npz", ["x"]))
    if big:
        p = os.path.join(big, "caffe", "mobilenet_v1")
        c.append(Case("caffe/mobilenet_v1", [p + ".prototxt", "--weights", p + ".caffemodel"], p + ".npz", ["data"]))
        for m in ["mobilenet1.0", "resnet18_v1"]:
            npz = os.path.join(mx, m + ".npz")
            sym = os.path.join(big, "mxnet", m + "-symbol.json")
            c.append(Case(f"mxnet/{m}", [sym] + shape_args(npz, ["data"]), npz, ["data"], ["out"]))
        for m in ["mobilenet_v2", "resnet18"]:
            for form, ext in [("pir", "json"), ("legacy", "pdmodel")]:
                p = os.path.join(big, "paddle", f"{m}.{form}")
                c.append(Case(f"paddle/{m}.{form}", [f"{p}.{ext}"], p + ".npz", ["x"]))
    return c


def compare(case, ref, got):
    keys = case.outputs or [k for k in ref.files if k not in case.inputs]
    if len(keys) != len(got):
        return None, f"{len(got)} outputs, fixture has {len(keys)}"
    worst_abs, worst_rel = 0.0, 0.0
    for k, y in zip(keys, got):
        want = ref[k]
        y = np.asarray(y, dtype=np.float64)
        w = want.astype(np.float64)
        if y.shape != w.shape:
            if y.size == w.size:
                y = y.reshape(w.shape)
            else:
                return None, f"output {k}: shape {y.shape}, fixture {w.shape}"
        if case.sort_rows:
            y, w = sort_det(y), sort_det(w)
        d = float(np.abs(y - w).max()) if y.size else 0.0
        worst_abs = max(worst_abs, d)
        worst_rel = max(worst_rel, d / max(1.0, float(np.abs(w).max()) if w.size else 1.0))
    return (worst_abs, worst_rel), None


def sort_det(a):
    a = a.reshape(-1, 7)
    return a[np.lexsort((-a[:, 2], a[:, 1], a[:, 0]))]


def run_onnx(path, case, ref):
    import onnxruntime as ort

    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    feed = {n: ref[k] for n, k in zip(names, case.inputs)}
    return s.run(None, feed)


def run_tflite(path, case, ref):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path)
    it.allocate_tensors()
    ins = it.get_input_details()
    for d, k in zip(ins, case.inputs):
        x = ref[k].astype(d["dtype"])
        if tuple(d["shape"]) != x.shape:
            it.resize_tensor_input(d["index"], x.shape)
            it.allocate_tensors()
    for d, k in zip(it.get_input_details(), case.inputs):
        it.set_tensor(d["index"], ref[k].astype(d["dtype"]))
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--big")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", ".cache", "frameworks_e2e"))
    ap.add_argument("--only")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    failed = 0
    print(f"{'case':34} {'target':7} {'convert s':>9} {'max abs':>10} {'rel':>10}  status")
    for case in cases(a.big):
        if a.only and a.only not in case.name:
            continue
        if not os.path.exists(case.args[0]):
            print(f"{case.name:34} missing {case.args[0]}")
            failed += 1
            continue
        ref = np.load(case.npz)
        for target, runner in [("onnx", run_onnx), ("tflite", run_tflite)]:
            out = os.path.join(a.out, case.name.replace("/", "_") + "." + target)
            t0 = time.time()
            r = subprocess.run([a.edgeport, "convert", *case.args, "-o", out], capture_output=True, text=True)
            dt = time.time() - t0
            gap = KNOWN_GAPS.get((case.name, target))
            if r.returncode != 0:
                if gap:
                    print(f"{case.name:34} {target:7} {dt:9.2f} {'':>10} {'':>10}  gap (known): {gap}")
                    continue
                print(f"{case.name:34} {target:7} {dt:9.2f} {'':>10} {'':>10}  CONVERT FAILED: {r.stderr.strip()[:300]}")
                failed += 1
                continue
            if gap:
                print(f"{case.name:34} {target:7} converts now: take it off KNOWN_GAPS ({gap})")
            try:
                got = runner(out, case, ref)
            except Exception as e:  # a runtime that refuses the file is a failure, reported
                print(f"{case.name:34} {target:7} {dt:9.2f} {'':>10} {'':>10}  RUNTIME FAILED: {str(e)[:300]}")
                failed += 1
                continue
            res, err = compare(case, ref, got)
            if err:
                print(f"{case.name:34} {target:7} {dt:9.2f} {'':>10} {'':>10}  MISMATCH: {err}")
                failed += 1
                continue
            ab, rel = res
            ok = rel <= a.tol
            failed += 0 if ok else 1
            print(f"{case.name:34} {target:7} {dt:9.2f} {ab:10.3e} {rel:10.3e}  {'pass' if ok else 'FAIL'}")
    print(f"{failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
