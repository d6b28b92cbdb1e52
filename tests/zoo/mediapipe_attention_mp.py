#!/usr/bin/env python3
"""Independent reference for face_landmark_with_attention.tflite: MediaPipe 0.10.14's own
runtime (its InferenceCalculator with MediaPipe's custom-op resolver, i.e. the real
Landmarks2TransformMatrix / TransformTensorBilinear / TransformLandmarks kernels), fed a known
192x192 RGB image through ImageToTensorCalculator (identity crop, float range [0, 1]), raw output
tensors read back as float lists. The same image as float32 (pixel / 255) runs through edgeport's
evaluator (`edgeport run`), edgeport's ONNX export (onnxruntime) and TFLite re-export (LiteRT:
no custom op is left), and the LiteRT + numpy pipeline of mediapipe_attention_ref.py; max abs
diffs per output are printed.

Needs its own venv (python 3.11): mediapipe==0.10.14 (pulls numpy, opencv), ai-edge-litert 2.3.0,
onnxruntime 1.32.0.
Usage: python tests/zoo/mediapipe_attention_mp.py --edgeport BIN --model face_landmark_with_attention.tflite [--out DIR]
"""
import argparse
import os
import subprocess
import sys
import zlib

import numpy as np

OUTPUTS = 7

GRAPH = """
input_stream: "image"
{outs}
node {{
  calculator: "TfLiteCustomOpResolverCalculator"
  output_side_packet: "OP_RESOLVER:op_resolver"
}}
node {{
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors"
  options: {{
    [mediapipe.ImageToTensorCalculatorOptions.ext] {{
      output_tensor_width: {w}
      output_tensor_height: {h}
      keep_aspect_ratio: false
      output_tensor_float_range {{ min: 0.0 max: 1.0 }}
    }}
  }}
}}
node {{
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:input_tensors"
  input_side_packet: "OP_RESOLVER:op_resolver"
  output_stream: "TENSORS:output_tensors"
  options: {{
    [mediapipe.InferenceCalculatorOptions.ext] {{
      model_path: "{model}"
      delegate {{ tflite {{}} }}
    }}
  }}
}}
node {{
  calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors"
  {split_outs}
  options: {{
    [mediapipe.SplitVectorCalculatorOptions.ext] {{
      {ranges}
    }}
  }}
}}
{floats}
"""


def mediapipe_outputs(model, img, n_outputs=OUTPUTS):
    """The model's raw outputs (flattened float32) in MediaPipe's runtime, on `img` (uint8 HxWx3)."""
    import mediapipe as mp
    from mediapipe.framework import calculator_pb2
    from google.protobuf import text_format

    h, w, _ = img.shape
    cfg = GRAPH.format(
        outs="\n".join(f'output_stream: "f{i}"' for i in range(n_outputs)),
        w=w,
        h=h,
        model=model,
        split_outs="\n  ".join(f'output_stream: "t{i}"' for i in range(n_outputs)),
        ranges="\n      ".join(f"ranges: {{ begin: {i} end: {i + 1} }}" for i in range(n_outputs)),
        floats="\n".join(
            f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t{i}" output_stream: "FLOATS:f{i}" }}'
            for i in range(n_outputs)
        ),
    )
    config = text_format.Parse(cfg, calculator_pb2.CalculatorGraphConfig())
    graph = mp.CalculatorGraph(graph_config=config)
    got = {}
    for i in range(n_outputs):
        graph.observe_output_stream(f"f{i}", lambda name, p: got.__setitem__(name, np.array(mp.packet_getter.get_float_list(p), np.float32)))
    graph.start_run()
    frame = mp.packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=img)
    graph.add_packet_to_input_stream("image", frame.at(0))
    graph.close()
    return [got[f"f{i}"] for i in range(n_outputs)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="/tmp/attention_mp")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from zoo_check import image_like

    name = os.path.basename(args.model)[:-7]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    img = np.round(image_like(rng, (1, 192, 192, 3))[0] * 255).astype(np.uint8)
    x = (img.astype(np.float32) / np.float32(255))[None]
    ref = mediapipe_outputs(os.path.abspath(args.model), np.ascontiguousarray(img))
    inp, res = os.path.join(args.out, "mp_inputs.npz"), os.path.join(args.out, "mp_eval.npz")
    np.savez(inp, input_1=x)
    subprocess.run([args.edgeport, "run", args.model, "--inputs", inp, "-o", res], check=True, capture_output=True)
    ev = np.load(res)
    rows = [("edgeport eval", [ev[k].reshape(-1) for k in ev.files])]
    for target in ("onnx", "tflite"):
        dst = os.path.join(args.out, f"{name}.export.{target}")
        subprocess.run([args.edgeport, "convert", args.model, "-o", dst], check=True, capture_output=True)
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
            rows.append((f"edgeport→{target}", [np.asarray(g).reshape(-1) for g in got]))
        except ImportError as e:
            print(f"({target} skipped: {e})")
    try:
        import mediapipe_attention_ref as attention

        rows.append(("LiteRT+numpy", [o.reshape(-1) for o in attention.pipeline(args.model, [x], args.out)]))
    except Exception as e:  # noqa: BLE001 - the pipeline needs ai-edge-litert
        print(f"(no LiteRT+numpy pipeline: {e})")
    for label, outs in rows:
        for i, (a, b) in enumerate(zip(outs, ref)):
            if a.shape != b.shape:
                raise ValueError(f"{label} y{i}: {a.shape} values, MediaPipe gives {b.shape}")
            d = float(np.max(np.abs(a.astype(np.float64) - b)))
            print(f"{label:16} vs MediaPipe  y{i} ({ev.files[i]:22}) max abs {d:.3e}  max |y| {float(np.max(np.abs(b))):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
