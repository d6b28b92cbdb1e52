//! The text form: a stable, human-readable print of a graph that parses back.
//!
//! ```
//! # use edgeport_ir::text::{parse_graph, print_graph};
//! let text = r#"graph "tiny" {
//!   input %x: f32[N,3]
//!   %w: f32[3,2] = Constant[value=f32[3,2] {0.5, 1.0, -2.0, 0.0, 3.0, 1.0}]()
//!   %y: f32[N,2] = MatMul(%x, %w)
//!   %m, _ = Dropout[seed=7](%y, _, _) #"drop_1"
//!   output "y" = %y
//! }
//! "#;
//! let g = parse_graph(text).unwrap();
//! assert_eq!(print_graph(&g), text);
//! ```
//!
//! - One statement per line; nodes in topological order (ties by id), so printing is stable.
//! - Values are `%name`, or `%"any name"` when the name has other characters; `_` is an empty
//!   input slot or an unnamed output.
//! - `: type` after an output is its inferred/declared type (`f32[N,3]`; `f32` alone when the
//!   rank is unknown; `?` an unknown dim; `"any text"` a symbol that is not an identifier;
//!   `seq<..>`, `opt<..>`, `sparse<..>`, `map<k,v>`); `q(...)` its quantization.
//! - Attributes in `[...]` list only required ones and those that differ from the default:
//!   `3` int, `0.5`/`inf`/`nan` float, `"s"` string, `[1, 2]` ints, `[0.5]` floats, `["a"]`
//!   strings (empty lists `ints[]`, `floats[]`, `strings[]`), a tensor, `tensors[t, ...]`,
//!   `graph "g" {...}`, `graphs[...]`, `type <type>`.
//! - Tensors: `dtype[shape] {values}` inline up to a size limit, else `dtype[shape] @"key"`
//!   referring to a weights table (the IR bundle's safetensors file). Floats print so that they
//!   read back exactly; packed, complex and 8-bit float types print raw bytes `0xhh`; strings
//!   print quoted, with bytes that are not UTF-8 as `\x{hh}`.
//! - A node whose name differs from its first output's name carries `#"node name"`.
//! - Subgraphs print nested: `body=graph "b" { capture %outer ... }`.
//! - Domain-qualified custom ops print as `custom "domain"::"Name"[...]`.
//! - Capture slots of a node with subgraphs follow a `|`: `If(%c | %a, %b)`.
//!
//! Whitespace, line breaks included, only separates tokens. The invariant tested here is
//! `print(parse(print(g))) == print(g)`.

mod attrs;
mod lex;
mod parse;
mod print;
mod values;

pub use parse::{ParseError, parse_graph, parse_graph_with_weights};
pub use print::{PrintOptions, print_graph, print_graph_split, print_graph_with};
