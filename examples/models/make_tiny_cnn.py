"""Make examples/models/tiny_cnn.onnx: a small MNIST-shaped CNN with fixed random weights,
plus a sample input (tiny_cnn.inputs.npz) and onnxruntime's outputs for it (tiny_cnn.outputs.npz).

    .cache/venv/bin/python examples/models/make_tiny_cnn.py     # onnx==1.22.0, onnxruntime==1.32.0
"""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def w(name, *shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


inits = [
    w("conv1.weight", 8, 1, 3, 3), w("conv1.bias", 8),
    w("conv2.weight", 16, 8, 3, 3, scale=0.1), w("conv2.bias", 16),
    w("fc.weight", 10, 16, scale=0.2), w("fc.bias", 10),
]
nodes = [
    helper.make_node("Conv", ["image", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
    helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
    helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
    helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
]
graph = helper.make_graph(
    nodes, "tiny_cnn",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
     helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeport-examples")
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
path = os.path.join(HERE, "tiny_cnn.onnx")
onnx.save(model, path)

x = rng.random((2, 1, 28, 28), dtype=np.float32)
np.savez(os.path.join(HERE, "tiny_cnn.inputs.npz"), image=x)
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
logits, probs = sess.run(None, {"image": x})
np.savez(os.path.join(HERE, "tiny_cnn.outputs.npz"), logits=logits, probs=probs)
print("wrote", path, os.path.getsize(path), "bytes")
