#!/usr/bin/env python3
"""Numpy reference for MediaPipe's face-attention custom ops (version 2) and a reference pipeline
for models that use them (face_landmark_with_attention.tflite).

The three ops are written here from the semantics of MediaPipe's CPU kernels
(mediapipe/util/tflite/operations/{landmarks_to_transform_matrix,transform_tensor_bilinear,
transform_landmarks}.cc) in float32, step by step as those kernels compute (atan2, cos/sin, 4x4
matrix products, the align-corners correction of the sampling matrix):

- Landmarks2TransformMatrix: landmarks [1, N, 3] -> 4x4 matrix mapping output pixels of the crop
  to input landmark coordinates (rotation from two landmarks, crop box from a landmark subset).
- TransformTensorBilinear: bilinear sampling of [1, H, W, C] at M * (x + 0.5, y + 0.5, 0, 1) - 0.5;
  0 outside [0, W-1] x [0, H-1].
- TransformLandmarks: (x, y) -> rows 0/1 of M applied to (x, y, 0, 1); z copied.

`pipeline` runs a whole model: LiteRT (reference kernels) for the builtin operators on a copy of
the model where each custom op is removed, its outputs made graph inputs and its inputs graph
outputs; the numpy ops fill in the custom outputs, repeating until every custom op has run on
final values (one LiteRT run per level of custom-op depth, plus one).

`with_custom_io` writes a copy that keeps the custom ops and also lists their inputs and outputs
as graph outputs, so `edgeport run` on it returns the evaluator's intermediate tensors.

Usage (check of edgeport's lowering on the model's real intermediate tensors):
  python tests/zoo/mediapipe_attention_ref.py --edgeport BIN --model face_landmark_with_attention.tflite --out DIR
Needs: numpy, ai-edge-litert 2.3.0 (schema + interpreter), flatbuffers (its flexbuffers module).
"""
import argparse
import os
import subprocess
import sys
import zlib

import numpy as np

ATTENTION_OPS = ("Landmarks2TransformMatrix", "TransformTensorBilinear", "TransformLandmarks")
F = np.float32


def schema():
    from ai_edge_litert import schema_py_generated as s

    return s


def load(path):
    s = schema()
    with open(path, "rb") as f:
        return s.ModelT.InitFromObj(s.Model.GetRootAsModel(f.read(), 0))


def save(m, dst):
    import flatbuffers

    b = flatbuffers.Builder(1 << 20)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with open(dst, "wb") as f:
        f.write(bytes(b.Output()))


def code_name(c):
    n = c.customCode
    return n.decode() if isinstance(n, bytes) else n


def custom_ops(m):
    """[(op index, name, version, options dict, input tensor ids, output tensor ids)] of subgraph 0."""
    from flatbuffers import flexbuffers

    out = []
    sg = m.subgraphs[0]
    for k, op in enumerate(sg.operators):
        c = m.operatorCodes[op.opcodeIndex]
        name = code_name(c)
        if name not in ATTENTION_OPS:
            continue
        raw = bytes(op.customOptions) if op.customOptions is not None else b""
        opts = flexbuffers.Loads(raw) if raw else {}
        out.append((k, name, c.version, opts, [int(i) for i in op.inputs], [int(o) for o in op.outputs]))
    return out


def tensor_name(sg, i):
    n = sg.tensors[i].name
    return n.decode() if isinstance(n, bytes) else n


# ---- the three ops -------------------------------------------------------------------------


def mat4_mul(a, b):
    """4x4 float32 product, summed in the kernel's order (k = 0..3)."""
    r = np.zeros((4, 4), F)
    for i in range(4):
        for j in range(4):
            s = F(0)
            for k in range(4):
                s = F(s + F(a[i, k] * b[k, j]))
            r[i, j] = s
    return r


