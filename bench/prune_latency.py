"""Structured pruning, side by side in one run: for each model, `edgeport prune --structured R`
with each `--round N`, the parameter and MAC reduction from edgeport's own report, and the
onnxruntime latency (CPU, 1 thread, median and minimum of --runs after 5 warm-ups) of the original and the
pruned model on the same random input. Issue 7's bar: latency falls at least in proportion to
MACs (latency ratio <= MAC ratio). A second ratio sums onnxruntime's own per-node kernel times
(its profiler), which leaves out the fixed cost of each session.run call. With --expansion-only R, rows for `--structured R
--expansion-only --round 16` are added (models with depthwise convolutions); with --latency-aware N,
rows for `--structured RATIO --latency-aware --round N`. The original and
all its pruned variants are timed interleaved (one run of each in turn), so a load change on the
shared machine hits them alike.

usage: python bench/prune_latency.py --edgeport target/release/edgeport
           [--models /work/cache/fixtures/resnet18.onnx ...] [--ratio 0.3] [--round 1 8 16]
           [--expansion-only 0.5 ...] [--runs 30]
Needs onnxruntime and numpy (the test venv); the models are torch exports made by
bench/make_resnet18.py or tests/fixtures/quant/make_big.py.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort


def latencies_ms(paths, runs):
    """(median, minimum) latency of each model, runs interleaved across the models. The minimum
    is the run least disturbed by anything else on the machine."""
    sess = []
    for path in paths:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess.append(ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]))
    i = sess[0].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    for s in sess:
        for _ in range(5):
            s.run(None, {i.name: x})
    ts = [[] for _ in sess]
    for _ in range(runs):
        for k, s in enumerate(sess):
            t = time.perf_counter()
            s.run(None, {i.name: x})
            ts[k].append(time.perf_counter() - t)
    return [(float(np.median(t)) * 1e3, float(np.min(t)) * 1e3) for t in ts]


def kernel_ms(path, runs):
    """Mean per-run sum of onnxruntime's own per-node kernel times (its profiler), 1 thread:
    the model's compute without the fixed per-call cost of session.run, which pruning cannot
    reduce."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.gettempdir(), "prune_latency_prof")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = np.random.default_rng(0).random([d if isinstance(d, int) else 1 for d in i.shape], dtype=np.float32)
    for _ in range(5):
        s.run(None, {i.name: x})
    for _ in range(runs):
        s.run(None, {i.name: x})
    f = s.end_profiling()
    with open(f) as fh:
        ev = json.load(fh)
    os.remove(f)
    # The first 5 runs are warm-ups: keep the last `runs` runs' node events.
    node = [e["dur"] for e in ev if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_run = len(node) // (runs + 5) if runs + 5 else 0
    return sum(node[-per_run * runs:]) / runs / 1000 if per_run else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--models", nargs="+", default=["/work/cache/fixtures/resnet18.onnx", "/work/cache/fixtures/mobilenet_v2.onnx"])
    ap.add_argument("--ratio", type=float, default=0.3)
    ap.add_argument("--round", type=int, nargs="+", default=[1, 8, 16])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--expansion-only", type=float, nargs="*", default=[])
    ap.add_argument("--latency-aware", type=int, nargs="*", default=[],
                    help="rows for `--structured RATIO --latency-aware --round N`, for each N given")
    a = ap.parse_args()
    print(f"structured {a.ratio}; onnxruntime {ort.__version__}, 1 thread, median and minimum of {a.runs}, interleaved\n")
    print("| model | variant | params | MACs | median latency ms | latency ratio (median / min) | kernel ratio | MAC ratio | in proportion (median / min / kernels) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for m in a.models:
            if not os.path.exists(m):
                print(f"| {m} | missing | | | | | | |")
                continue
            name = os.path.basename(m).rsplit(".", 1)[0]
            variants = [(f"--round {r}", ["--structured", str(a.ratio), "--round", str(r)]) for r in a.round]
            variants += [(f"expansion-only {x}, --round 16", ["--structured", str(x), "--expansion-only", "--round", "16"])
                         for x in a.expansion_only]
            variants += [(f"latency-aware, --round {r}", ["--structured", str(a.ratio), "--latency-aware", "--round", str(r)])
                         for r in a.latency_aware]
            made = []
            for k, (label, args) in enumerate(variants):
                out = os.path.join(d, f"{name}_{k}.onnx")
                p = subprocess.run([a.edgeport, "--json", "prune", m, "-o", out] + args, capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"| {name} | {label} | prune failed: {p.stderr.strip()[:200]} | | | | | |")
                    continue
                made.append((label, out, json.loads(p.stdout)))
            lats = latencies_ms([m] + [o for _, o, _ in made], a.runs)
            base, bmin = lats[0]
            kbase = kernel_ms(m, a.runs)
            for (label, out, rep), (lat, lmin) in zip(made, lats[1:]):
                pr = rep["params_after"] / rep["params_before"]
                mr = rep["macs_after"] / rep["macs_before"]
                lr = lat / base
                lm = lmin / bmin
                kr = kernel_ms(out, a.runs) / kbase
                print(f"| {name} | {label} | -{100 * (1 - pr):.1f}% | -{100 * (1 - mr):.1f}% | {base:.2f} → {lat:.2f} | "
                      f"×{lr:.3f} / ×{lm:.3f} | ×{kr:.3f} | ×{mr:.3f} | "
                      f"{'yes' if lr <= mr else 'no'} / {'yes' if lm <= mr else 'no'} / {'yes' if kr <= mr else 'no'} |")


if __name__ == "__main__":
    main()
