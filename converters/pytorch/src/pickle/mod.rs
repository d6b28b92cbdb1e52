//! A safe pickle reader: it reads the opcodes torch writes (protocols 0–5) and builds plain
//! values. It never imports or calls anything: globals must be on a short allow-list (tensor
//! rebuild functions, storages, dtypes, OrderedDict, torch.Size, set), REDUCE evaluates only
//! those by hand, BUILD only applies to dicts, tensors and TorchScript module objects, and the
//! only persistent ids accepted are torch storage tuples.

mod globals;
pub mod value;
mod vm;

pub use globals::torch_dtype;
pub use value::{Global, StorageRef, TensorRef, Value};
pub use vm::Options;

use crate::error::{Error, Result};

/// Loads the pickle at the start of `data`; `file` names it in errors.
pub fn load(file: &str, data: &[u8], opts: &Options) -> Result<Value> {
    load_at(file, data, 0, opts).map(|(v, _)| v)
}

/// Loads the pickle starting at `start`; returns the value and the offset after it.
pub fn load_at(file: &str, data: &[u8], start: usize, opts: &Options) -> Result<(Value, usize)> {
    vm::load(data, start, opts).map_err(|e| Error::Pickle {
        file: file.to_string(),
        offset: e.offset,
        msg: e.msg,
    })
}