def landmarks_to_transform_matrix(lm, o):
    lm = np.asarray(lm, F).reshape(-1, 3)
    idx = list(o["subset_idxs"])
    if len(idx) % 2:
        idx.append(idx[-1])
    l, r = lm[o["left_rotation_idx"]], lm[o["right_rotation_idx"]]
    rot = F(F(o.get("target_rotation_radians", 0.0)) - F(np.arctan2(F(r[1] - l[1]), F(r[0] - l[0]))))
    c, s = F(np.cos(rot)), F(np.sin(rot))
    pts = lm[idx, :2]
    rx = F(c * pts[:, 0]) - F(s * pts[:, 1])
    ry = F(s * pts[:, 0]) + F(c * pts[:, 1])
    mxx, mnx, mxy, mny = rx.max(), rx.min(), ry.max(), ry.min()
    cw, chh = F(mxx - mnx), F(mxy - mny)
    mx, my = F(F(mnx + mxx) / F(2)), F(F(mny + mxy) / F(2))
    ci, si = F(np.cos(-rot)), F(np.sin(-rot))
    crop_x = F(F(ci * mx) + F(-si * my))
    crop_y = F(F(si * mx) + F(ci * my))
    ow, oh = o["output_width"], o["output_height"]
    t = np.eye(4, dtype=F)
    shift = np.eye(4, dtype=F)
    shift[0, 3], shift[1, 3] = crop_x, crop_y
    t = mat4_mul(t, shift)
    rr = F(-rot)
    rm = np.eye(4, dtype=F)
    rm[0, 0], rm[0, 1], rm[1, 0], rm[1, 1] = np.cos(rr), -np.sin(rr), np.sin(rr), np.cos(rr)
    t = mat4_mul(t, rm)
    sc = np.eye(4, dtype=F)
    sc[0, 0] = F(F(F(o["scale_x"]) * cw) / F(ow))
    sc[1, 1] = F(F(F(o["scale_y"]) * chh) / F(oh))
    t = mat4_mul(t, sc)
    sh2 = np.eye(4, dtype=F)
    sh2[0, 3], sh2[1, 3] = F(-ow / 2.0), F(-oh / 2.0)
    t = mat4_mul(t, sh2)
    return t.reshape(1, 4, 4)


def transform_tensor_bilinear(x, m, o):
    x = np.asarray(x, F)
    _, h, w, ch = x.shape
    oh, ow = o["output_height"], o["output_width"]
    m = np.asarray(m, F).reshape(4, 4)
    xt, yt = m[0].copy(), m[1].copy()
    # Pixel-centre correction of the sampling matrix, as the v2 kernel does (in double, stored as float).
    xt[3] = F(float(xt[3]) + float(xt[0]) * 0.5 + float(xt[1]) * 0.5 - 0.5)
    yt[3] = F(float(yt[3]) + float(yt[0]) * 0.5 + float(yt[1]) * 0.5 - 0.5)
    out = np.zeros((1, oh, ow, ch), F)

    def read(yy, xx):
        if yy < 0 or xx < 0 or yy >= h or xx >= w:
            return np.zeros(ch, F)
        return x[0, yy, xx]

    for oy in range(oh):
        for ox in range(ow):
            c = np.array([ox, oy, 0, 1], F)
            tx = F(F(F(F(xt[0] * c[0]) + F(xt[1] * c[1])) + F(xt[2] * c[2])) + F(xt[3] * c[3]))
            ty = F(F(F(F(yt[0] * c[0]) + F(yt[1] * c[1])) + F(yt[2] * c[2])) + F(yt[3] * c[3]))
            if tx < 0 or tx > w - 1 or ty < 0 or ty > h - 1:
                continue
            fx, fy = int(np.floor(tx)), int(np.floor(ty))
            q11, q21, q12, q22 = read(fy, fx), read(fy, fx + 1), read(fy + 1, fx), read(fy + 1, fx + 1)
            rc, lc = F(tx - F(fx)), F(ty - F(fy))
            upper = F(1 - rc) * q11 + rc * q21
            lower = F(1 - rc) * q12 + rc * q22
            out[0, oy, ox] = lc * lower + F(1 - lc) * upper
    return out


def transform_landmarks(lm, m):
    lm = np.asarray(lm, F)
    d = lm.shape[-1]
    m = np.asarray(m, F).reshape(4, 4)
    out = lm.copy()
    x, y = lm[..., 0], lm[..., 1]
    out[..., 0] = F(F(m[0, 0] * x) + F(m[0, 1] * y)) + F(m[0, 2] * F(0)) + m[0, 3]
    out[..., 1] = F(F(m[1, 0] * x) + F(m[1, 1] * y)) + F(m[1, 2] * F(0)) + m[1, 3]
    if d == 3:
        out[..., 2] = lm[..., 2]
    return out


def apply(name, opts, ins):
    if name == "Landmarks2TransformMatrix":
        return landmarks_to_transform_matrix(ins[0], opts)
    if name == "TransformTensorBilinear":
        return transform_tensor_bilinear(ins[0], ins[1], opts)
    if name == "TransformLandmarks":
        return transform_landmarks(ins[0], ins[1])
    raise ValueError(name)


# ---- model surgery ---------------------------------------------------------------------------


