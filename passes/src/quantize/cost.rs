//! Estimated latency cost of running a layer on float kernels instead of int8 ones, for mixed
//! precision to keep float the layers that are cheap to keep float.
//!
//! The unit is one float multiply-add. Dense layers (pointwise and full convolutions, Gemm,
//! MatMul) run about 2.7× faster on int8 kernels than on float ones in onnxruntime's CPU
//! provider; measured per layer on mobilenet_v2 (one thread): 1×1 convolutions 2.4–3.0×, the
//! classifier Gemm 2.9×. Depthwise convolutions and a 3×3 stem over RGB run as fast in float,
//! or faster: the 3-channel stem took 0.26 ms in
//! float and 0.49 ms in int8 (plus 0.06 ms to quantize the input), a 32-channel depthwise conv
//! at 112×112 0.19 ms against 0.29 ms. Those cost a small fraction of their multiply-adds, so
//! that among free choices the smaller layer comes first.
//!
//! A stem whose int8 kernel reduces over few values (a 3×3 conv over RGB: 27 per output) is
//! slower in int8 than in float: mobilenet_v2's took 0.61 ms in int8 against 0.21–0.28 ms in
//! float; resnet18's 7×7 stem (147 per output) is not (1.21 ms int8, 1.31 ms float). Such a
//! layer has a negative cost.
//!
//! Where a float layer meets an int8 one the activation between them is converted: a
//! DequantizeLinear or QuantizeLinear pass plus a layout change between the int8 kernels'
//! channels-last and the float kernels' blocked layout, about 1 ns per element on this machine
//! (the 150,528-element input QuantizeLinear of mobilenet_v2 took 0.06 ms), or the time of some
//! 40 float multiply-adds (a 19.3 M multiply-add pointwise conv took 0.515 ms). A depthwise conv
//! kept float between two int8 layers therefore costs two such conversions, more than keeping a
//! pointwise neighbour float; a float region costs its two ends only.

use crate::quantize::layers::{Kind, Layer};
use edgeport_ir::{Graph, Op, ValueId};

/// How much faster a dense layer runs on int8 kernels than on float ones.
pub const INT8_SPEEDUP: f64 = 2.7;
/// Cost of a layer that runs as fast in float, per multiply-add.
pub const FREE_COST: f64 = 0.02;

/// Cost of converting one activation element between int8 and float kernels, in float
/// multiply-adds.
pub const BOUNDARY_COST: f64 = 40.0;

/// What keeping a small-reduction stem float saves, per multiply-add (mobilenet_v2: about 12 M
/// multiply-adds' time for its 10.8 M; a conservative fraction of that).
pub const SMALL_STEM_SAVING: f64 = 0.8;

/// Largest reduction (input channels × kernel size) of a conv whose int8 kernel is slower than
/// its float one.
pub const SMALL_REDUCTION: usize = 32;

/// Elements of a value (`None` when its shape is not known).
pub fn elems(g: &Graph, v: ValueId) -> Option<f64> {
    let s = g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.as_known()?;
    Some(s.iter().map(|&d| d as f64).product())
}

/// The latency model of a set of float layers: each layer's float cost, and the activations
/// between layers with the layers next to them.
pub struct Model {
    layer_cost: Vec<f64>,
    /// (elements, adjacent layer indices) per activation.
    points: Vec<(f64, Vec<usize>)>,
    /// Whether each activation is a graph input: int8 layers reading it need it converted (the
    /// all-int8 model pays that), float ones do not.
    graph_input: Vec<bool>,
}

impl Model {
    /// `points` are the activations between layers and the indices (into `layers`) of the
    /// layers that make or read each.
    pub fn new(g: &Graph, layers: &[Layer], points: &[(ValueId, Vec<usize>)]) -> Model {
        Model {
            layer_cost: layers.iter().map(|l| float_cost(g, l)).collect(),
            graph_input: points.iter().map(|(v, _)| g.inputs().contains(&v.node)).collect(),
            points: points
                .iter()
                .map(|(v, adj)| {
                    // Unknown shapes: count the activation as big as the largest weight next to it.
                    let e = elems(g, *v).unwrap_or_else(|| {
                        adj.iter()
                            .map(|&i| layers[i].w_shape.iter().map(|&d| d as f64).product::<f64>())
                            .fold(0.0, f64::max)
                    });
                    (e, adj.clone())
                })
                .collect(),
        }
    }

