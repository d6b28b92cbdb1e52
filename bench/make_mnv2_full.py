"""Makes the standard Keras MobileNetV2 (alpha 1.0, 224x224, 3.5 M parameters, random weights)
as a SavedModel, a frozen GraphDef and a float .tflite, for bench/tf_compare.sh's full-size rows
(the committed-size fixtures use alpha 0.35 at 96x96, whose 6.6 MB of weights are smaller than the
converter process's own code pages).

Run with /work/cache/venv-tf/bin/python (tensorflow-cpu 2.21.0, keras 3.15.1).
Usage: make_mnv2_full.py OUT_DIR   (writes mobilenet_v2_100_224_saved/, .pb, .tflite, .npz)
"""
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import tensorflow as tf
import keras
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
name = os.path.join(out, "mobilenet_v2_100_224")
rng = np.random.default_rng(11)
model = keras.applications.MobileNetV2(alpha=1.0, input_shape=(224, 224, 3), weights=None)
# Non-trivial BatchNorm statistics, so the outputs are not a flat softmax and a conversion's
# numbers can be checked against `y` in the .npz.
for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        ws = layer.get_weights()
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if i in (0, 3)
                           else rng.normal(0, 0.2, w.shape).astype(np.float32) for i, w in enumerate(ws)])
x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)

shutil.rmtree(name + "_saved", ignore_errors=True)
model.export(name + "_saved", format="tf_saved_model", verbose=False)
conc = tf.function(lambda t: model(t, training=False)).get_concrete_function(
    tf.TensorSpec([None, 224, 224, 3], tf.float32, name="t"))
frozen = convert_variables_to_constants_v2(conc, lower_control_flow=False)
with open(name + ".pb", "wb") as f:
    f.write(frozen.graph.as_graph_def().SerializeToString())
conv = tf.lite.TFLiteConverter.from_keras_model(model)
with open(name + ".tflite", "wb") as f:
    f.write(conv.convert())
np.savez(name + ".npz", x=x, y=model(x, training=False).numpy())
print("inputs", [t.name for t in frozen.inputs], "outputs", [t.name for t in frozen.outputs])
