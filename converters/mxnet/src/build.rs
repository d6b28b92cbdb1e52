//! The graph builder that op rules use: the shared import builder of `edgeport-ir`
//! ([`edgeport_ir::builder`]), named `Ctx` here.

pub use edgeport_ir::builder::{Attrs, Builder as Ctx, axis, float, int, ints, string};
