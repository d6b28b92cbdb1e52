//! Finding, loading and running node-test cases.

use crate::compare::{Tolerance, compare_values};
use edgeport_eval::{Tensor, Value};
use edgeport_ir::{DType, Graph, ValueType};
use edgeport_onnx::decode::{Ctx, DataValue, ExternalData, decode_data_file};
use std::path::{Path, PathBuf};

/// Where the unpacked ONNX backend test data is.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// `$EDGEPORT_ONNX_DATA`, else `<repo>/.cache/onnx-1.22.0/data` (made by `tests/setup.sh`).
    pub fn locate() -> Option<DataDir> {
        if let Ok(p) = std::env::var("EDGEPORT_ONNX_DATA") {
            let p = PathBuf::from(p);
            return p.join("node").is_dir().then_some(DataDir(p));
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = repo.join(".cache/onnx-1.22.0/data");
        p.join("node").is_dir().then_some(DataDir(p))
    }
    /// Node-test case folders, sorted.
    pub fn node_cases(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.0.join("node"))
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("model.onnx").exists())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
    /// The light real-model tests: (name, model path, expected output path).
    pub fn light_cases(&self) -> Vec<(String, PathBuf, PathBuf)> {
        let dir = self.0.join("light");
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
                    .map(|p| {
                        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
                        let out = dir.join(format!("{stem}_output_0.pb"));
                        (stem, p, out)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A loaded case: the model and its data sets.
pub struct Case {
    pub name: String,
    pub graph: Graph,
    /// (inputs, expected outputs) per data set.
    pub data: Vec<(Vec<Value>, Vec<Value>)>,
}

fn data_to_value(d: DataValue, ty: Option<&ValueType>) -> Result<Value, String> {
    Ok(match d {
        DataValue::Tensor(t) => Value::Tensor(Tensor::from_ir(&t).map_err(|e| e.to_string())?),
        DataValue::Sequence(items, _) => {
            let elem = match ty {
                Some(ValueType::Sequence(e)) => e.as_tensor().map(|t| t.dtype),
                _ => None,
            };
            let mut ts = Vec::new();
            for it in items {
                match data_to_value(it, None)? {
                    Value::Tensor(t) => ts.push(t),
                    other => return Err(format!("nested sequence element {} not supported", other.describe())),
                }
            }
            let dt = elem.or_else(|| ts.first().map(|t| t.dtype())).unwrap_or(DType::F32);
            Value::Sequence(ts, dt)
        }
        DataValue::Optional(inner) => {
            let inner_ty = match ty {
                Some(ValueType::Optional(e)) => Some(e.as_ref()),
                _ => None,
            };
            Value::Optional(
                inner.map(|v| data_to_value(*v, inner_ty).map(Box::new)).transpose()?,
                inner_ty.cloned(),
            )
        }
    })
}

fn read_value(path: &Path, ty: Option<&ValueType>) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path.display().to_string();
    let ext = ExternalData { base: None };
    let d = decode_data_file(&bytes, ty, &Ctx { file: &file, ext: &ext }).map_err(|e| e.to_string())?;
    data_to_value(d, ty)
}

/// Declared types of a graph's inputs and outputs.
fn io_types(g: &Graph) -> (Vec<Option<ValueType>>, Vec<Option<ValueType>>) {
    let ins = g.inputs().iter().map(|&n| g.node(n).outputs[0].ty.clone()).collect();
    let outs = g.outputs().iter().map(|(_, v)| g.value(*v).and_then(|x| x.ty.clone())).collect();
    (ins, outs)
}

/// Loads a node-test case folder.
pub fn load_case(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let graph = edgeport_onnx::import_path(&dir.join("model.onnx"), &Default::default()).map_err(|e| format!("import: {e}"))?;
    let (in_tys, out_tys) = io_types(&graph);
    let mut sets: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("test_data_set")))
        .collect();
    sets.sort();
    let mut data = Vec::new();
    for s in sets {
        let mut ins = Vec::new();
        for (i, ty) in in_tys.iter().enumerate() {
            let p = s.join(format!("input_{i}.pb"));
            if !p.exists() {
                break;
            }
            ins.push(read_value(&p, ty.as_ref())?);
        }
        let mut outs = Vec::new();
        for (i, ty) in out_tys.iter().enumerate() {
            outs.push(read_value(&s.join(format!("output_{i}.pb")), ty.as_ref())?);
        }
        data.push((ins, outs));
    }
    Ok(Case { name, graph, data })
}

/// Runs a case on the evaluator; `Err` is the one-line reason it fails.
pub fn run_case_eval(dir: &Path) -> Result<(), String> {
    let case = load_case(dir)?;
    run_loaded(&case)
}

/// Runs an already loaded case.
pub fn run_loaded(case: &Case) -> Result<(), String> {
    edgeport_ir::validate::validate(&case.graph).map_err(|e| format!("validate: {e}"))?;
    for (k, (ins, want)) in case.data.iter().enumerate() {
        let got = edgeport_eval::run_graph(&case.graph, ins.clone()).map_err(|e| format!("eval: {e}"))?;
        if got.len() != want.len() {
            return Err(format!("{} outputs, expected {}", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            compare_values(g, w, Tolerance::default()).map_err(|e| format!("data set {k} output {i}: {e}"))?;
        }
    }
    Ok(())
}

/// Runs a light real-model test: the input is `arange(n).reshape(shape) / n` in f32 (unknown
/// dims as 1), as onnx's backend runner generates it; the expected output ships beside the model.
pub fn run_light(model: &Path, expected: &Path) -> Result<(), String> {
    let graph = edgeport_onnx::import_path(model, &Default::default()).map_err(|e| format!("import: {e}"))?;
    let (in_tys, out_tys) = io_types(&graph);
    let mut ins = Vec::new();
    for ty in &in_tys {
        ins.push(light_input(ty.as_ref())?);
    }
    let want = read_value(expected, out_tys.first().and_then(|t| t.as_ref()))?;
    let got = edgeport_eval::run_graph(&graph, ins).map_err(|e| format!("eval: {e}"))?;
    compare_values(&got[0], &want, Tolerance { rtol: 1e-3, atol: 1e-5 })
}

/// The input the light tests use.
fn light_input(ty: Option<&ValueType>) -> Result<Value, String> {
    let t = ty.and_then(|t| t.as_tensor()).ok_or("light model input without a tensor type")?;
    let shape: Vec<usize> = t
        .shape
        .as_ref()
        .map(|s| s.0.iter().map(|d| d.known().unwrap_or(1) as usize).collect())
        .unwrap_or_default();
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| (i as f64 / n as f64) as f32 as f64).collect();
    Tensor::from_f64(t.dtype, &shape, v).map(Value::Tensor).map_err(|e| e.to_string())
}
