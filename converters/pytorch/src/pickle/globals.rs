//! The allow-list: which `module.name` globals a pickle may name, and what calling one (REDUCE,
//! NEWOBJ) builds. Nothing is imported or executed; an allowed callable is evaluated by hand
//! here, and anything else is an error that names it.

use super::value::{Global, StorageRef, TensorRef, Value};
use edgeport_ir::DType;
use std::rc::Rc;

/// Legacy typed storage classes (`torch.<X>Storage`) and their element types.
fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        "ComplexFloatStorage" => DType::C64,
        "ComplexDoubleStorage" => DType::C128,
        _ => return None,
    })
}

/// `torch.<dtype>` globals.
pub fn torch_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float32" | "float" => DType::F32,
        "float64" | "double" => DType::F64,
        "float16" | "half" => DType::F16,
        "bfloat16" => DType::BF16,
        "int64" | "long" => DType::I64,
        "int32" | "int" => DType::I32,
        "int16" | "short" => DType::I16,
        "int8" => DType::I8,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "bool" => DType::Bool,
        "complex64" | "cfloat" => DType::C64,
        "complex128" | "cdouble" => DType::C128,
        "float8_e4m3fn" => DType::F8E4M3FN,
        "float8_e4m3fnuz" => DType::F8E4M3FNUZ,
        "float8_e5m2" => DType::F8E5M2,
        "float8_e5m2fnuz" => DType::F8E5M2FNUZ,
        "float8_e8m0fnu" => DType::F8E8M0,
        _ => return None,
    })
}

/// Resolves `GLOBAL module name`, or says why it is refused.
pub fn resolve(module: &str, name: &str, script_classes: bool) -> Result<Global, String> {
    let g = match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_tensor_v3") => Global::RebuildTensorV3,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch", "Size") => Global::TorchSize,
        ("torch.jit._pickle", "restore_type_tag") => Global::RestoreTypeTag,
        ("builtins" | "__builtin__", "set") => Global::Set,
        ("builtins" | "__builtin__", "frozenset") => Global::FrozenSet,
        ("torch", "Tensor") | ("torch.nn.parameter", "Parameter") | ("torch._tensor", "Tensor") => {
            Global::TensorClass(format!("{module}.{name}"))
        }
        ("torch.storage", "UntypedStorage") | ("torch", "UntypedStorage") => Global::Storage(DType::U8),
        ("torch", n) if storage_dtype(n).is_some() => Global::Storage(storage_dtype(n).unwrap_or(DType::U8)),
        ("torch", n) if torch_dtype(n).is_some() => Global::Dtype(torch_dtype(n).unwrap_or(DType::F32)),
        (m, n) if script_classes && (m == "__torch__" || m.starts_with("__torch__.")) => Global::ScriptClass(format!("{m}.{n}")),
        _ => {
            return Err(format!(
                "GLOBAL {module}.{name} is not allowed (only tensor rebuild functions, storages, dtypes and plain containers are)"
            ));
        }
    };
    Ok(g)
}

fn int_list(v: &Value, what: &str) -> Result<Vec<i64>, String> {
    let items = v
        .as_seq()
        .ok_or_else(|| format!("{what} is a {}, expected a tuple of ints", v.kind()))?;
    items
        .iter()
        .map(|x| x.as_int().ok_or_else(|| format!("{what} holds a {}, expected ints", x.kind())))
        .collect()
}

fn tensor_from(storage: &Value, offset: &Value, sizes: &Value, strides: &Value, dtype: Option<DType>) -> Result<Value, String> {
    let Value::Storage(st) = storage else {
        return Err(format!("tensor rebuild: storage argument is a {}", storage.kind()));
    };
    let offset = offset
        .as_int()
        .filter(|&o| o >= 0)
        .ok_or("tensor rebuild: storage offset is not a non-negative int")?;
    let sizes = int_list(sizes, "tensor sizes")?;
    let strides = int_list(strides, "tensor strides")?;
    if sizes.len() != strides.len() {
        return Err(format!("tensor rebuild: {} sizes but {} strides", sizes.len(), strides.len()));
    }
    if sizes.iter().any(|&s| s < 0) {
        return Err(format!("tensor rebuild: negative size in {sizes:?}"));
    }
    let dtype = dtype.unwrap_or(st.dtype);
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage: StorageRef { ..st.clone() },
        dtype,
        offset: offset as u64,
        sizes: sizes.iter().map(|&s| s as u64).collect(),
        strides,
    })))
}

/// Evaluates `callable(*args)` for an allowed callable.
pub fn call(g: &Global, args: &Value) -> Result<Value, String> {
    let a: &[Value] = match args {
        Value::Tuple(t) => t,
        other => return Err(format!("REDUCE arguments are a {}, expected a tuple", other.kind())),
    };
    let need = |n: usize| -> Result<(), String> {
        if a.len() < n {
            Err(format!("{g:?} takes at least {n} arguments, got {}", a.len()))
        } else {
            Ok(())
        }
    };
    match g {
        Global::RebuildTensorV2 => {
            need(4)?;
            tensor_from(&a[0], &a[1], &a[2], &a[3], None)
        }
        Global::RebuildTensorV3 => {
            need(7)?;
            let Value::Global(Global::Dtype(dt)) = &a[6] else {
                return Err(format!("_rebuild_tensor_v3: dtype argument is a {}", a[6].kind()));
            };
            tensor_from(&a[0], &a[1], &a[2], &a[3], Some(*dt))
        }
        Global::RebuildParameter | Global::RebuildParameterWithState => {
            need(1)?;
            match &a[0] {
                t @ Value::Tensor(_) => Ok(t.clone()),
                other => Err(format!("_rebuild_parameter of a {}", other.kind())),
            }
        }
        Global::RebuildFromTypeV2 => {
            need(3)?;
            let Value::Global(inner) = &a[0] else {
                return Err(format!("_rebuild_from_type_v2: function argument is a {}", a[0].kind()));
            };
            match &a[1] {
                Value::Global(Global::TensorClass(_)) => {}
                other => return Err(format!("_rebuild_from_type_v2 to {} is not allowed", other.kind())),
            }
            call(inner, &a[2])
        }
        Global::OrderedDict => {
            let mut items = Vec::new();
            if let Some(Value::List(l) | Value::Tuple(l)) = a.first() {
                for p in l.iter() {
                    match p.as_seq() {
                        Some([k, v]) => items.push((k.clone(), v.clone())),
                        _ => return Err("OrderedDict argument is not a list of pairs".into()),
                    }
                }
            }
            Ok(Value::Dict(Rc::new(items)))
        }
        Global::TorchSize => match a.first() {
            Some(Value::Tuple(t) | Value::List(t)) => Ok(Value::Tuple(t.clone())),
            None => Ok(Value::Tuple(Rc::new(vec![]))),
            Some(o) => Err(format!("torch.Size of a {}", o.kind())),
        },
        Global::RestoreTypeTag => {
            need(1)?;
            Ok(a[0].clone())
        }
        Global::Set | Global::FrozenSet => match a.first() {
            Some(Value::Tuple(t) | Value::List(t) | Value::Set(t)) => Ok(Value::Set(t.clone())),
            None => Ok(Value::Set(Rc::new(vec![]))),
            Some(o) => Err(format!("set of a {}", o.kind())),
        },
        other => Err(format!(
            "REDUCE on {other:?} is not allowed (it is not a callable the reader evaluates)"
        )),
    }
}
