#!/usr/bin/env python3
"""Writes a ResNet-18-shaped ONNX model (opset 17) with random weights, ~46.8 MB.

torch from PyPI here is a multi-GB CUDA build, so instead of exporting torchvision's
resnet18 this builds the same architecture with onnx.helper: conv1 7x7/2 + ReLU + maxpool,
four stages of two BasicBlocks (64, 128, 256, 512 channels; 1x1 downsample convs), global
average pool, flatten, fc 512->1000. BatchNorm is folded into the convs (conv bias), as
torch.onnx.export does in eval mode; 11.69 M parameters.

Usage: make_resnet18.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
nodes, inits = [], []


def weight(name, shape):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    a = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    inits.append(numpy_helper.from_array(a, name))
    return name


def conv(x, name, cin, cout, k, stride, pad, relu=True):
    w = weight(f"{name}.weight", (cout, cin, k, k))
    b = weight(f"{name}.bias", (cout,))
    y = f"{name}.out"
    nodes.append(helper.make_node("Conv", [x, w, b], [y], name=name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4))
    if relu:
        nodes.append(helper.make_node("Relu", [y], [f"{name}.relu"], name=f"{name}.relu"))
        return f"{name}.relu"
    return y


def block(x, name, cin, cout, stride):
    h = conv(x, f"{name}.conv1", cin, cout, 3, stride, 1)
    h = conv(h, f"{name}.conv2", cout, cout, 3, 1, 1, relu=False)
    skip = conv(x, f"{name}.downsample", cin, cout, 1, stride, 0, relu=False) if (stride != 1 or cin != cout) else x
    s = f"{name}.add"
    nodes.append(helper.make_node("Add", [h, skip], [s], name=s))
    nodes.append(helper.make_node("Relu", [s], [f"{name}.out"], name=f"{name}.relu"))
    return f"{name}.out"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "resnet18.onnx"
    x = conv("input", "conv1", 3, 64, 7, 2, 3)
    nodes.append(helper.make_node("MaxPool", [x], ["pool1"], name="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, cin = "pool1", 64
    for i, cout in enumerate([64, 128, 256, 512]):
        for j in range(2):
            x = block(x, f"layer{i + 1}.{j}", cin, cout, 2 if (j == 0 and i > 0) else 1)
            cin = cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="avgpool"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    w = weight("fc.weight", (1000, 512))
    b = weight("fc.bias", (1000,))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["output"], name="fc", transB=1))
    g = helper.make_graph(
        nodes,
        "resnet18",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1000])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_resnet18")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)
    n = sum(int(np.prod(t.dims)) for t in inits)
    print(f"{out}: {n} parameters")


if __name__ == "__main__":
    main()
