//! Writes a matched erf-GELU (see `gelu.rs`) as one GELU op in the order its input is held.

use super::super::lower::{LResult, Lower, opts};
use super::super::model::Field;
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O};
use edgeport_ir::{NodeId, ValueId};

pub(crate) fn gelu(cx: &mut Lower, id: NodeId, x: ValueId) -> LResult<()> {
    let r = cx.repr(x)?;
    let yt = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
    cx.emit(B::GELU, vec![r.t], vec![yt], Some(opts(O::GeluOptions).with(0, Field::Bool(false))));
    Ok(())
}
