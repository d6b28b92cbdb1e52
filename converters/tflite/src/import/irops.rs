//! The IR op structs the rules build, gathered from the IR's per-family modules.

pub use edgeport_ir::ops::Layout;
pub use edgeport_ir::ops::defs::{controlflow::*, generator::*, logical::*, math::*, nn::*, quantization::*, reduction::*, tensor::*};
