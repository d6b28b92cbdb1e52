//! The legacy program: a `.pdmodel` (`ProgramDesc` protobuf) decoded into the neutral
//! [`Program`]. This is the only file touching the generated protobuf types of the program.
//!
//! Block 0 is the inference program. `feed` ops (attr `col`) define the inputs and `fetch` ops
//! the outputs. The persistable variables other than feed/fetch/reader/raw holders are the
//! parameters, stored in `.pdiparams` in sorted name order.

use crate::program::{Attr, Feed, Fetch, OpDesc, Program, VarInfo, dtype_from_code};
use edgeport_proto::paddle::{OpDesc as PbOp, ProgramDesc, op_desc};
use edgeport_proto::prost::Message;

/// VarType codes of variables that hold no tensor data in `.pdiparams`.
const NOT_PARAMS: [i32; 4] = [9, 10, 15, 17]; // FEED_MINIBATCH, FETCH_LIST, READER, RAW

/// Decodes a `.pdmodel` buffer. `file` names it in messages.
pub fn decode_program(buf: &[u8]) -> Result<Program, String> {
    let pd = ProgramDesc::decode(buf).map_err(|e| format!("cannot decode ProgramDesc: {e}"))?;
    let block = pd.blocks.first().ok_or("the program has no blocks")?;
    let mut prog = Program {
        version: pd.version.and_then(|v| v.version).map(|v| v.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    let mut params = Vec::new();
    for v in &block.vars {
        let (dtype, dims) = match v.r#type.lod_tensor.as_ref() {
            Some(lt) => (dtype_from_code(i64::from(lt.tensor.data_type)), Some(lt.tensor.dims.clone())),
            None => (None, None),
        };
        prog.vars.insert(v.name.clone(), VarInfo { dtype, dims });
        if v.persistable.unwrap_or(false) && !NOT_PARAMS.contains(&v.r#type.r#type) {
            params.push(v.name.clone());
        }
    }
    params.sort();
    params.dedup();
    prog.params = params.into_iter().map(|n| (n.clone(), n)).collect();
    for (index, op) in block.ops.iter().enumerate() {
        let desc = convert_op(op, index)?;
        match desc.ty.as_str() {
            "feed" => {
                let value = desc
                    .output_args("Out")
                    .first()
                    .cloned()
                    .ok_or_else(|| format!("feed op #{index} has no output"))?;
                let col = int_attr(&desc, "col").unwrap_or(prog.feeds.len() as i64);
                prog.feeds.push(Feed {
                    col,
                    name: value.clone(),
                    value,
                });
            }
            "fetch" => {
                let value = desc
                    .input_args("X")
                    .first()
                    .cloned()
                    .ok_or_else(|| format!("fetch op #{index} has no input"))?;
                let col = int_attr(&desc, "col").unwrap_or(prog.fetches.len() as i64);
                prog.fetches.push(Fetch {
                    col,
                    name: value.clone(),
                    value,
                });
            }
            _ => prog.ops.push(desc),
        }
    }
    prog.feeds.sort_by_key(|f| f.col);
    prog.fetches.sort_by_key(|f| f.col);
    Ok(prog)
}

fn int_attr(d: &OpDesc, name: &str) -> Option<i64> {
    match d.attr(name) {
        Some(Attr::Int(i)) => Some(*i),
        _ => None,
    }
}

fn convert_op(op: &PbOp, index: usize) -> Result<OpDesc, String> {
    let slots = |vs: &[op_desc::Var]| vs.iter().map(|v| (v.parameter.clone(), v.arguments.clone())).collect::<Vec<_>>();
    let mut attrs = Vec::with_capacity(op.attrs.len());
    for a in &op.attrs {
        if let Some(v) = convert_attr(a) {
            attrs.push((a.name.clone(), v));
        }
    }
    Ok(OpDesc {
        ty: op.r#type.clone(),
        file_ty: op.r#type.clone(),
        index,
        inputs: slots(&op.inputs),
        outputs: slots(&op.outputs),
        attrs,
    })
}

/// Converts one attribute; block/var attributes (control flow) are dropped, the rules of ops
/// that need them report them missing.
fn convert_attr(a: &op_desc::Attr) -> Option<Attr> {
    Some(match a.r#type {
        0 => Attr::Int(i64::from(a.i.unwrap_or(0))),
        1 => Attr::Float(f64::from(a.f.unwrap_or(0.0))),
        2 => Attr::Str(a.s.clone().unwrap_or_default()),
        3 => Attr::Ints(a.ints.iter().map(|&v| i64::from(v)).collect()),
        4 => Attr::Floats(a.floats.iter().map(|&v| f64::from(v)).collect()),
        5 => Attr::Strs(a.strings.clone()),
        6 => Attr::Bool(a.b.unwrap_or(false)),
        7 => Attr::Bools(a.bools.clone()),
        9 => Attr::Int(a.l.unwrap_or(0)),
        11 => Attr::Ints(a.longs.clone()),
        12 => Attr::Floats(a.float64s.clone()),
        15 => Attr::Float(a.float64.unwrap_or(0.0)),
        16 => {
            let s = a.scalar.as_ref()?;
            match s.r#type {
                1 => Attr::Bool(s.b.unwrap_or(false)),
                2 => Attr::Int(s.i.unwrap_or(0)),
                3 => Attr::Float(s.r.unwrap_or(0.0)),
                _ => return None,
            }
        }
        _ => return None,
    })
}
