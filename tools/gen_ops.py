"""Generate the IR's op list (ir/src/ops/defs/*.rs) from the ONNX operator schemas.

The IR's reference semantics are the ONNX operators (see DESIGN.md), so the list of ops, their
typed attributes with defaults, their formal inputs/outputs and type constraints are taken from
the schemas that the pinned `onnx` wheel registers. The generated files are committed and are the
project's single op list; re-run this script only when moving to a newer ONNX release:

    python tools/gen_ops.py            # needs onnx==1.22.0 (see tests/requirements.txt)

Hand-made additions (IR-only ops such as Input, layout fields) live in ir/src/ops/extra.rs.
"""
import os
import re
import onnx
import onnx.defs as d
import numpy as np
from onnx import AttributeProto as AP, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "ir", "src", "ops", "defs")

# Ops outside the default domain that the ONNX backend node tests exercise.
EXTRA = [
    ("ai.onnx.ml", "ArrayFeatureExtractor"), ("ai.onnx.ml", "Binarizer"),
    ("ai.onnx.ml", "LabelEncoder"), ("ai.onnx.ml", "TreeEnsemble"),
    ("ai.onnx.preview.training", "Adagrad"), ("ai.onnx.preview.training", "Adam"),
    ("ai.onnx.preview.training", "Momentum"), ("ai.onnx.preview", "FlexAttention"),
]

# Layout-sensitive ops carry their layout explicitly (an IR-only attribute; ONNX is channels-first).
LAYOUT_OPS = {
    "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv", "AveragePool", "MaxPool",
    "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "MaxUnpool", "MaxRoiPool",
    "BatchNormalization", "InstanceNormalization", "LRN", "Resize", "DepthToSpace",
    "SpaceToDepth", "RoiAlign", "GridSample", "Col2Im", "AffineGrid",
}

TY = {
    "float": "f32", "double": "f64", "float16": "f16", "bfloat16": "bf16", "int8": "i8",
    "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16",
    "uint32": "u32", "uint64": "u64", "bool": "bool", "string": "string",
    "complex64": "c64", "complex128": "c128", "float8e4m3fn": "f8e4m3fn",
    "float8e4m3fnuz": "f8e4m3fnuz", "float8e5m2": "f8e5m2", "float8e5m2fnuz": "f8e5m2fnuz",
    "uint4": "u4", "int4": "i4", "float4e2m1": "f4e2m1", "float8e8m0": "f8e8m0",
    "uint2": "u2", "int2": "i2",
}


def short_type(t):
    m = re.fullmatch(r"(\w+)\((.*)\)", t)
    if not m:
        return TY.get(t, t)
    kind, inner = m.groups()
    k = {"tensor": "", "seq": "seq", "optional": "opt", "sparse_tensor": "sparse", "map": "map"}[kind]
    if kind == "map":
        a, b = inner.split(",", 1)
        return f"map({TY.get(a.strip(), a)},{short_type(b.strip())})"
    return short_type(inner) if k == "" else f"{k}({short_type(inner)})"


def rust_ident(name):
    return {"type": "r#type", "mod": "r#mod", "loop": "r#loop", "if": "r#if", "in": "r#in"}.get(name, name)


def attr_field(a):
    t = a.type
    dv = a.default_value
    has = dv is not None and dv.type != AP.UNDEFINED and dv.name != ""
    rty = {
        AP.INT: "i64", AP.FLOAT: "f32", AP.STRING: "String", AP.INTS: "Vec<i64>",
        AP.FLOATS: "Vec<f32>", AP.STRINGS: "Vec<String>", AP.TENSOR: "Tensor",
        AP.SPARSE_TENSOR: "Tensor", AP.GRAPH: "Box<Graph>", AP.TYPE_PROTO: "ValueType",
        AP.TENSORS: "Vec<Tensor>", AP.GRAPHS: "Vec<Graph>",
    }[t]
    if has:
        v = helper.get_attribute_value(dv)
        if t == AP.INT:
            return rty, f"{v}"
        if t == AP.FLOAT:
            s = repr(float(np.float32(v)))
            if len(s) > 12:
                s = str(np.float32(v))
            if s == "inf":
                s = "f32::INFINITY"
            elif s == "-inf":
                s = "f32::NEG_INFINITY"
            return rty, s
        if t == AP.STRING:
            return rty, f"{v.decode()!r}.to_string()".replace("'", '"')
        if t == AP.INTS:
            return rty, f"vec!{list(v)}"
        if t == AP.FLOATS:
            return rty, f"vec!{[float(x) for x in v]}"
        if t == AP.STRINGS:
            return rty, "vec![" + ", ".join(f'"{x.decode()}".to_string()' for x in v) + "]"
        raise SystemExit(f"no default form for {a.name}")
    if a.required:
        return rty, None
    if t in (AP.INTS, AP.FLOATS, AP.STRINGS, AP.TENSORS, AP.GRAPHS):
        return rty, "vec![]"
    return f"Option<{rty}>", "None"


