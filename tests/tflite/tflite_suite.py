#!/usr/bin/env python3
"""TFLite export conformance suite: ONNX model -> edgeport -> .tflite -> ai-edge-litert.

For every case (the repo's examples/models/tiny_cnn.onnx, the torch-made fixtures in
tests/fixtures/tflite_export/, and resnet18 / mobilenet_v2 when present in the big-model folder)
and each mode (`src`: the source's layout, `nhwc`: `--nhwc-io`, `f16`: `--f16-weights`, float
models only; `sparse`, float models only: see below):
  1. `edgeport convert MODEL -o OUT.tflite [--nhwc-io]`;
  2. runs onnxruntime on the ONNX model and ai_edge_litert's Interpreter on the .tflite with the
     same random inputs (seed 0; rank-4 inputs/outputs transposed for `nhwc`) and takes the max
     abs difference over all outputs (pass: <= 1e-4; `*_qdq` int8 models: one output
     quantization step, from the fixture's step_* array; `f16`: 5e-3 x max(1, max |output|),
     the rounding of float16 weights);
  3. counts the TRANSPOSE operators inside the .tflite (read with ai_edge_litert's schema
     bindings), and all operators.
Mode `sparse`: `edgeport prune MODEL --sparsity 0.8 -o PRUNED.onnx`, then PRUNED converted twice,
with sparse weights (the default: mostly-zero weights stored as TFLite sparse tensors behind
DENSIFY) and with `--no-sparse-weights`; both run in ai_edge_litert on the same inputs. Pass: the
sparse file holds DENSIFY ops, is smaller, matches the dense file within 1e-5 and onnxruntime on
PRUNED within the usual tolerance. Mode `sparse8`: the same PRUNED quantized to full-integer
int8 by `edgeport quantize` (synthetic calibration, seed 0) twice, sparse and dense; the files
must give the same outputs in LiteRT (within 1e-5), and the sparse one must be smaller whenever it
holds DENSIFY ops (int8 weights of small models do not pay for a DENSIFY op and stay dense);
CNN cases only (INT8_CASES).
Prints one line per case and mode. `--check` compares with tests/tflite/manifest.txt (status
and transpose count; fails on any regression); `--bless` rewrites it.

Needs a venv with ai-edge-litert==2.3.0, onnxruntime and numpy (tests/requirements.txt).
Usage: python tests/tflite/tflite_suite.py [--edgeport BIN] [--big DIR] [--out DIR]
                                          [--filter S] [--check | --bless]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(REPO, "tests", "tflite", "manifest.txt")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "tflite_export")
ATOL = 1e-4


def cases(big):
    out = [("tiny_cnn", os.path.join(REPO, "examples", "models", "tiny_cnn.onnx"))]
    for f in sorted(os.listdir(FIXTURES)):
        if f.endswith(".onnx"):
            out.append((f[:-5], os.path.join(FIXTURES, f)))
    for name in ["resnet18", "mobilenet_v2"]:
        p = os.path.join(big, name + ".onnx")
        if os.path.exists(p):
            out.append((name, p))
    return out


def ort_inputs(sess, rng):
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if "float" in i.type:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
        elif "int64" in i.type:
            feeds[i.name] = rng.integers(0, 4, shape).astype(np.int64)
        else:
            feeds[i.name] = rng.integers(0, 2, shape).astype(np.int32)
    return feeds


def count_ops(path):
    from ai_edge_litert import schema_py_generated as s

    with open(path, "rb") as f:
        buf = f.read()
    m = s.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        codes.append(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()))
    counts = {}
    sg = m.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        n = names.get(codes[sg.Operators(i).OpcodeIndex()], "?")
        counts[n] = counts.get(n, 0) + 1
    return counts


def run_tflite(path, feeds, nhwc):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path)
    runner = it.get_signature_runner("serving_default")
    args = {}
    for k, v in feeds.items():
        args[k] = np.transpose(v, (0, 2, 3, 1)) if nhwc and v.ndim == 4 else v
    out = runner(**args)
    res = {}
    for k, v in out.items():
        res[k] = np.transpose(v, (0, 3, 1, 2)) if nhwc and v.ndim == 4 else v
    return res


SPARSE_ATOL = 1e-5
# Float models whose int8 quantization `edgeport quantize` writes as .tflite (the transformer
# fixtures stop at constant Slice/Pad parameters and Erf after quantization).
INT8_CASES = {"tiny_cnn", "small_cnn", "resnet18", "mobilenet_v2"}


def max_abs(a, b):
    worst = 0.0
    for k, r in a.items():
        if k not in b or b[k].shape != r.shape:
            return float("inf")
        if r.size:
            worst = max(worst, float(np.max(np.abs(b[k].astype(np.float64) - r.astype(np.float64)))))
    return worst


def one_sparse(name, model, args, int8):
    """Prune to 80% zeros, export sparse and dense, compare in LiteRT (see the module doc)."""
    import onnxruntime as ort

    tag = "sparse8" if int8 else "sparse"
    pruned = os.path.join(args.out, f"{name}.pruned.onnx")
    sparse = os.path.join(args.out, f"{name}.{tag}.tflite")
    dense = os.path.join(args.out, f"{name}.{tag}-dense.tflite")
    step = "quantize" if int8 else "convert"
    t0 = time.time()
    for cmd in (
        [args.edgeport, "prune", model, "--sparsity", "0.8", "-o", pruned],
        [args.edgeport, step, pruned, "-o", sparse],
        [args.edgeport, step, pruned, "-o", dense, "--no-sparse-weights"],
    ):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().replace("\n", " | ")[:300]
            return {"status": "fail", "transposes": -1, "note": f"{cmd[1]} exit {p.returncode}: {msg}"}
    secs = time.time() - t0
    counts = count_ops(sparse)
    sess = ort.InferenceSession(pruned, providers=["CPUExecutionProvider"])
    feeds = ort_inputs(sess, np.random.default_rng(0))
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    try:
        got = run_tflite(sparse, feeds, False)
        got_dense = run_tflite(dense, feeds, False)
    except Exception as e:  # noqa: BLE001 - report any runtime failure as the case's result
        return {"status": "fail", "transposes": counts.get("TRANSPOSE", 0), "note": f"litert: {e}"[:300]}
    d_dense = max_abs(got_dense, got)
    d_ort = max_abs(ref, got)
    s_bytes, d_bytes = os.path.getsize(sparse), os.path.getsize(dense)
    n = counts.get("DENSIFY", 0)
    if int8:
        ok = (s_bytes < d_bytes if n > 0 else s_bytes == d_bytes) and d_dense <= SPARSE_ATOL
    else:
        ok = n > 0 and s_bytes < d_bytes and d_dense <= SPARSE_ATOL and d_ort <= ATOL
    return {
        "status": "pass" if ok else "fail",
        "transposes": counts.get("TRANSPOSE", 0),
        "note": f"densify={n} bytes={s_bytes}/{d_bytes} ({100.0 * s_bytes / d_bytes:.0f}%) "
        f"vs_dense={d_dense:.1e} vs_ort={d_ort:.2e} convert={secs:.2f}s",
    }


def one(name, model, mode, args):
    import onnxruntime as ort

    if mode in ("sparse", "sparse8"):
        return one_sparse(name, model, args, mode == "sparse8")
    out = os.path.join(args.out, f"{name}.{mode}.tflite")
    cmd = [args.edgeport, "convert", model, "-o", out]
    if mode == "nhwc":
        cmd.append("--nhwc-io")
    if mode == "f16":
        cmd.append("--f16-weights")
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.time() - t0
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().replace("\n", " | ")[:300]
        return {"status": "fail", "transposes": -1, "note": f"convert exit {p.returncode}: {msg}"}
    counts = count_ops(out)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = ort_inputs(sess, rng)
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    try:
        got = run_tflite(out, feeds, mode == "nhwc")
    except Exception as e:  # noqa: BLE001 - report any runtime failure as the case's result
        return {"status": "fail", "transposes": counts.get("TRANSPOSE", 0), "note": f"litert: {e}"[:300]}
    worst = 0.0
    scale = 1.0
    for k, r in ref.items():
        if k not in got:
            return {"status": "fail", "transposes": counts.get("TRANSPOSE", 0), "note": f"output {k} missing"}
        g = got[k]
        if g.shape != r.shape:
            return {"status": "fail", "transposes": counts.get("TRANSPOSE", 0), "note": f"output {k} shape {g.shape} vs {r.shape}"}
        worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0)
        scale = max(scale, float(np.max(np.abs(r))) if r.size else 0.0)
    tol = ATOL if mode != "f16" else 5e-3 * scale
    npz = os.path.splitext(model)[0] + ".npz"
    if name.endswith("_qdq") and os.path.exists(npz):
        # Integer kernels: within one quantization step of the output.
        steps = [float(v[0]) for k, v in np.load(npz).items() if k.startswith("step_")]
        tol = max([ATOL] + steps)
    status = "pass" if worst <= tol else "fail"
    ops = sum(counts.values())
    return {
        "status": status,
        "transposes": counts.get("TRANSPOSE", 0),
        "note": f"maxabs={worst:.2e} ops={ops} convert={secs:.2f}s",
    }


def read_manifest():
    m = {}
    if os.path.exists(MANIFEST):
        for line in open(MANIFEST):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            m[(parts[0], parts[1])] = (parts[2], int(parts[3]))
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", default=os.environ.get("EDGEPORT_BIN", os.path.join(REPO, "target", "release", "edgeport")))
    ap.add_argument("--big", default=os.environ.get("EDGEPORT_TFLITE_BIG", os.path.join(REPO, ".cache", "tflite_models")))
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "tflite_suite"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bless", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name, model in cases(args.big):
        if args.filter and args.filter not in name:
            continue
        for mode in ["src", "nhwc"] + ([] if name.endswith("_qdq") else ["f16", "sparse"] + (["sparse8"] if name in INT8_CASES else [])):
            r = one(name, model, mode, args)
            results[(name, mode)] = r
            print(f"{name:16} {mode:5} {r['status']:5} transposes={r['transposes']:<3} {r['note']}", flush=True)
    passed = sum(r["status"] == "pass" for r in results.values())
    print(f"{passed}/{len(results)} pass")
    if args.bless:
        with open(MANIFEST, "w") as f:
            f.write("# case mode status transposes — written by tflite_suite.py --bless\n")
            for (n, mo), r in sorted(results.items()):
                f.write(f"{n} {mo} {r['status']} {r['transposes']}\n")
    if args.check:
        bad = []
        for key, (status, tr) in read_manifest().items():
            r = results.get(key)
            if r is None:
                continue
            if status == "pass" and r["status"] != "pass":
                bad.append(f"{key}: was pass, now {r['status']} ({r['note']})")
            if r["transposes"] > tr >= 0:
                bad.append(f"{key}: {r['transposes']} transposes, manifest says {tr}")
        for b in bad:
            print("REGRESSION", b)
        return 1 if bad else 0
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