    /// Estimated extra time of running the layers marked in `float` on float kernels (negative:
    /// time saved).
    pub fn cost(&self, float: &[bool]) -> f64 {
        let layers: f64 = self.layer_cost.iter().zip(float).filter(|(_, f)| **f).map(|(c, _)| c).sum();
        let boundaries: f64 = self
            .points
            .iter()
            .zip(&self.graph_input)
            .map(|((e, adj), &input)| {
                let fl = adj.iter().filter(|&&i| float.get(i).copied().unwrap_or(false)).count();
                if input {
                    // Converted for int8 readers in the all-int8 model; saved once all read floats.
                    if fl == adj.len() { -e * BOUNDARY_COST } else { 0.0 }
                } else if fl > 0 && fl < adj.len() {
                    e * BOUNDARY_COST
                } else {
                    0.0
                }
            })
            .sum();
        layers + boundaries
    }
}

/// Multiply-adds of one run of a layer (its weight size when the output shape is unknown).
pub fn macs(g: &Graph, l: &Layer) -> f64 {
    let w: f64 = l.w_shape.iter().map(|&d| d as f64).product();
    let out = g
        .value(l.node.out(0))
        .and_then(|v| v.ty.as_ref())
        .and_then(|t| t.as_tensor())
        .and_then(|t| t.shape.as_ref())
        .and_then(|s| s.as_known());
    match (l.kind, out) {
        // Output elements × weights per output channel.
        (Kind::Conv, Some(o)) if o.len() >= 3 => {
            let per_out = w / l.w_shape.first().copied().unwrap_or(1).max(1) as f64;
            o.iter().map(|&d| d as f64).product::<f64>() * per_out
        }
        // Output rows × the weight.
        (Kind::Gemm | Kind::MatMul, Some(o)) if !o.is_empty() => {
            let n = o.last().copied().unwrap_or(1).max(1) as f64;
            o.iter().map(|&d| d as f64).product::<f64>() / n * w
        }
        _ => w,
    }
}

/// Whether a layer runs about as fast on float kernels as on int8 ones: a grouped conv over at
/// most 4 input channels per group (depthwise), or a small-reduction stem
/// ([`float_is_faster`]). A 7×7 stem over RGB is not (resnet18's: 1.31 ms float, 1.21 ms int8).
pub fn float_is_free(g: &Graph, l: &Layer) -> bool {
    match (&g.node(l.node).op, l.kind) {
        (Op::Conv(c), Kind::Conv) => {
            (c.group > 1 && l.w_shape.get(1).is_some_and(|&cin_per_group| cin_per_group <= 4)) || float_is_faster(g, l)
        }
        _ => false,
    }
}

/// Whether a layer is a conv over one group of at most 4 input channels whose reduction (input
/// channels × kernel size) is at most [`SMALL_REDUCTION`]: an RGB 3×3 stem, slower on int8
/// kernels than on float ones.
pub fn float_is_faster(g: &Graph, l: &Layer) -> bool {
    match (&g.node(l.node).op, l.kind) {
        (Op::Conv(c), Kind::Conv) => {
            c.group == 1 && l.w_shape.len() >= 3 && l.w_shape[1] <= 4 && l.w_shape[1..].iter().product::<usize>() <= SMALL_REDUCTION
        }
        _ => false,
    }
}