def param(p, kind):
    opt = {"Single": "", "Optional": "?", "Variadic": "..."}[p.option.name]
    if p.option.name == "Variadic" and not p.is_homogeneous:
        opt = "...*"
    return f'"{p.name}{opt}:{p.type_str}"'


def family(s):
    if s.domain == "ai.onnx.ml":
        return "ml"
    if s.domain.startswith("ai.onnx.preview"):
        return "training"
    fam = s.file.replace("\\", "/").split("/")[-2]
    return {"object_detection": "detection"}.get(fam, fam)


def emit(s):
    doc = (s.doc or "").strip().splitlines()
    first = next((l.strip() for l in doc if l.strip()), s.name)
    first = re.sub(r"\s+", " ", first)[:160].replace("\\", "")
    lines = [f"    /// {first}", f"    ///", f"    /// ONNX `{s.domain or 'ai.onnx'}::{s.name}`, since opset {s.since_version}."]
    types = []
    for tc in s.type_constraints:
        types.append(f'"{tc.type_param_str}=' + "|".join(sorted(short_type(t) for t in tc.allowed_type_strs)) + '"')
    ins = ", ".join(param(p, "in") for p in s.inputs)
    outs = ", ".join(param(p, "out") for p in s.outputs)
    if s.name == "Constant" and s.domain == "":
        fields = [("value", "Tensor", None)]
    else:
        fields = []
        for a in sorted(s.attributes.values(), key=lambda a: a.name):
            rty, dv = attr_field(a)
            fields.append((a.name, rty, dv))
    if s.name in LAYOUT_OPS and s.domain == "":
        fields.append(("layout", "Layout", "Layout::ChannelsFirst"))
    lines.append(f'    {s.name} {{ domain: "{s.domain}", since: {s.since_version},')
    lines.append(f"        inputs: [{ins}],")
    lines.append(f"        outputs: [{outs}],")
    lines.append(f"        types: [{', '.join(types)}],")
    if fields:
        lines.append("        attrs: {")
        for n, t, dv in fields:
            lines.append(f"            {rust_ident(n)}: {t}" + (f" = {dv}" if dv is not None else "") + ",")
        lines.append("        }")
    else:
        lines.append("        attrs: {}")
    lines.append("    }")
    return "\n".join(lines)


# Ops whose attribute structs are hundreds of bytes: held boxed in `Op` so graph nodes stay small.
BOXED = {"LabelEncoder", "TreeEnsemble", "TfIdfVectorizer"}


def main():
    schemas = [s for s in d.get_all_schemas() if s.domain == "" and not s.deprecated]
    for dom, name in EXTRA:
        schemas.append(d.get_schema(name, 100, dom))
    fams = {}
    for s in sorted(schemas, key=lambda s: s.name):
        fams.setdefault(family(s), []).append(s)
    os.makedirs(OUT, exist_ok=True)
    listing = []
    for fam, ss in sorted(fams.items()):
        body = "\n".join(emit(s) for s in ss)
        with open(os.path.join(OUT, f"{fam}.rs"), "w") as f:
            f.write(f"//! ONNX `{fam}` op family: typed attributes, formal inputs/outputs and type constraints.\n")
            f.write(f"//!\n//! Generated by `tools/gen_ops.py` from onnx {onnx.__version__}; edit by hand only to add\n")
            f.write("//! IR-specific fields, and keep the generator in step.\n\n")
            f.write("#![allow(clippy::all, non_snake_case)]\n\n#[allow(unused_imports)]\nuse crate::ops::prelude::*;\n\n")
            f.write("crate::op_family! {\n" + body + "\n}\n")
        listing.append((fam, [s.name for s in ss]))
    with open(os.path.join(OUT, "mod.rs"), "w") as f:
        f.write("//! The op list: every IR op by family. Generated by `tools/gen_ops.py`; the `define_ops!`\n")
        f.write("//! invocation below is the single list from which `Op`, `OpKind` and the schema table come.\n\n")
        for fam, _ in listing:
            f.write(f"pub mod {fam};\n")
        f.write("\ncrate::define_ops! {\n")
        for fam, names in listing:
            marked = [f"#[boxed] {n}" if n in BOXED else n for n in names]
            f.write(f"    {fam}: [{', '.join(marked)}],\n")
        f.write("}\n")
    print(sum(len(n) for _, n in listing), "ops in", len(listing), "families")


if __name__ == "__main__":
    main()
