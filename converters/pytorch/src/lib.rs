//! # edgeport-pytorch — PyTorch files read as data
//!
//! No Python, and no pickle is ever executed: [`pickle`] is an allow-listing reader that builds
//! plain values and refuses every global it does not know.
//!
//! - [`load_weights`]: `.pt`/`.pth`/`.bin` state dicts (zip or legacy torch.save) and
//!   `.safetensors`, as named IR tensors (zero-copy views of the memory-mapped file).
//! - [`rebind`]: puts such weights onto a graph's constants by parameter name.
//! - [`export_weights`]: writes a graph's constants as a safetensors file.
//! - [`import_pt2`]: `torch.export` programs (`.pt2`, all three archive layouts) into the IR.
//! - [`import_torchscript`]: TorchScript `.pt` archives (traced and simple scripted modules):
//!   the serialized source is parsed and run symbolically into the IR.
//! - [`zip`]: the strict zip reader all of these share.

pub mod error;
pub mod export_program;
mod file;
pub mod pickle;
pub mod safetensors_io;
pub mod storage;
pub mod torch_save;
pub mod torchscript;
pub mod weights;
pub mod zip;

pub use error::{Error, Result};
pub use export_program::import_pt2;
pub use safetensors_io::export_weights;
pub use torchscript::{TsOptions, import_torchscript, is_torchscript_file};
pub use weights::{RebindReport, load_weights, rebind};
