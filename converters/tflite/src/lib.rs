//! # edgeport-tflite — TFLite (LiteRT) import and export
//!
//! `codes` holds the schema's enum numbers (builtin operators, tensor types, options union ids,
//! activation and padding enums); `import` reads a `.tflite` flatbuffer into the IR; `export`
//! writes one.

#[doc(hidden)]
pub mod enum_macro;

pub mod codes;
pub mod error;
pub mod export;
pub mod fb;
pub mod import;

pub use import::{ImportOptions, import_bytes, import_data, import_path, import_path_with};
pub mod model;

pub use error::{OpIssue, TfliteError};
