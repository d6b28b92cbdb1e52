//! A tool that depends only on `edgeport-ir`: it builds a small convolutional graph in code
//! (an input with a symbolic batch dimension, a Conv with constant weights and bias, a Relu,
//! an output), runs shape and dtype inference, validates the graph and prints its text form.
//!
//! Run with `cargo run -p edgeport-example-build-graph`.

use edgeport_ir::ops::Op;
use edgeport_ir::ops::defs::{math::Relu, nn::Conv};
use edgeport_ir::{DType, Dim, Graph, Shape, Tensor, ValueType, infer, text, validate};

fn build() -> Result<Graph, Box<dyn std::error::Error>> {
    let mut g = Graph::new("conv_relu");
    g.metadata.push(("producer".into(), "edgeport build-graph example".into()));
    // x: f32[N, 3, 8, 8], with N a symbolic batch size.
    let x_ty = ValueType::tensor(
        DType::F32,
        Some(Shape(vec![Dim::Sym("N".into()), Dim::Known(3), Dim::Known(8), Dim::Known(8)])),
    );
    let x = g.add_input("x", Some(x_ty));
    // Four 3x3 filters over three channels, and a bias per filter.
    let w: Vec<f32> = (0..4 * 3 * 3 * 3).map(|i| ((i % 7) as f32 - 3.0) * 0.125).collect();
    let w = g.add_constant("conv.weight", Tensor::from_f32(vec![4, 3, 3, 3], &w)?);
    let b = g.add_constant("conv.bias", Tensor::from_f32(vec![4], &[0.0, 0.5, -0.5, 1.0])?);
    let conv = Conv {
        pads: vec![1, 1, 1, 1],
        strides: vec![2, 2],
        ..Conv::default()
    };
    let c = g.add_op("conv", Op::Conv(conv), &[Some(x), Some(w), Some(b)], &["conv_out"])?;
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(c.out(0))], &["y"])?;
    g.add_output("y", r.out(0))?;
    Ok(g)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut g = build()?;
    infer::infer_types(&mut g)?;
    validate::validate(&g)?;
    print!("{}", text::print_graph(&g));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_infers_and_validates() {
        let mut g = super::build().unwrap();
        edgeport_ir::infer::infer_types(&mut g).unwrap();
        edgeport_ir::validate::validate(&g).unwrap();
        let opts = edgeport_ir::text::PrintOptions::default();
        let (text, weights) = edgeport_ir::text::print_graph_split(&g, &opts, &|_| true);
        assert!(text.contains("%y: f32[N,4,4,4] = Relu(%conv_out)"), "{text}");
        let weights = weights.into_iter().collect();
        let back = edgeport_ir::text::parse_graph_with_weights(&text, &weights).unwrap();
        assert_eq!(edgeport_ir::text::print_graph(&back), text);
    }
}
