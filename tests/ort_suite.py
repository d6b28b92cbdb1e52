#!/usr/bin/env python3
"""ORT round-trip suite for the ONNX backend.

For every ONNX node-test case (onnx 1.22.0) and the `light` models:
  1. `ort_export` (tests/conformance/src/ort_export.rs) imports the model, validates it and
     exports it at the model's own opset (tag `own`) and at fallback opsets (21, 17);
  2. this driver checks each exported model with `onnx.checker.check_model(path,
     full_check=True)`, runs onnxruntime on the ORIGINAL and on the EXPORTED model with the
     case's test data, and compares both with the expected outputs (rtol 1e-3, atol 1e-7;
     light models: rtol 1e-3, atol 1e-5, input arange(n)/n as onnx's runner makes it);
  3. writes tests/conformance/manifest/ort.txt (`case original:pass|fail exported:pass|fail
     reason`) and prints: cases ORT passes on the original, how many of those pass after the
     round trip, and "wins" (ORT fails the original, passes a lower-opset export).

Needs the venv with onnx==1.22.0, onnxruntime==1.32.0, numpy (CI makes it with a setup
script: tests/setup.sh makes .cache/venv). Usage:
  python tests/ort_suite.py [--out DIR] [--no-export] [--filter SUBSTR] [--no-manifest]
Each batch of cases runs in a worker subprocess, so an onnxruntime crash costs one case.
"""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("EDGEPORT_ONNX_DATA", os.path.join(REPO, ".cache", "onnx-1.22.0", "data"))
FALLBACKS = ["21", "17"]


def load_value(path, type_proto):
    import onnx
    from onnx import numpy_helper

    with open(path, "rb") as f:
        buf = f.read()
    which = type_proto.WhichOneof("value") if type_proto is not None else "tensor_type"
    if which == "sequence_type":
        s = onnx.SequenceProto()
        s.ParseFromString(buf)
        return numpy_helper.to_list(s)
    if which == "optional_type":
        o = onnx.OptionalProto()
        o.ParseFromString(buf)
        return numpy_helper.to_optional(o)
    if which == "map_type":
        m = onnx.MapProto()
        m.ParseFromString(buf)
        return numpy_helper.to_dict(m)
    t = onnx.TensorProto()
    t.ParseFromString(buf)
    return numpy_helper.to_array(t)


def compare(got, want, rtol, atol):
    import numpy as np

    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"sequence length {len(got) if isinstance(got, list) else '?'} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            r = compare(g, w, rtol, atol)
            if r:
                return f"seq[{i}]: {r}"
        return None
    if want is None:
        return None if got is None else "expected an empty optional"
    if got is None:
        return "got an empty optional"
    got = np.asarray(got)
    want = np.asarray(want)
    if got.dtype != want.dtype and not (got.dtype.kind in "OUS" and want.dtype.kind in "OUS"):
        return f"dtype {got.dtype} != {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    if want.dtype.kind in "OUS":
        return None if got.tolist() == want.tolist() else "strings differ"
    if want.dtype.kind in "biu":
        return None if np.array_equal(got, want) else "integer values differ"
    try:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
    except AssertionError as e:
        return "values differ: " + " ".join(str(e).split())[:160]
    return None


