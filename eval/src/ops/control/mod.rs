//! Control-flow, recurrent, text, ai.onnx.ml and training ops (see ops/mod.rs for the grouping).
//!
//! | file | ops |
//! |---|---|
//! | `if_.rs`, `loop_.rs`, `scan.rs` | `If`, `Loop`, `Scan` (subgraphs run through [`NodeCtx::run_subgraph`]) |
//! | `rnn.rs`, `gru.rs`, `lstm.rs` | `RNN`, `GRU`, `LSTM` (shared loading/activation code in `rnn.rs`) |
//! | `text.rs` | `RegexFullMatch`, `StringConcat`, `StringNormalizer`, `StringSplit` |
//! | `ml.rs`, `tree.rs` | `ArrayFeatureExtractor`, `Binarizer`, `LabelEncoder`, `TreeEnsemble` |
//! | `training.rs`, `flex.rs` | `Adagrad`, `Adam`, `Momentum`, `FlexAttention` |
//! | `stack.rs` | helpers: stacking, slicing and concatenating tensors of any dtype |

mod flex;
mod gru;
mod if_;
mod loop_;
mod lstm;
mod ml;
mod rnn;
mod scan;
mod stack;
mod text;
mod training;
mod tree;

#[cfg(test)]
mod tests;

use super::OpResult;
use crate::interp::NodeCtx;
use edgeport_ir::Op;

/// Runs the op if it belongs to this group.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    Some(match op {
        Op::If(a) => if_::run(a, cx),
        Op::Loop(a) => loop_::run(a, cx),
        Op::Scan(a) => scan::run(a, cx),
        Op::RNN(a) => rnn::run(a, cx),
        Op::GRU(a) => gru::run(a, cx),
        Op::LSTM(a) => lstm::run(a, cx),
        Op::RegexFullMatch(a) => text::regex_full_match(a, cx),
        Op::StringConcat(_) => text::string_concat(cx),
        Op::StringNormalizer(a) => text::string_normalizer(a, cx),
        Op::StringSplit(a) => text::string_split(a, cx),
        Op::ArrayFeatureExtractor(_) => ml::array_feature_extractor(cx),
        Op::Binarizer(a) => ml::binarizer(a, cx),
        Op::LabelEncoder(a) => ml::label_encoder(a, cx),
        Op::TreeEnsemble(a) => tree::run(a, cx),
        Op::Adagrad(a) => training::adagrad(a, cx),
        Op::Adam(a) => training::adam(a, cx),
        Op::Momentum(a) => training::momentum(a, cx),
        Op::FlexAttention(a) => flex::run(a, cx),
        _ => return None,
    })
}
