//! # edgeport-passes — graph passes
//!
//! A [`Pass`] rewrites a graph and says whether it changed anything. A [`Manager`] runs a
//! pipeline of passes, times each one, and can validate the graph between passes so a broken
//! pass is caught where it happens. Pipelines are named lists (`"dce,fold,identity"`) that come
//! from CLI flags, target profiles or TOML files; [`registry`] maps names to passes.
//!
//! Passes here (one file each): `dce` (dead code), `identity` (Identity removal), `fold`
//! (constant folding on the reference evaluator), `cse` (common subexpressions), `shapes`
//! (static shapes: Shape/Size of known dims to constants, fold and re-infer until settled),
//! `fold_bn` (BatchNormalization into the preceding Conv/ConvTranspose/Gemm, or into Mul+Add),
//! `nhwc`/`nhwc-io` (NCHW → NHWC layout, see [`layout`]);
//! `prune` (structured, magnitude and N:M pruning, a directory of its own).

mod cse;
mod dce;
mod fold;
mod fold_bn;
mod identity;
pub mod layout;
mod manager;
pub mod prune;
mod shapes;

pub use cse::Cse;
pub use dce::Dce;
pub use fold::FoldConstants;
pub use fold_bn::FoldBatchNorm;
pub use identity::RemoveIdentity;
pub use layout::{LayoutOptions, LayoutReport, Nchw, Nhwc, to_channels_first, to_channels_last};
pub use manager::{Changed, Context, Manager, Pass, PassError, PassReport, registry};
pub use shapes::StaticShapes;
pub mod quantize;
