#!/usr/bin/env python3
"""Real pretrained TFLite models (fetched by tests/zoo/fetch.sh from the MediaPipe wheel on PyPI)
through edgeport: import → evaluator (`edgeport run`), → ONNX (onnxruntime), → TFLite
(ai-edge-litert), each compared with LiteRT running the original model on the same input.

Reference: LiteRT (ai-edge-litert) on the original file, with its reference kernels (see
`litert`); the re-exported .tflite runs the same way. LiteRT has no kernels for MediaPipe's
custom ops, so for a model using `Convolution2DTransposeBias` the reference runs a copy where the
op is rewritten to the builtin TRANSPOSE_CONV with its bias input (same arithmetic: MediaPipe's op
is TFLite's transpose convolution plus a bias, same padding rule). For a model using MediaPipe's
face-attention ops (Landmarks2TransformMatrix, TransformTensorBilinear, TransformLandmarks, which
edgeport lowers to standard ops at import) the reference is the pipeline of
tests/zoo/mediapipe_attention_ref.py: LiteRT on the builtin operators, a numpy implementation of
the three ops (written from MediaPipe's kernels) in between; an extra `ops` row checks edgeport's
lowered ops against that numpy code on the evaluator's own intermediate tensors. The custom ops
are named in the table either way.

Also writes <zoo>/ref/<model>.npz (x0.. inputs, y0.. LiteRT outputs, f0.. kernel floors: see
`compare`) that the Rust zoo tests
(converters/tflite/tests/zoo.rs) read; they skip when the zoo is absent.

Pass (per output): max abs diff <= 1e-4, or <= 1e-5 relative to the output's largest magnitude (outputs such
as box regressors are in pixels, hundreds in size; f32 summation order alone moves them ~1e-5).

Needs: onnxruntime, ai-edge-litert, numpy (tests/requirements.txt).
Usage: python tests/zoo/zoo_check.py [--edgeport BIN] [--zoo DIR] [--out DIR] [--filter S]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mediapipe_attention_ref as attention  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ATOL, RTOL = 1e-4, 1e-5

# Known gaps, printed as "gap" (neither passed nor failed): (model, target) → why.
GAPS = {}
ATTENTION_OPS = {"Landmarks2TransformMatrix", "TransformTensorBilinear", "TransformLandmarks"}

TASKS = {
    "face_detection": "face detection",
    "face_landmark": "face mesh landmarks",
    "hand_landmark": "hand landmarks",
    "hand_recrop": "hand re-crop regression",
    "iris_landmark": "iris landmarks",
    "palm_detection": "palm detection",
    "pose_detection": "pose detection",
    "pose_landmark": "pose landmarks + segmentation",
    "selfie_segmentation": "person segmentation",
}


def task_of(name):
    for k, v in TASKS.items():
        if name.startswith(k):
            return v
    return "?"


def schema():
    from ai_edge_litert import schema_py_generated as s

    return s


def model_info(path):
    """(custom op names, number of sparse tensors, builtin op counts)."""
    s = schema()
    with open(path, "rb") as f:
        m = s.Model.GetRootAsModel(f.read(), 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        b = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(oc.CustomCode().decode() if b == s.BuiltinOperator.CUSTOM else names.get(b, str(b)))
    customs, sparse, counts = set(), 0, {}
    for gi in range(m.SubgraphsLength()):
        sg = m.Subgraphs(gi)
        for i in range(sg.OperatorsLength()):
            c = codes[sg.Operators(i).OpcodeIndex()]
            counts[c] = counts.get(c, 0) + 1
            if c not in names.values():
                customs.add(c)
        for i in range(sg.TensorsLength()):
            if sg.Tensors(i).Sparsity() is not None:
                sparse += 1
    return sorted(customs), sparse, counts


def rewrite_transpose_conv_bias(path, dst):
    """Copy of the model with MediaPipe's Convolution2DTransposeBias as builtin TRANSPOSE_CONV
    (inputs output_shape, weights OHWI, input, bias). The custom options are the C struct
    TfLiteTransposeConvParams {int32 padding (1 same, 2 valid); int32 stride_w; int32 stride_h}."""
    import flatbuffers

    s = schema()
    with open(path, "rb") as f:
        m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(f.read(), 0))
    tc = None
    for i, c in enumerate(m.operatorCodes):
        if c.customCode in (b"Convolution2DTransposeBias", "Convolution2DTransposeBias"):
            tc = i
    if tc is None:
        return False
    oc = s.OperatorCodeT()
    oc.builtinCode = s.BuiltinOperator.TRANSPOSE_CONV
    oc.deprecatedBuiltinCode = s.BuiltinOperator.TRANSPOSE_CONV
    oc.version = 3
    m.operatorCodes.append(oc)
    new_code = len(m.operatorCodes) - 1
    for sg in m.subgraphs:
        for op in sg.operators:
            if op.opcodeIndex != tc:
                continue
            pad, sw, sh = np.frombuffer(bytes(op.customOptions), np.int32)[:3]
            x, w, b = [int(v) for v in op.inputs]
            y = int(op.outputs[0])
            buf = s.BufferT()
            buf.data = np.array(sg.tensors[y].shape, np.int32).view(np.uint8)
            m.buffers.append(buf)
            t = s.TensorT()
            t.shape = [4]
            t.type = s.TensorType.INT32
            t.buffer = len(m.buffers) - 1
            t.name = "output_shape_for_transpose_conv"
            sg.tensors.append(t)
            opts = s.TransposeConvOptionsT()
            opts.padding = s.Padding.SAME if pad == 1 else s.Padding.VALID
            opts.strideW, opts.strideH = int(sw), int(sh)
            op.opcodeIndex = new_code
            op.inputs = [len(sg.tensors) - 1, w, x, b]
            op.builtinOptionsType = s.BuiltinOptions.TransposeConvOptions
            op.builtinOptions = opts
            op.customOptions = None
    bld = flatbuffers.Builder(1 << 20)
    bld.Finish(m.Pack(bld), file_identifier=b"TFL3")
    with open(dst, "wb") as f:
        f.write(bytes(bld.Output()))
    return True


def litert(path, inputs, reference=True):
    """LiteRT with its reference kernels (no XNNPACK delegate), or with its optimized builtin
    kernels (`reference=False`; used only to measure how far LiteRT's own two kernel sets
    disagree on an output: see `compare`)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN
    it = Interpreter(model_path=path, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def input_shapes(path):
    from ai_edge_litert.interpreter import Interpreter

    # Reading details needs no kernels, so this works for custom-op models too.
    try:
        it = Interpreter(model_path=path)
        return [(tuple(d["shape"]), d["dtype"]) for d in it.get_input_details()]
    except Exception:  # noqa: BLE001 - fall back to the schema
        s = schema()
        with open(path, "rb") as f:
            m = s.Model.GetRootAsModel(f.read(), 0)
        sg = m.Subgraphs(0)
        return [(tuple(sg.Tensors(sg.Inputs(i)).ShapeAsNumpy()), np.float32) for i in range(sg.InputsLength())]


def image_like(rng, shape):
    """A smooth synthetic image in [0, 1] (low-frequency waves per channel plus a little noise):
    white noise drives these networks far outside their trained range, where activations reach
    thousands and float32 summation order alone moves outputs by ~1e-3 between runtimes."""
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4:
        return rng.uniform(0, 1, shape)
    _, h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    img = np.empty(shape, np.float64)
    for ch in range(c):
        f = rng.uniform(0.5, 3, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        img[0, :, :, ch] = 0.5 + 0.35 * np.sin(2 * np.pi * f[0] * xx + ph[0]) * np.cos(2 * np.pi * f[1] * yy + ph[1])
    img += rng.normal(0, 0.03, shape)
    return np.clip(img, 0, 1)


def compare(got, ref, floors=None):
    """(pass, max abs diff, max relative diff); each output passes on its own when its max abs
    diff <= ATOL or <= RTOL of its largest magnitude, or is within the output's kernel floor:
    the max abs diff between LiteRT's optimized and reference kernels on the same input and
    model. Ill-conditioned outputs need the floor: pose_landmark_full's segmentation logits
    (|y| ≈ 1350) move by 6.4 between LiteRT's two kernel sets and by 9.9 when the input gets
    1e-6 noise, while edgeport's evaluator is within 0.63 of the reference kernels."""
    worst, rel, ok = 0.0, 0.0, True
    if len(got) != len(ref):
        raise ValueError(f"{len(got)} outputs, reference has {len(ref)}")
    floors = floors if floors is not None else [0.0] * len(ref)
    for g, r, fl in zip(got, ref, floors):
        g = np.asarray(g)
        if g.shape != r.shape:
            raise ValueError(f"shape {g.shape} vs {r.shape}")
        d = float(np.max(np.abs(g.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        q = d / scale if scale > 0 else d
        ok = ok and (d <= ATOL or q <= RTOL or d <= fl)
        worst = max(worst, d)
        rel = max(rel, q)
    return ok, worst, rel


def ort_run(path, inputs):
    import onnxruntime as ort

    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: x for i, x in zip(s.get_inputs(), inputs)}), [i.name for i in s.get_inputs()]


def edgeport(args, *cmd):
    t0 = time.time()
    p = subprocess.run([args.edgeport, *cmd], capture_output=True, text=True)
    secs = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"edgeport {cmd[0]} exit {p.returncode}: " + (p.stderr or p.stdout).strip().replace("\n", " | ")[:300])
    return p.stdout, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", default=os.environ.get("EDGEPORT_BIN", os.path.join(REPO, "target", "debug", "edgeport")))
    ap.add_argument("--zoo", default=os.environ.get("EDGEPORT_ZOO", os.path.join(REPO, ".cache", "zoo")))
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "zoo_out"))
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    folder = os.path.join(args.zoo, "mediapipe")
    if not os.path.isdir(folder):
        print(f"zoo absent ({folder}); run tests/zoo/fetch.sh")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.join(args.zoo, "ref"), exist_ok=True)
    passed = failed = gaps = 0
    print(f"{'model':40} {'target':7} {'status':6} {'max abs':>9} {'rel':>9} {'time':>7}  note")
    for fname in sorted(os.listdir(folder)):
        if not fname.endswith(".tflite") or (args.filter and args.filter not in fname):
            continue
        name = fname[:-7]
        path = os.path.join(folder, fname)
        customs, sparse, _ = model_info(path)
        tags = [task_of(name)] + ([f"sparse tensors {sparse}"] if sparse else []) + ([f"custom {','.join(customs)}"] if customs else [])
        print(f"# {name}: {'; '.join(tags)}")
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        inputs = [image_like(rng, shape).astype(dt) for shape, dt in input_shapes(path)]
        ref, ref_note, ref_path = None, "LiteRT on the original", path
        try:
            ref = litert(path, inputs)
        except Exception as e:  # noqa: BLE001 - custom ops: try the builtin rewrite
            alt = os.path.join(args.out, name + ".builtin.tflite")
            if customs == ["Convolution2DTransposeBias"] and rewrite_transpose_conv_bias(path, alt):
                ref, ref_path = litert(alt, inputs), alt
                ref_note = "LiteRT on the TRANSPOSE_CONV rewrite"
            elif customs and set(customs) <= ATTENTION_OPS:
                ref, ref_path = attention.pipeline(path, inputs, args.out), None
                ref_note = "LiteRT + numpy attention ops"
            else:
                ref_note = f"no LiteRT reference ({str(e).splitlines()[0][:120]})"
        floors = None
        if ref is not None and ref_path is None:
            opt = attention.pipeline(path, inputs, args.out, reference=False)
            floors = [float(np.max(np.abs(o.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0 for o, r in zip(opt, ref)]
        elif ref is not None:
            # LiteRT's optimized kernels against its reference kernels: the output's noise floor.
            opt = litert(ref_path, inputs, reference=False)
            floors = [float(np.max(np.abs(o.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0 for o, r in zip(opt, ref)]
            big = [(i, f) for i, f in enumerate(floors) if f > max(ATOL, RTOL * float(np.max(np.abs(ref[i]))) if ref[i].size else ATOL)]
            if big:
                ref_note += "; kernel floor " + ", ".join(f"y{i} {f:.2g}" for i, f in big)
        if ref is not None:
            arrays = {f"x{i}": x for i, x in enumerate(inputs)}
            arrays.update({f"y{i}": y for i, y in enumerate(ref)})
            arrays.update({f"f{i}": np.array([f], np.float64) for i, f in enumerate(floors)})
            np.savez(os.path.join(args.zoo, "ref", name + ".npz"), **arrays)
        # inspect: the custom ops must be named
        try:
            out, secs = edgeport(args, "inspect", path, "--json")
            text = json.dumps(json.loads(out))
            missing = [c for c in customs if c not in text]
            st = "pass" if not missing else "FAIL"
            note = f"custom ops named: {customs}" if customs else "no custom ops"
            if missing:
                note = f"custom ops not named: {missing}"
            print(f"{name:40} {'inspect':7} {st:6} {'':>9} {'':>9} {secs:6.2f}s  {note}")
        except Exception as e:  # noqa: BLE001
            st = "FAIL"
            print(f"{name:40} {'inspect':7} {st:6} {'':>9} {'':>9} {'':>7}  {e}")
        passed += st == "pass"
        failed += st != "pass"
        if customs and set(customs) <= ATTENTION_OPS:
            # edgeport's lowered attention ops vs the numpy ops, on the evaluator's own inputs to them.
            try:
                t0 = time.time()
                rows = attention.check_intermediates(args.edgeport, path, inputs, args.out)
                d = max(r[2] for r in rows)
                q = max(r[2] / r[3] if r[3] > 0 else r[2] for r in rows)
                st = "pass" if d <= ATOL else "FAIL"
                note = f"{len(rows)} custom-op outputs vs numpy ops on the evaluator's intermediates"
                print(f"{name:40} {'ops':7} {st:6} {d:9.2e} {q:9.2e} {time.time() - t0:6.2f}s  {note}")
            except Exception as e:  # noqa: BLE001
                st = "FAIL"
                print(f"{name:40} {'ops':7} {st:6} {'':>9} {'':>9} {'':>7}  {str(e)[:300]}")
            passed += st == "pass"
            failed += st != "pass"
        for target in ["onnx", "tflite", "eval"]:
            secs, worst, rel = None, float("nan"), float("nan")
            try:
                if target == "eval":
                    out, _ = edgeport(args, "inspect", path, "--json")
                    feed_names = [i["name"] for i in json.loads(out)["inputs"]]
                    inp = os.path.join(args.out, name + ".inputs.npz")
                    res = os.path.join(args.out, name + ".eval.npz")
                    np.savez(inp, **dict(zip(feed_names, inputs)))
                    _, secs = edgeport(args, "run", path, "--inputs", inp, "-o", res)
                    d = np.load(res)
                    got = [d[k] for k in d.files]
                else:
                    dst = os.path.join(args.out, f"{name}.{target}")
                    _, secs = edgeport(args, "convert", path, "-o", dst)
                    if target == "onnx":
                        got, _ = ort_run(dst, inputs)
                    elif ref is not None:
                        got = litert(dst, inputs)
                if ref is None and target == "tflite":
                    # No reference to run: the re-exported file must keep the custom ops.
                    kept, _, _ = model_info(dst)
                    status = "pass" if kept == customs else "FAIL"
                    note = f"custom ops kept as CUSTOM: {kept}" if kept == customs else f"custom ops {customs} became {kept}"
                elif ref is None:
                    status, note = "nref", ref_note
                else:
                    ok, worst, rel = compare(got, ref, floors)
                    status = "pass" if ok else "FAIL"
                    note = ref_note
            except Exception as e:  # noqa: BLE001 - any failure is this case's result
                status, note = "FAIL", str(e)[:300]
            if status == "FAIL" and (name, target) in GAPS:
                status, note = "gap", GAPS[(name, target)]
                gaps += 1
            if status not in ("nref", "gap"):
                passed += status == "pass"
                failed += status != "pass"
            t = f"{secs:6.2f}s" if secs is not None else ""
            print(f"{name:40} {target:7} {status:6} {worst:9.2e} {rel:9.2e} {t:>7}  {note}", flush=True)
    print(f"{passed} passed, {failed} failed, {gaps} known gaps")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
