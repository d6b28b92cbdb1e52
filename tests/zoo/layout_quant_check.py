#!/usr/bin/env python3
"""Trained MediaPipe models (tests/zoo/fetch.sh) converted TFLite → ONNX and quantized by edgeport,
read back the way onnxruntime runs them.

Layout (every model of the zoo, `edgeport convert m.tflite -o m.onnx`, default passes):
  * no Transpose reads a constant: weights are permuted when converting (also float16 weights
    behind their Cast, which stay float16);
  * no Transpose pair that cancels is left: Transpose → (unary elementwise ops) → Transpose with
    inverse perms (the `nchw` pass keeps Conv → Relu6 → Add → Conv channels-first throughout).
Quantization (hand_landmark_full and pose_landmark_full, `edgeport quantize` static int8 on 8
random images):
  * in onnxruntime's optimized graph every Conv is a QLinearConv, every Add a QLinearAdd, no Clip
    is left (the residual Relu6s the QuantizeLinear saturates to are dropped), and no Pad or
    MaxPool runs on floats (pose: 4 Pads moved onto the integers, 2 MaxPools and the Adds after
    its 5 Resizes tied to their inputs' parameters);
  * output cosine to the float model on 4 more random images: hand ≥ 0.99 over all outputs, pose
    ≥ 0.98 on its heatmap.
Quantization straight from .tflite (hand_landmark_full, face_landmark, palm_detection_lite):
  * `edgeport quantize m.tflite -o m.tflite` (full integer) runs in LiteRT and `-o m.onnx` in
    onnxruntime, both close to the float .tflite in LiteRT (cosine ≥ 0.99, palm ≥ 0.98);
  * with --int8-io (face_landmark, palm_detection_lite) every operator reads int8 (PRelu, Pad,
    Reshape and Concat included) and the outputs stay as close.
Usage: python layout_quant_check.py EDGEPORT_BIN ZOO_DIR OUT_DIR
"""
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort

exe, zoo, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
failures = []
UNARY = {"Clip", "Relu", "Sigmoid", "Tanh", "Cast", "Identity", "LeakyRelu", "HardSwish", "HardSigmoid", "Elu"}


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def edgeport(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"edgeport {' '.join(args)}: exit {r.returncode}: {r.stderr[-400:]}")


def layout_problems(path):
    g = onnx.load(path).graph
    prod = {o: n for n in g.node for o in n.output}
    cons = {}
    for n in g.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    inits = {i.name for i in g.initializer}

    def constant(v, depth=0):
        if v in inits:
            return True
        p = prod.get(v)
        if p is None or depth > 8:
            return False
        return p.op_type == "Constant" or (p.op_type in ("Cast", "Identity") and constant(p.input[0], depth + 1))

    def perm(n):
        return [list(a.ints) for a in n.attribute if a.name == "perm"][0]

    weights, pairs = 0, 0
    for n in g.node:
        if n.op_type != "Transpose":
            continue
        if constant(n.input[0]):
            weights += 1
            continue
        p, v = perm(n), n.output[0]
        while len(cons.get(v, [])) == 1:
            m = cons[v][0]
            if m.op_type == "Transpose":
                q = perm(m)
                pairs += [p[i] for i in q] == list(range(len(p)))
                break
            if m.op_type not in UNARY:
                break
            v = m.output[0]
    return weights, pairs, sum(n.op_type == "Transpose" for n in g.node)


models = sorted(glob.glob(os.path.join(zoo, "mediapipe", "*.tflite")))
check(len(models) > 0, f"{len(models)} zoo models found in {zoo}")
for src in models:
    name = os.path.basename(src)[:-len(".tflite")]
    dst = os.path.join(out, name + ".onnx")
    try:
        edgeport("convert", src, "-o", dst)
        w, pairs, total = layout_problems(dst)
        check(w == 0 and pairs == 0,
              f"layout {name}: {total} Transposes, {w} on constants, {pairs} cancelling pairs left")
    except Exception as e:  # noqa: BLE001 - any failure is this model's result
        check(False, f"layout {name}: {str(e)[:300]}")


