//! layout ops (see ops/mod.rs for the grouping): the tensor family's shape, index, gather/scatter,
//! pad, split/concat and unique ops, `Flatten`, and the generator, sequence and optional
//! families. Every rearranging op works on all dtypes at once through the helpers in `common`.
//!
//! | file | ops |
//! |---|---|
//! | `shape` | Reshape, Shape, Size, Squeeze, Unsqueeze, Flatten, Identity, Transpose, DepthToSpace, SpaceToDepth, Tile |
//! | `slice` | Slice, Compress, ReverseSequence, Trilu |
//! | `index` | Gather, GatherElements, GatherND, NonZero, OneHot |
//! | `scatter` | ScatterElements, ScatterND, TensorScatter |
//! | `pad` | Pad, CenterCropPad |
//! | `split_concat` | Split, Concat |
//! | `unique` | Unique |
//! | `generator` | ConstantOfShape, EyeLike, Range, random ops |
//! | `sequence` | the sequence family |
//! | `optional` | the optional family |

pub(crate) mod common;
mod generator;
mod index;
mod optional;
mod pad;
mod scatter;
mod sequence;
mod shape;
mod slice;
mod split_concat;
mod unique;

use super::OpResult;
use crate::interp::NodeCtx;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::Op;

/// One tensor output.
fn one(t: Tensor) -> OpResult {
    Ok(vec![Value::Tensor(t)])
}

/// Runs the op if it belongs to this group.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    let cx: &NodeCtx<'_> = cx;
    Some(match op {
        // shape
        Op::Reshape(o) => shape::reshape(o, cx),
        Op::Shape(o) => shape::shape(o, cx),
        Op::Size(_) => shape::size(cx),
        Op::Squeeze(_) => shape::squeeze(cx),
        Op::Unsqueeze(_) => shape::unsqueeze(cx),
        Op::Flatten(o) => shape::flatten(o, cx),
        Op::Identity(_) => shape::identity(cx),
        Op::Transpose(o) => shape::transpose(o, cx),
        Op::DepthToSpace(o) => shape::depth_to_space(o, cx),
        Op::SpaceToDepth(o) => shape::space_to_depth(o, cx),
        Op::Tile(_) => shape::tile(cx),
        // slice
        Op::Slice(_) => slice::slice(cx),
        Op::Compress(o) => slice::compress(o, cx),
        Op::ReverseSequence(o) => slice::reverse_sequence(o, cx),
        Op::Trilu(o) => slice::trilu(o, cx),
        // index
        Op::Gather(o) => index::gather(o, cx),
        Op::GatherElements(o) => index::gather_elements(o, cx),
        Op::GatherND(o) => index::gather_nd(o, cx),
        Op::NonZero(_) => index::nonzero(cx),
        Op::OneHot(o) => index::one_hot(o, cx),
        // scatter
        Op::ScatterElements(o) => scatter::scatter_elements(o, cx),
        Op::ScatterND(o) => scatter::scatter_nd(o, cx),
        Op::TensorScatter(o) => scatter::tensor_scatter(o, cx),
        // pad
        Op::Pad(o) => pad::pad(o, cx),
        Op::CenterCropPad(o) => pad::center_crop_pad(o, cx),
        // split / concat
        Op::Split(o) => split_concat::split(o, cx),
        Op::Concat(o) => split_concat::concat(o, cx),
        Op::Unique(o) => unique::unique(o, cx),
        // generator
        Op::ConstantOfShape(o) => generator::constant_of_shape(o, cx),
        Op::EyeLike(o) => generator::eye_like(o, cx),
        Op::Range(_) => generator::range(cx),
        Op::RandomUniform(o) => generator::random_uniform(o, cx),
        Op::RandomUniformLike(o) => generator::random_uniform_like(o, cx),
        Op::RandomNormal(o) => generator::random_normal(o, cx),
        Op::RandomNormalLike(o) => generator::random_normal_like(o, cx),
        Op::Bernoulli(o) => generator::bernoulli(o, cx),
        Op::Multinomial(o) => generator::multinomial(o, cx),
        // sequence
        Op::SequenceEmpty(o) => sequence::sequence_empty(o, cx),
        Op::SequenceConstruct(_) => sequence::sequence_construct(cx),
        Op::SequenceAt(_) => sequence::sequence_at(cx),
        Op::SequenceErase(_) => sequence::sequence_erase(cx),
        Op::SequenceInsert(_) => sequence::sequence_insert(cx),
        Op::SequenceLength(_) => sequence::sequence_length(cx),
        Op::SplitToSequence(o) => sequence::split_to_sequence(o, cx),
        Op::ConcatFromSequence(o) => sequence::concat_from_sequence(o, cx),
        Op::SequenceMap(o) => sequence::sequence_map(o, cx),
        // optional
        Op::Optional(o) => optional::optional(o, cx),
        Op::OptionalHasElement(_) => optional::optional_has_element(cx),
        Op::OptionalGetElement(_) => optional::optional_get_element(cx),
        _ => return None,
    })
}