/// Estimated extra time of running `l` on float kernels, in float multiply-adds.
pub fn float_cost(g: &Graph, l: &Layer) -> f64 {
    let m = macs(g, l);
    if float_is_faster(g, l) {
        -m * SMALL_STEM_SAVING
    } else if float_is_free(g, l) {
        m * FREE_COST
    } else {
        m * (1.0 - 1.0 / INT8_SPEEDUP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::layers;
    use edgeport_ir::ops::defs::nn::Conv;
    use edgeport_ir::{DType, Shape, Tensor, ValueType};

    fn conv(cin: usize, cout: usize, group: usize, k: usize, hw: u64) -> (Graph, Layer) {
        let mut g = Graph::new("c");
        let x = g.add_input(
            "x",
            Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, cin as u64, hw, hw])))),
        );
        let wv = vec![0.5f32; cout * (cin / group) * k * k];
        let w = g.add_constant("w", Tensor::from_f32(vec![cout, cin / group, k, k], &wv).unwrap());
        let c = Conv {
            group: group as i64,
            pads: vec![(k / 2) as i64; 4],
            ..Default::default()
        };
        let id = g.add_op("conv", Op::Conv(c), &[Some(x), Some(w)], &["y"]).unwrap();
        g.value_mut(id.out(0)).unwrap().ty = Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, cout as u64, hw, hw]))));
        g.set_outputs(vec![("y".into(), id.out(0))]).unwrap();
        let l = layers::find(&g).into_iter().next().unwrap();
        (g, l)
    }

    #[test]
    fn a_float_island_pays_both_ends_a_region_only_its_ends() {
        // A chain of four layers with activations of 100 elements between them.
        let m = Model {
            layer_cost: vec![10.0; 4],
            points: (0..3).map(|i| (100.0, vec![i, i + 1])).collect(),
            graph_input: vec![false; 3],
        };
        let b = 100.0 * BOUNDARY_COST;
        assert_eq!(m.cost(&[false; 4]), 0.0);
        assert_eq!(m.cost(&[false, true, false, false]), 10.0 + 2.0 * b);
        assert_eq!(m.cost(&[true, true, false, false]), 20.0 + b);
        assert_eq!(m.cost(&[true; 4]), 40.0);
    }

    #[test]
    fn pointwise_costs_its_macs_depthwise_and_stem_are_nearly_free() {
        let (g, l) = conv(16, 96, 1, 1, 112);
        let m = 16.0 * 96.0 * 112.0 * 112.0;
        assert_eq!(macs(&g, &l), m);
        assert!(!float_is_free(&g, &l));
        assert!((float_cost(&g, &l) - m * (1.0 - 1.0 / INT8_SPEEDUP)).abs() < 1e-6 * m);
        let (g, l) = conv(32, 32, 32, 3, 112);
        assert_eq!(macs(&g, &l), 32.0 * 9.0 * 112.0 * 112.0);
        assert!(float_is_free(&g, &l));
        let (g, l) = conv(3, 32, 1, 3, 112);
        assert!(float_is_free(&g, &l) && float_is_faster(&g, &l));
        assert!((float_cost(&g, &l) + SMALL_STEM_SAVING * macs(&g, &l)).abs() < 1e-6 * macs(&g, &l));
        // A pointwise conv over 16 channels reduces over 16 values, but is no stem.
        let (g, l) = conv(16, 96, 1, 1, 112);
        assert!(!float_is_faster(&g, &l));
        // resnet18's stem: 3 channels, but 7×7 = 147 values per output: int8 is faster.
        let (g, l) = conv(3, 64, 1, 7, 112);
        assert!(!float_is_free(&g, &l) && !float_is_faster(&g, &l));
        assert!(float_cost(&g, &l) > 0.5 * macs(&g, &l));
    }

    #[test]
    fn a_float_layer_on_the_graph_input_saves_its_conversion() {
        // Input (1000 elements) → stem → a (100 elements) → b.
        let m = Model {
            layer_cost: vec![-50.0, 10.0],
            points: vec![(1000.0, vec![0]), (100.0, vec![0, 1])],
            graph_input: vec![true, false],
        };
        let b = BOUNDARY_COST;
        assert_eq!(m.cost(&[false, false]), 0.0);
        assert_eq!(m.cost(&[true, false]), -50.0 - 1000.0 * b + 100.0 * b);
        assert_eq!(m.cost(&[true, true]), -40.0 - 1000.0 * b);
    }
}
