#!/usr/bin/env python3
"""Independent reference for edgeport's lowering of MediaPipe's MaxPoolingWithArgmax2D and
MaxUnpooling2D: tiny .tflite models using the two custom ops (built here with the TFLite schema's
object API; options = the C struct TfLitePoolParams) run in MediaPipe 0.10.14's own runtime
(InferenceCalculator with MediaPipe's custom-op resolver, fed a known RGB image through
ImageToTensorCalculator, float range [0, 1]) and through `edgeport run`; also `edgeport convert`
to ONNX (onnxruntime) and to TFLite (LiteRT, which can run the re-export: no custom op is left).
Prints max abs diffs per output.

Needs its own venv (python 3.11): mediapipe==0.10.14, ai-edge-litert 2.3.0 (+ onnxruntime for the
ONNX column, skipped when absent).
Usage: python tests/zoo/mediapipe_pooling_mp.py --edgeport BIN [--out DIR]
"""
import argparse
import os
import subprocess
import sys

import numpy as np

# (name, input H, W, filter/stride, padding 1 SAME / 2 VALID, activation)
CASES = [("pool2_same", 8, 6, 2, 1, 0), ("pool3_same_padded", 7, 7, 3, 1, 3), ("pool2_valid_cropped", 7, 9, 2, 2, 1)]


def build(path, h, w, k, padding, act):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def out_size(n):
        return -(-n // k) if padding == 1 else n // k

    oh, ow = out_size(h), out_size(w)
    m = s.ModelT()
    m.version = 3
    codes = []
    for name in ("MaxPoolingWithArgmax2D", "MaxUnpooling2D"):
        c = s.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
        c.customCode = name
        c.version = 1
        codes.append(c)
    m.operatorCodes = codes
    m.buffers = [s.BufferT()]
    sg = s.SubGraphT()

    def tensor(name, shape):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, s.TensorType.FLOAT32, 0
        return t

    sg.tensors = [
        tensor("image", [1, h, w, 3]),
        tensor("pooled", [1, oh, ow, 3]),
        tensor("argmax", [1, oh, ow, 3]),
        tensor("unpooled", [1, oh * k, ow * k, 3]),
    ]
    opts = np.array([padding, k, k, k, k, act, 0, 0, 0, 0], np.int32).view(np.uint8)
    a = s.OperatorT()
    a.opcodeIndex, a.inputs, a.outputs, a.customOptions = 0, [0], [1, 2], opts
    u = s.OperatorT()
    u.opcodeIndex, u.inputs, u.outputs, u.customOptions = 1, [1, 2], [3], opts
    sg.operators = [a, u]
    sg.inputs, sg.outputs = [0], [1, 2, 3]
    m.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with open(path, "wb") as f:
        f.write(bytes(b.Output()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--out", default="/tmp/pooling_mp")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mediapipe_attention_mp import mediapipe_outputs

    rng = np.random.default_rng(7)
    worst = 0.0
    for name, h, w, k, padding, act in CASES:
        path = os.path.join(args.out, name + ".tflite")
        build(path, h, w, k, padding, act)
        # Coarse levels so that windows hold ties (the first maximum must win).
        img = (rng.integers(0, 12, (h, w, 3)) * 20).astype(np.uint8)
        x = (img.astype(np.float32) / np.float32(255))[None]
        ref = mediapipe_outputs(path, np.ascontiguousarray(img), n_outputs=3)
        inp, res = os.path.join(args.out, name + ".in.npz"), os.path.join(args.out, name + ".eval.npz")
        np.savez(inp, image=x)
        subprocess.run([args.edgeport, "run", path, "--inputs", inp, "-o", res], check=True, capture_output=True)
        ev = np.load(res)
        rows = [("eval", [ev[f] for f in ev.files])]
        for target in ("tflite", "onnx"):
            dst = os.path.join(args.out, f"{name}.export.{target}")
            subprocess.run([args.edgeport, "convert", path, "-o", dst], check=True, capture_output=True)
            try:
                if target == "onnx":
                    import onnxruntime as ort

                    sess = ort.InferenceSession(dst, providers=["CPUExecutionProvider"])
                    got = sess.run(None, {sess.get_inputs()[0].name: x})
                else:
                    from ai_edge_litert.interpreter import Interpreter, OpResolverType

                    it = Interpreter(model_path=dst, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
                    it.allocate_tensors()
                    it.set_tensor(it.get_input_details()[0]["index"], x)
                    it.invoke()
                    got = [it.get_tensor(d["index"]) for d in it.get_output_details()]
                rows.append((target, got))
            except ImportError as e:
                print(f"({target} skipped: {e})")
        for label, outs in rows:
            ds = []
            for a, b in zip(outs, ref):
                a = np.asarray(a).reshape(-1)
                if a.shape != b.shape:
                    raise ValueError(f"{name} {label}: {a.shape} values, MediaPipe gives {b.shape}")
                ds.append(float(np.max(np.abs(a.astype(np.float64) - b))))
            worst = max(worst, *ds)
            print(f"{name:22} {label:6} vs MediaPipe  max abs pooled {ds[0]:.3e}  argmax {ds[1]:.3e}  unpooled {ds[2]:.3e}")
    print(f"worst {worst:.3e}: {'pass' if worst <= 1e-6 else 'FAIL'}")
    return 0 if worst <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
