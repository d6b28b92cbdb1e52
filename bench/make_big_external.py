#!/usr/bin/env python3
"""Writes a ~1 GB ONNX model whose weights live in external data (`<stem>.data`): a chain of
16 MatMul+Relu layers with 4096x4096 f32 weights (64 MiB each), data written tensor by
tensor so generating it needs little memory.

Usage: make_big_external.py OUT.onnx
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

LAYERS, N = 16, 4096


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "big.onnx"
    stem = os.path.splitext(os.path.basename(out))[0]
    data_name = f"{stem}.data"
    data_path = os.path.join(os.path.dirname(os.path.abspath(out)), data_name)
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "input"
    offset = 0
    with open(data_path, "wb") as f:
        for i in range(LAYERS):
            w = (rng.standard_normal((N, N), dtype=np.float32) / np.float32(64.0)).astype(np.float32)
            pad = (-offset) % 4096
            f.write(b"\0" * pad)
            offset += pad
            f.write(w.tobytes())
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[N, N])
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(w.nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            offset += w.nbytes
            inits.append(t)
            nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"mm{i}"))
            nodes.append(helper.make_node("Relu", [f"mm{i}"], [f"h{i}"], name=f"relu{i}"))
            x = f"h{i}"
    nodes.append(helper.make_node("Identity", [x], ["output"], name="out"))
    g = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", N])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_big_external")
    m.ir_version = 8
    onnx.save(m, out)
    print(f"{out} + {data_name}: {offset} bytes of weights")


if __name__ == "__main__":
    main()
