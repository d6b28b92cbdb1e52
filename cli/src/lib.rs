//! # edgeport (CLI library)
//!
//! The logic behind the `edgeport` binary, usable from other tools: the format registry and
//! sniffing ([`formats`]), plugins ([`plugins`]), array I/O ([`io`]) and one module per command
//! ([`commands`]). Commands return report structs that print as text or serialize as JSON; only
//! `main.rs` parses arguments and prints.

pub mod alloc_tune;
pub mod calib;
pub mod commands;
pub mod formats;
pub mod inputs;
pub mod io;
pub mod memtrace;
pub mod plugins;

pub use formats::{Format, FormatError};
