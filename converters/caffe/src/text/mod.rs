//! A reader for the protobuf text format (what `deploy.prototxt` files are written in), driven
//! by a schema ([`schema::Schema`]): the text is tokenized ([`lexer`]), parsed against the
//! message types and written as protobuf wire data ([`parse`]), which prost then decodes into
//! the generated types. Errors carry the line and column.
//!
//! Accepted syntax: `name: value`, `name { … }` / `name: { … }` / `name < … >`, list values
//! `name: [a, b]`, repeated fields by repetition, enums by name or number, `true`/`false`/`t`/
//! `f`/`1`/`0`, integers in decimal/hex/octal, floats with `inf`/`nan` and an `f` suffix,
//! strings in `"…"` or `'…'` with C escapes (adjacent literals concatenate), `#` comments and
//! optional `,`/`;` separators. Fields the schema does not know (fillers, training-only params of
//! forks) are skipped with their whole value, so models from Caffe forks still read.

pub mod lexer;
pub mod parse;
pub mod schema;

/// A syntax or type error in a text-format file, with its position (1-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {col}: {msg}")]
pub struct TextError {
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

pub use parse::text_to_wire;
