//! `edgeport-frontend-demo`: an example frontend *plugin*. Put it on PATH and `edgeport` treats
//! `.demo` files as a format it can import. It depends on `edgeport-ir` alone and talks to the CLI
//! through the documented protocol (see `cli/src/plugins.rs`):
//!
//! - `edgeport-frontend-demo extensions` prints `demo`;
//! - `edgeport-frontend-demo import MODEL.demo OUT.epir` writes an IR bundle.
//!
//! The `.demo` format is a toy: one statement per line —
//! `input NAME D1 D2 …`, then layers `relu`, `sigmoid`, `tanh`, `scale FACTOR`, then
//! `output NAME`. Errors name the file and line and exit non-zero.

use edgeport_ir::ops::defs::math::{Mul, Relu, Sigmoid, Tanh};
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueId, ValueType};
use std::path::Path;
use std::process::ExitCode;

fn parse(path: &Path) -> Result<Graph, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut g = Graph::new(name);
    let mut cur: Option<ValueId> = None;
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("{}:{}: {m}", path.display(), i + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&head) = words.first() else { continue };
        let need = |c: Option<ValueId>| c.ok_or_else(|| at("a layer before any input"));
        match head {
            "#" => {}
            "input" => {
                let name = words.get(1).ok_or_else(|| at("input needs a name"))?;
                let dims = words[2..]
                    .iter()
                    .map(|d| d.parse::<u64>().map_err(|_| at(&format!("bad dim '{d}'"))))
                    .collect::<Result<Vec<_>, _>>()?;
                cur = Some(g.add_input(*name, Some(ValueType::tensor(DType::F32, Some(Shape::known(&dims))))));
            }
            "relu" | "sigmoid" | "tanh" => {
                let op = match head {
                    "relu" => Op::Relu(Relu {}),
                    "sigmoid" => Op::Sigmoid(Sigmoid {}),
                    _ => Op::Tanh(Tanh {}),
                };
                let n = format!("{head}_{i}");
                cur = Some(
                    g.add_op(n.clone(), op, &[Some(need(cur)?)], &[&n])
                        .map_err(|e| at(&e.to_string()))?
                        .out(0),
                );
            }
            "scale" => {
                let f: f32 = words
                    .get(1)
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| at("scale needs a number"))?;
                let c = g.add_constant(
                    format!("scale_{i}.factor"),
                    Tensor::from_f32(vec![], &[f]).map_err(|e| at(&e.to_string()))?,
                );
                let n = format!("scale_{i}");
                cur = Some(
                    g.add_op(n.clone(), Op::Mul(Mul {}), &[Some(need(cur)?), Some(c)], &[&n])
                        .map_err(|e| at(&e.to_string()))?
                        .out(0),
                );
            }
            "output" => {
                let name = words.get(1).ok_or_else(|| at("output needs a name"))?;
                g.add_output(*name, need(cur)?).map_err(|e| at(&e.to_string()))?;
            }
            other => return Err(at(&format!("unknown statement '{other}'"))),
        }
    }
    if g.outputs().is_empty() {
        return Err(format!("{}: no output", path.display()));
    }
    Ok(g)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["extensions"] => {
            println!("demo");
            ExitCode::SUCCESS
        }
        ["import", model, out] => match parse(Path::new(model))
            .and_then(|g| edgeport_ir::bundle::write_bundle(&g, Path::new(out)).map_err(|e| format!("{out}: {e}")))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(3)
            }
        },
        _ => {
            eprintln!("usage: edgeport-frontend-demo extensions | import MODEL.demo OUT.epir");
            ExitCode::from(2)
        }
    }
}
