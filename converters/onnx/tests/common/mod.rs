//! Building small ONNX models with the generated protobuf types, for tests.
#![allow(dead_code)]

pub use edgeport_proto::onnx as pb;
use edgeport_proto::prost::Message;

pub fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: format!("{op}_{}", outputs.first().copied().unwrap_or("")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn attr_int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 2,
        i: v,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_graph(name: &str, g: pb::GraphProto) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 5,
        g: Some(g),
        ..Default::default()
    }
}

pub fn vi(name: &str, elem: i32, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn f32_tensor(name: &str, dims: &[i64], vals: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: vals.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into(),
        ..Default::default()
    }
}

pub fn graph(nodes: Vec<pb::NodeProto>, inputs: Vec<pb::ValueInfoProto>, outputs: Vec<pb::ValueInfoProto>) -> pb::GraphProto {
    pb::GraphProto {
        name: "g".into(),
        node: nodes,
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

pub fn model(g: pb::GraphProto, opset: i64) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        producer_name: "edgeport-tests".into(),
        graph: Some(g),
        ..Default::default()
    }
}

pub fn bytes(m: &pb::ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

/// y = Relu(x) on f32[2].
pub fn relu_model() -> pb::ModelProto {
    model(
        graph(vec![node("Relu", &["x"], &["y"])], vec![vi("x", 1, &[2])], vec![vi("y", 1, &[2])]),
        17,
    )
}
