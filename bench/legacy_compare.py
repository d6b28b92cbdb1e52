"""Side-by-side conversion speed and memory for the Caffe, MXNet and PaddlePaddle frontends:
edgeport against the peers people use today, on the same files, in one run.

  Caffe  (tests/fixtures/caffe/cnn; MobileNet v1 from make_caffe.py big):
                                            MNNConvert (pip MNN) → .mnn, x2paddle → Paddle,
                                            edgeport → ONNX
  Paddle (mobilenet_v2, resnet18; legacy .pdmodel and PIR .json): paddle2onnx → ONNX,
                                            edgeport → ONNX
  MXNet  (resnet18_v1, mobilenet1.0):       edgeport → ONNX (no maintained peer converts MXNet)

Each conversion runs --repeat times under /usr/bin/time; the table gives the median wall time,
the peak RSS of that run and RSS divided by the model's file size (weights + graph).

usage: python3 bench/legacy_compare.py --edgeport target/release/edgeport \
           [--peers /work/cache/venv-peers5/bin] [--big /work/cache/fixtures] [--repeat 5]
The peers' venv: python -m venv V && V/bin/pip install paddlepaddle==3.3.1 paddle2onnx==2.1.0
x2paddle==1.6.0 MNN==3.6.1. The big models come from tests/fixtures/{mxnet,paddle}/make_*.py.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall s, peak RSS MB) or raises with its stderr."""
    r = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M", *cmd], capture_output=True, text=True, env=env)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("@@ ")]
    if r.returncode != 0 or not line:
        raise RuntimeError(f"{' '.join(cmd[:3])}…: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    _, wall, rss_kb = line[-1].split()
    return float(wall), int(rss_kb) / 1024.0


def measure(cmd, repeat, outdir, env=None):
    runs = []
    for _ in range(repeat):
        if os.path.isdir(outdir):
            shutil.rmtree(outdir)
        os.makedirs(outdir, exist_ok=True)
        runs.append(timed(cmd, env))
    runs.sort()
    return runs[len(runs) // 2]


def size_mb(paths):
    return sum(os.path.getsize(p) for p in paths) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeport", required=True)
    ap.add_argument("--peers", default="/work/cache/venv-peers5/bin")
    ap.add_argument("--big", default="/work/cache/fixtures")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    ep = os.path.abspath(a.edgeport)
    peer = lambda name: os.path.join(a.peers, name)
    tmp = tempfile.mkdtemp(prefix="legacy_bench_")
    rows = []

    def run(model, tool, cmd, files, env=None):
        out = os.path.join(tmp, "out")
        try:
            wall, rss = measure(cmd(out), a.repeat, out, env)
            mb = size_mb(files)
            rows.append((model, tool, wall, rss, rss / mb, mb))
        except Exception as e:  # a peer that fails is reported, not fatal
            rows.append((model, tool, None, None, None, str(e)[:160]))

    # x2paddle's bundled generated protobuf code needs the pure-Python protobuf runtime.
    x2p_env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    for net, folder in [("cnn", os.path.join(FIX, "caffe")), ("mobilenet_v1", os.path.join(a.big, "caffe"))]:
        proto, weights = os.path.join(folder, f"{net}.prototxt"), os.path.join(folder, f"{net}.caffemodel")
        if not os.path.exists(proto):
            rows.append((f"caffe {net}", "-", None, None, None, f"missing {proto} (make_caffe.py big DIR/caffe)"))
            continue
        files = [proto, weights]
        run(f"caffe {net}", "edgeport→onnx", lambda o: [ep, "convert", proto, "--weights", weights, "-o", o + "/m.onnx"], files)
        run(f"caffe {net}", "MNNConvert→mnn",
            lambda o: [peer("mnnconvert"), "-f", "CAFFE", "--modelFile", weights, "--prototxt", proto, "--MNNModel", o + "/m.mnn"], files)
        run(f"caffe {net}", "x2paddle→paddle",
            lambda o: [peer("x2paddle"), "--framework=caffe", f"--prototxt={proto}", f"--weight={weights}", f"--save_dir={o}"],
            files, x2p_env)

    for m in ["mobilenet_v2", "resnet18"]:
        d = os.path.join(a.big, "paddle")
        for form, ext in [("legacy", "pdmodel"), ("pir", "json")]:
            prog, params = os.path.join(d, f"{m}.{form}.{ext}"), os.path.join(d, f"{m}.{form}.pdiparams")
            if not os.path.exists(prog):
                rows.append((f"paddle {m} {form}", "-", None, None, None, f"missing {prog}"))
                continue
            files = [prog, params]
            run(f"paddle {m} {form}", "edgeport→onnx", lambda o: [ep, "convert", prog, "-o", o + "/m.onnx"], files)
            run(f"paddle {m} {form}", "paddle2onnx→onnx",
                lambda o: [peer("paddle2onnx"), "--model_dir", d, "--model_filename", os.path.basename(prog),
                           "--params_filename", os.path.basename(params), "--save_file", o + "/m.onnx"], files)

    for m in ["resnet18_v1", "mobilenet1.0"]:
        sym = os.path.join(a.big, "mxnet", f"{m}-symbol.json")
        params = os.path.join(a.big, "mxnet", f"{m}-0000.params")
        if not os.path.exists(sym):
            rows.append((f"mxnet {m}", "-", None, None, None, f"missing {sym}"))
            continue
        run(f"mxnet {m}", "edgeport→onnx",
            lambda o: [ep, "convert", sym, "--input-shape", "data=1,3,224,224", "-o", o + "/m.onnx"], [sym, params])

    shutil.rmtree(tmp, ignore_errors=True)
    print(f"median of {a.repeat} runs; RSS = peak resident set of that run\n")
    print(f"| model | tool | wall s | peak RSS MB | RSS / model size | model MB |")
    print(f"|---|---|---|---|---|---|")
    for model, tool, wall, rss, ratio, mb in rows:
        if wall is None:
            print(f"| {model} | {tool} | failed | | | {mb} |")
        else:
            print(f"| {model} | {tool} | {wall:.3f} | {rss:.0f} | {ratio:.2f}× | {mb:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