def without_custom_ops(path, dst):
    """Copy with the attention ops removed: their outputs become graph inputs, their inputs graph
    outputs. Returns (custom ops, original output count)."""
    m = load(path)
    ops = custom_ops(m)
    sg = m.subgraphs[0]
    n_out = len(sg.outputs)
    drop = {k for k, *_ in ops}
    sg.operators = [op for k, op in enumerate(sg.operators) if k not in drop]
    ins, outs = list(sg.inputs), list(sg.outputs)
    for _, _, _, _, i, o in ops:
        ins += [t for t in o if t not in ins]
        outs += [t for t in i if t not in outs]
    sg.inputs, sg.outputs = ins, outs
    save(m, dst)
    return ops, n_out


def with_custom_io(path, dst):
    """Copy that keeps the custom ops and also outputs their inputs and outputs."""
    m = load(path)
    ops = custom_ops(m)
    sg = m.subgraphs[0]
    outs = list(sg.outputs)
    for _, _, _, _, i, o in ops:
        outs += [t for t in i + o if t not in outs]
    sg.outputs = outs
    save(m, dst)
    return ops


def pipeline(path, inputs, work, reference=True):
    """Whole-model reference: LiteRT on the builtin ops, numpy on the attention ops."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    cut = os.path.join(work, os.path.basename(path)[:-7] + ".nocustom.tflite")
    ops, n_out = without_custom_ops(path, cut)
    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN
    it = Interpreter(model_path=cut, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    det_in = {d["name"]: d for d in it.get_input_details()}
    det_out = {d["name"]: d for d in it.get_output_details()}
    sg = load(cut).subgraphs[0]
    names = {t: tensor_name(sg, t) for t in range(len(sg.tensors))}
    known = {}  # custom output tensor id -> value
    prev = None
    for _ in range(len(ops) + 2):
        for d, x in zip(it.get_input_details(), inputs):
            it.set_tensor(d["index"], x)
        for _, _, _, _, _, o in ops:
            for t in o:
                d = det_in[names[t]]
                it.set_tensor(d["index"], known.get(t, np.zeros(d["shape"], F)))
        it.invoke()
        vals = {t: it.get_tensor(det_out[names[t]]["index"]).copy() for t in set(sum((i for *_, i, _ in ops), []))}
        known = {o[0]: apply(name, opts, [vals[t] for t in i]).astype(F) for _, name, _, opts, i, o in ops}
        outs = [it.get_tensor(d["index"]).copy() for d in it.get_output_details()[:n_out]]
        # Settled when a run reproduces both the outputs and every custom op's result.
        state = outs + [known[o[0]] for *_, o in ops]
        if prev is not None and all(np.array_equal(a, b, equal_nan=True) for a, b in zip(prev, state)):
            return outs
        prev = state
    raise RuntimeError("custom-op pipeline did not settle")


# ---- check of edgeport's lowering on the model's intermediate tensors -------------------------


def check_intermediates(edgeport, path, inputs, work):
    """Runs `edgeport run` on the custom-I/O copy; applies the numpy ops to the evaluator's own
    custom-op inputs and compares with the evaluator's custom-op outputs. Returns
    [(op name, output tensor, max abs diff, max |value|)]."""
    dst = os.path.join(work, os.path.basename(path)[:-7] + ".customio.tflite")
    ops = with_custom_io(path, dst)
    sg = load(dst).subgraphs[0]
    inp = os.path.join(work, "attention_inputs.npz")
    res = os.path.join(work, "attention_eval.npz")
    feed = {tensor_name(sg, t): x for t, x in zip(sg.inputs, inputs)}
    np.savez(inp, **feed)
    p = subprocess.run([edgeport, "run", dst, "--inputs", inp, "-o", res], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"edgeport run failed: {p.stderr or p.stdout}")
    got = dict(np.load(res))
    rows = []
    for _, name, _, opts, i, o in ops:
        ins = [got[tensor_name(sg, t)] for t in i]
        want = apply(name, opts, ins)
        have = got[tensor_name(sg, o[0])]
        d = float(np.max(np.abs(have.astype(np.float64) - want.astype(np.float64))))
        rows.append((name, tensor_name(sg, o[0]), d, float(np.max(np.abs(want)))))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="/tmp/attention_ref")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from zoo_check import image_like, input_shapes

    name = os.path.basename(args.model)[:-7]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = [image_like(rng, shape).astype(dt) for shape, dt in input_shapes(args.model)]
    rows = check_intermediates(args.edgeport, args.model, inputs, args.out)
    worst = 0.0
    for op, t, d, scale in rows:
        print(f"{op:28} {t:40} max abs {d:.3e}  (max |y| {scale:.3g})")
        worst = max(worst, d)
    ok = worst <= args.atol
    print(f"{len(rows)} custom-op outputs, worst max abs {worst:.3e}: {'pass' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