def run_model(model_path, case_dir, light):
    """Runs ORT on a model with the case's data; returns None on success or a reason."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    try:
        model = onnx.load(model_path, load_external_data=False)
    except Exception as e:  # noqa: BLE001
        return "load: " + str(e).splitlines()[0][:200]
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        return "ort session: " + " ".join(str(e).split())[:200]
    feeds = {}
    if light:
        for i in inputs:
            tt = i.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
            n = int(np.prod(shape)) if shape else 1
            dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
            feeds[i.name] = (np.arange(n, dtype=np.float64) / n).astype(np.float32).astype(dt).reshape(shape)
        stem = os.path.basename(case_dir)
        want = [load_value(os.path.join(os.path.dirname(case_dir), f"{stem}_output_0.pb"), None)]
        rtol, atol = 1e-3, 1e-5
    else:
        ds = os.path.join(case_dir, "test_data_set_0")
        for k, i in enumerate(inputs):
            p = os.path.join(ds, f"input_{k}.pb")
            if not os.path.exists(p):
                break
            feeds[i.name] = load_value(p, i.type)
        want = []
        for k, o in enumerate(model.graph.output):
            want.append(load_value(os.path.join(ds, f"output_{k}.pb"), o.type))
        rtol, atol = 1e-3, 1e-7
    try:
        got = sess.run(None, feeds)
    except Exception as e:  # noqa: BLE001
        return "ort run: " + " ".join(str(e).split())[:200]
    if len(got) < len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for k, w in enumerate(want):
        r = compare(got[k], w, rtol, atol)
        if r:
            return f"output {k}: {r}"
    return None


def check_model(path):
    import onnx

    try:
        onnx.checker.check_model(path, full_check=True)
    except Exception as e:  # noqa: BLE001
        return "checker: " + " ".join(str(e).split())[:200]
    return None


def worker(cases_file, out_dir):
    """Runs the given cases; prints one JSON line per case."""
    with open(cases_file) as f:
        cases = json.load(f)
    for name, orig, case_dir, light, tags in cases:
        res = {"case": name}
        res["original"] = run_model(orig, case_dir, light)
        orig_checker = None
        for tag in tags:
            p = os.path.join(out_dir, name, f"model_{tag}.onnx")
            r = check_model(p)
            if r is not None:
                # onnx's checker rejects some of its own test models (e.g. test_mvn's function
                # body): a checker error the original shares is not held against the export.
                if orig_checker is None:
                    orig_checker = check_model(orig) or ""
                if orig_checker:
                    r = None
            if r is None:
                r = run_model(p, case_dir, light)
            res[tag] = r
        print(json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "target", "ort"))
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--filter", default="")
    ap.add_argument("--no-manifest", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed manifest instead of rewriting it; exit 1 on any regression")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.out)
        return
    tags = ["own"] + FALLBACKS
    if not args.no_export:
        cmd = ["cargo", "run", "-q", "-p", "edgeport-conformance", "--bin", "ort_export", "--", "--out", args.out, "--opsets", ",".join(tags)]
        if args.filter:
            cmd.append(args.filter)
        subprocess.run(cmd, cwd=REPO, check=True)
    status = {}
    with open(os.path.join(args.out, "export_status.txt")) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) >= 3:
                status[(parts[0], parts[1])] = None if parts[2] == "ok" else (parts[3] if len(parts) > 3 else "export failed")
    cases = []
    node_dir = os.path.join(DATA, "node")
    for name in sorted(os.listdir(node_dir)):
        if args.filter and args.filter not in name:
            continue
        d = os.path.join(node_dir, name)
        if os.path.exists(os.path.join(d, "model.onnx")):
            cases.append((name, os.path.join(d, "model.onnx"), d, False))
    light_dir = os.path.join(DATA, "light")
    for fn in sorted(os.listdir(light_dir)):
        if fn.endswith(".onnx") and (not args.filter or args.filter in fn):
            stem = fn[:-5]
            cases.append((stem, os.path.join(light_dir, fn), os.path.join(light_dir, stem), True))
    results = {}
    todo = []
    for name, orig, d, light in cases:
        ok_tags = [t for t in tags if (name, t) in status and status[(name, t)] is None]
        todo.append((name, orig, d, light, ok_tags))
    batch = 40
    i = 0
    while i < len(todo):
        chunk = todo[i : i + batch]
        cf = os.path.join(args.out, "worker_cases.json")
        with open(cf, "w") as f:
            json.dump(chunk, f)
        p = subprocess.run([sys.executable, __file__, "--worker", cf, "--out", args.out], capture_output=True, text=True, timeout=3600)
        done = 0
        for line in p.stdout.splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            results[r["case"]] = r
            done += 1
        if done < len(chunk):
            crashed = chunk[done][0]
            results[crashed] = {"case": crashed, "original": "crash", **{t: "crash" for t in tags}}
            done += 1
        i += done
        print(f"  ... {i}/{len(todo)} cases", file=sys.stderr, flush=True)
    lines = []
    n_orig = n_rt = n_wins = n_exp_ok = n_import = 0
    for name, _, _, _, _ in todo:
        r = results.get(name, {})
        orig_ok = r.get("original", "missing") is None

        def tag_result(t):
            if (name, t) not in status:
                return "not exported"
            if status[(name, t)] is not None:
                return "export: " + status[(name, t)]
            return r.get(t, "missing")

        own = tag_result("own")
        exp_ok = own is None
        n_exp_ok += exp_ok
        reason = ""
        if orig_ok:
            n_orig += 1
            if exp_ok:
                n_rt += 1
            else:
                reason = own
                n_import += str(own).startswith("export: import:")
        else:
            wins = [t for t in FALLBACKS if tag_result(t) is None]
            if wins:
                n_wins += 1
                reason = f"win at opset {wins[0]} (original: {r.get('original')})"
            else:
                reason = f"original: {r.get('original')}" + ("" if exp_ok else f"; exported: {own}")
        line = f"{name} original:{'pass' if orig_ok else 'fail'} exported:{'pass' if exp_ok else 'fail'}"
        if reason:
            reason = str(reason).replace(os.path.abspath(args.out), "<out>").replace(REPO, "<repo>")
            line += " " + " ".join(reason.split())[:300]
        lines.append(line)
    manifest_path = os.path.join(REPO, "tests", "conformance", "manifest", "ort.txt")
    regressions = []
    if args.check:
        committed = {}
        with open(manifest_path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.split()
                committed[parts[0]] = (parts[1], parts[2])
        for line in lines:
            parts = line.split()
            want = committed.get(parts[0])
            if want is None:
                continue
            for got_flag, want_flag in zip(parts[1:3], want):
                if want_flag.endswith(":pass") and got_flag.endswith(":fail"):
                    regressions.append(line[:300])
                    break
    elif not args.no_manifest and not args.filter:
        path = manifest_path
        with open(path, "w") as f:
            f.write("# ONNX node tests (onnx 1.22.0) + light models: ORT on the original vs on import -> export.\n")
            f.write("# Rewrite with .cache/venv/bin/python tests/ort_suite.py\n")
            f.write("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))
    rate = 100.0 * n_rt / n_orig if n_orig else 0.0
    print(f"cases: {len(todo)}")
    print(f"ORT passes on the original: {n_orig}")
    print(f"  of those, pass after import->export round trip: {n_rt} ({rate:.1f}%)")
    if n_orig - n_import:
        print(f"  of the {n_orig - n_rt} failing, {n_import} fail at import (importer gaps); "
              f"round trip of the cases that import: {n_rt}/{n_orig - n_import} ({100.0 * n_rt / (n_orig - n_import):.1f}%)")
    print(f"exported models ORT passes (any original): {n_exp_ok}")
    for t in FALLBACKS:
        ok = bad = refused = 0
        bad_names = []
        for name, _, _, _, _ in todo:
            r = results.get(name, {})
            if r.get("original", "x") is not None:
                continue
            if (name, t) not in status or status[(name, t)] is not None:
                refused += 1
            elif r.get(t, "missing") is None:
                ok += 1
            else:
                bad += 1
                bad_names.append(name)
        print(f"downgrade to opset {t} (cases ORT passes on the original): {ok} pass, {refused} refused by check(), {bad} exported but fail")
        if bad_names:
            print("    " + " ".join(bad_names[:40]))
    print(f"wins (ORT fails the original, passes an export at opset {'/'.join(FALLBACKS)}): {n_wins}")
    if args.check:
        for r in regressions:
            print(f"REGRESSION: {r}")
        print(f"ort: {n_rt} passed, {len(regressions)} failed")
        if regressions:
            sys.exit(1)


if __name__ == "__main__":
    main()