def session(path, optimized=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    if optimized:
        so.optimized_model_filepath = optimized
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def int8_check(m, outputs):
    """Quantizes zoo model `m` (static int8, 8 random images) and checks onnxruntime's optimized
    graph: every Add a QLinearAdd, every Conv a QLinearConv, no Clip, no MaxPool or Pad on floats;
    and the cosine to the float model of the outputs named in `outputs` (index, or None for all
    outputs concatenated: minimum) on 4 more random images."""
    f = os.path.join(out, m + ".onnx")
    if not os.path.exists(f):
        return
    try:
        inp = onnx.load(f).graph.input[0]
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        rng = np.random.default_rng(0)
        calp = os.path.join(out, m + "_calib.npz")
        np.savez(calp, **{inp.name: rng.random([8] + shape[1:], dtype=np.float32)})
        held = rng.random([4] + shape[1:], dtype=np.float32)
        q = os.path.join(out, m + "_int8.onnx")
        edgeport("quantize", f, "-o", q, "--calibration", calp, "--no-check")
        float_ops = [n.op_type for n in onnx.load(f).graph.node]
        opt = q + ".ort_optimized.onnx"
        s_q, s_f = session(q, opt), session(f)
        og = onnx.load(opt).graph
        ops = [n.op_type for n in og.node]
        check(ops.count("QLinearAdd") == float_ops.count("Add") and "Add" not in ops,
              f"int8 {m}: {ops.count('QLinearAdd')} QLinearAdd for {float_ops.count('Add')} Adds, "
              f"{ops.count('Add')} float Adds")
        check("Conv" not in ops and "Clip" not in ops,
              f"int8 {m}: {ops.count('QLinearConv')} QLinearConv, {ops.count('Conv')} float Conv, {ops.count('Clip')} Clip")
        prod = {o: n.op_type for n in og.node for o in n.output}
        float_moves = [n.name for n in og.node
                       if n.op_type in ("Pad", "MaxPool") and prod.get(n.input[0]) == "DequantizeLinear"]
        check(not float_moves and "MaxPool" not in ops,
              f"int8 {m}: {float_ops.count('Pad')} Pads, {float_ops.count('MaxPool')} MaxPools; "
              f"on floats: {float_moves}, {ops.count('NhwcMaxPool')} NhwcMaxPool")
        for k, floor in outputs.items():
            cos = []
            for i in range(len(held)):
                fo = s_f.run(None, {inp.name: held[i:i + 1]})
                qo = s_q.run(None, {inp.name: held[i:i + 1]})
                a, b = [np.concatenate([o.ravel() for o in (r if k is None else r[k:k + 1])]) for r in (fo, qo)]
                cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
            check(np.mean(cos) >= floor,
                  f"int8 {m}: onnxruntime cosine to float of output {k} {np.mean(cos):.6f} >= {floor}")
    except Exception as e:  # noqa: BLE001
        check(False, f"int8 {m}: {str(e)[:300]}")


int8_check("hand_landmark_full", {None: 0.99})
# Random images are far from a person: the landmark outputs of pose_landmark_full swing wildly
# on them (a uint8 QDQ on the input alone moves the landmarks by up to 108 pixels); its heatmap
# output (index 3) is the stable one.
int8_check("pose_landmark_full", {3: 0.98})



def tflite_direct(m, floor):
    """`edgeport quantize m.tflite` straight from the zoo's float .tflite (float16 weights behind
    DEQUANTIZE, channels-last) to full-integer .tflite (run in LiteRT) and to QDQ .onnx (run in
    onnxruntime): both close to the float .tflite in LiteRT on 4 random images."""
    from ai_edge_litert.interpreter import Interpreter
    src = os.path.join(zoo, "mediapipe", m + ".tflite")
    if not os.path.exists(src):
        return
    try:
        f = Interpreter(model_path=src)
        f.allocate_tensors()
        d = f.get_input_details()[0]
        rng = np.random.default_rng(1)
        calp = os.path.join(out, m + "_direct_calib.npz")
        np.savez(calp, **{d["name"]: rng.random([8] + list(d["shape"][1:]), dtype=np.float32)})
        held = rng.random([4] + list(d["shape"][1:]), dtype=np.float32)
        qt, qo = os.path.join(out, m + "_direct_int8.tflite"), os.path.join(out, m + "_direct_int8.onnx")
        edgeport("quantize", src, "-o", qt, "--calibration", calp, "--no-check")
        edgeport("quantize", src, "-o", qo, "--calibration", calp, "--no-check")
        q = Interpreter(model_path=qt)
        q.allocate_tensors()
        s = session(qo)
        names = sorted(o.name for o in s.get_outputs())

        def lite(it, x):
            i = it.get_input_details()[0]
            it.set_tensor(i["index"], x)
            it.invoke()
            outs = sorted(it.get_output_details(), key=lambda o: o["name"])
            return np.concatenate([it.get_tensor(o["index"]).astype(np.float32).ravel() for o in outs])

        ints = [t["dtype"] for t in q.get_tensor_details() if t["dtype"] in (np.int8, np.float32)]
        cos_t, cos_o = [], []
        for i in range(len(held)):
            x = held[i:i + 1]
            a, b = lite(f, x), lite(q, x)
            c = np.concatenate([v.ravel() for v in s.run(names, {s.get_inputs()[0].name: x})])
            cos_t.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
            cos_o.append(float(a @ c / (np.linalg.norm(a) * np.linalg.norm(c))))
        check(np.mean(cos_t) >= floor and np.mean(cos_o) >= floor,
              f"int8 {m} from .tflite: LiteRT cosine {np.mean(cos_t):.6f}, onnxruntime {np.mean(cos_o):.6f} "
              f"(>= {floor}; {sum(t == np.int8 for t in ints)} int8 tensors)")
    except Exception as e:  # noqa: BLE001
        check(False, f"int8 {m} from .tflite: {str(e)[:300]}")


def integer_only(m, floor):
    """`edgeport quantize m.tflite -o m.tflite --int8-io`: every operator of the written model
    reads an int8 tensor (PRelu, Pad, Reshape, Concat too), and its dequantized outputs are close
    to the float .tflite's in LiteRT on 4 random images."""
    from ai_edge_litert.interpreter import Interpreter
    src = os.path.join(zoo, "mediapipe", m + ".tflite")
    if not os.path.exists(src):
        return
    try:
        calp = os.path.join(out, m + "_direct_calib.npz")
        q = os.path.join(out, m + "_int8_io.tflite")
        edgeport("quantize", src, "-o", q, "--int8-io", "--calibration", calp, "--no-check")
        f, it = Interpreter(model_path=src), Interpreter(model_path=q)
        f.allocate_tensors()
        it.allocate_tensors()
        td = {t["index"]: t for t in it.get_tensor_details()}
        floats = sorted({o["op_name"] for o in it._get_ops_details()
                         if any(td[i]["dtype"] == np.float32 for i in o["inputs"] if i >= 0)})
        d, e = f.get_input_details()[0], it.get_input_details()[0]
        rng = np.random.default_rng(2)
        cos = []
        for _ in range(4):
            x = rng.random(d["shape"], dtype=np.float32)
            f.set_tensor(d["index"], x)
            f.invoke()
            s_, z_ = e["quantization"]
            it.set_tensor(e["index"], np.clip(np.round(x / s_ + z_), -128, 127).astype(np.int8))
            it.invoke()
            outs = sorted(f.get_output_details(), key=lambda o: o["name"])
            a = np.concatenate([f.get_tensor(o["index"]).ravel() for o in outs])
            qs = sorted(it.get_output_details(), key=lambda o: o["name"])
            b = np.concatenate([((it.get_tensor(o["index"]).astype(np.float32) - o["quantization"][1])
                                 * o["quantization"][0]).ravel() for o in qs])
            cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
        check(not floats and e["dtype"] == np.int8 and np.mean(cos) >= floor,
              f"integer-only {m}: ops reading float32: {floats or 'none'}; input {np.dtype(e['dtype']).name}; "
              f"LiteRT cosine {np.mean(cos):.6f} >= {floor}")
    except Exception as e:  # noqa: BLE001
        check(False, f"integer-only {m}: {str(e)[:300]}")


tflite_direct("hand_landmark_full", 0.99)
tflite_direct("face_landmark", 0.99)
tflite_direct("palm_detection_lite", 0.98)
integer_only("face_landmark", 0.99)
integer_only("palm_detection_lite", 0.98)

print(f"zoo layout and int8 in onnxruntime {ort.__version__}: {'FAILED ' + str(len(failures)) if failures else 'all passed'}")
sys.exit(1 if failures else 0)
