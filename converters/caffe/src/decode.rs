//! The only module that touches the generated Caffe protobuf types' decoding: it reads a
//! prototxt (text format, via [`crate::text`]) or a binary caffemodel into `NetParameter`,
//! upgrades V1 `layers` into V2 `layer` form, and collects each layer's weight blobs, borrowed
//! zero-copy from the memory-mapped caffemodel when its floats are packed.

use crate::error::Error;
use crate::text::schema::Schema;
use edgeport_ir::tensor::Bytes;
use edgeport_proto::caffe as pb;
use pb::v1_layer_parameter::LayerType as V1;
use prost::Message;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use pb::{LayerParameter, NetParameter};

/// One weight blob: its shape and its float32 data (little-endian bytes).
#[derive(Clone, Debug)]
pub struct Blob {
    pub shape: Vec<usize>,
    pub data: Bytes,
}

impl Blob {
    pub fn numel(&self) -> usize {
        self.data.len() / 4
    }
}

fn schema() -> Result<&'static Schema, String> {
    static S: OnceLock<Result<Schema, String>> = OnceLock::new();
    S.get_or_init(|| Schema::from_descriptor(pb::DESCRIPTOR))
        .as_ref()
        .map_err(Clone::clone)
}

/// Parses a prototxt (protobuf text format) into a `NetParameter`.
pub fn parse_prototxt(src: &[u8], file: &str) -> Result<NetParameter, Error> {
    let schema = schema().map_err(|msg| Error::Net { file: file.into(), msg })?;
    let wire = crate::text::text_to_wire(src, schema, ".caffe.NetParameter").map_err(|err| Error::Syntax { file: file.into(), err })?;
    NetParameter::decode(&wire[..]).map_err(|e| Error::Decode {
        file: file.into(),
        what: "prototxt",
        msg: e.to_string(),
    })
}

/// Decodes a binary caffemodel's structure (layers with their parameters; blob data included).
pub fn parse_caffemodel(buf: &edgeport_proto::bytes::Bytes, file: &str) -> Result<NetParameter, Error> {
    NetParameter::decode(buf.clone()).map_err(|e| Error::Decode {
        file: file.into(),
        what: "caffemodel",
        msg: e.to_string(),
    })
}

/// The weight blobs of every layer of a caffemodel, by layer name.
pub fn read_weights(buf: &edgeport_proto::bytes::Bytes, file: &str) -> Result<HashMap<String, Vec<Blob>>, Error> {
    let mut out = HashMap::new();
    // Zero-copy view first: packed floats read as bytes.
    if let Ok(raw) = pb::RawNet::decode(buf.clone()) {
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(buf.clone());
        let base = buf.as_ptr() as usize;
        let view = |b: &edgeport_proto::bytes::Bytes| -> Option<Bytes> {
            // The decoded bytes are slices of `buf`; find their offset to share the owner.
            let start = (b.as_ptr() as usize).checked_sub(base)?;
            Bytes::from_owner(owner.clone(), start, b.len())
        };
        let mut layers: Vec<(String, Vec<pb::RawBlob>)> = raw.layer.into_iter().map(|l| (l.name.unwrap_or_default(), l.blobs)).collect();
        layers.extend(raw.layers.into_iter().map(|l| (l.name.unwrap_or_default(), l.blobs)));
        for (name, blobs) in layers {
            let mut v = Vec::new();
            for (i, b) in blobs.iter().enumerate() {
                let shape = blob_shape(b.shape.as_ref(), b.num(), b.channels(), b.height(), b.width());
                let data = match (&b.data, &b.double_data) {
                    (Some(d), _) if !d.is_empty() => view(d).unwrap_or_else(|| Bytes::from_vec(d.to_vec())),
                    (_, Some(d)) if !d.is_empty() => Bytes::from_vec(doubles_to_f32(d)),
                    _ => Bytes::from_vec(Vec::new()),
                };
                v.push(check_blob(
                    Blob {
                        shape: shape.map_err(|m| werr(file, &name, i, m))?,
                        data,
                    },
                    file,
                    &name,
                    i,
                )?);
            }
            if !v.is_empty() {
                out.insert(name, v);
            }
        }
        return Ok(out);
    }
    // Unpacked floats: decode through the full schema (copies).
    let net = parse_caffemodel(buf, file)?;
    for l in upgraded_layers(&net).map_err(|msg| Error::Decode {
        file: file.into(),
        what: "caffemodel",
        msg,
    })? {
        let name = l.name().to_string();
        let mut v = Vec::new();
        for (i, b) in l.blobs.iter().enumerate() {
            let blob = blob_from_proto(b).map_err(|m| werr(file, &name, i, m))?;
            v.push(check_blob(blob, file, &name, i)?);
        }
        if !v.is_empty() {
            out.insert(name, v);
        }
    }
    Ok(out)
}

fn werr(file: &str, layer: &str, i: usize, msg: String) -> Error {
    Error::Weights {
        file: file.into(),
        layer: layer.into(),
        msg: format!("blob {i}: {msg}"),
    }
}

fn check_blob(b: Blob, file: &str, layer: &str, i: usize) -> Result<Blob, Error> {
    if !b.data.len().is_multiple_of(4) {
        return Err(werr(
            file,
            layer,
            i,
            format!("data of {} bytes is not a whole number of floats", b.data.len()),
        ));
    }
    let want = b.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if want != Some(b.numel()) {
        return Err(werr(
            file,
            layer,
            i,
            format!(
                "shape {:?} needs {} values, the blob holds {}",
                b.shape,
                want.map_or("too many".into(), |w| w.to_string()),
                b.numel()
            ),
        ));
    }
    Ok(b)
}

fn doubles_to_f32(d: &[u8]) -> Vec<u8> {
    d.chunks_exact(8)
        .flat_map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            (f64::from_le_bytes(a) as f32).to_le_bytes()
        })
        .collect()
}

fn blob_shape(shape: Option<&pb::BlobShape>, n: i32, c: i32, h: i32, w: i32) -> Result<Vec<usize>, String> {
    let dims: Vec<i64> = match shape {
        Some(s) => s.dim.clone(),
        None => vec![n.into(), c.into(), h.into(), w.into()],
    };
    dims.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d} in shape {dims:?}")))
        .collect()
}

/// A blob from the full (copying) schema, e.g. one written inline in a prototxt.
pub fn blob_from_proto(b: &pb::BlobProto) -> Result<Blob, String> {
    let shape = blob_shape(b.shape.as_ref(), b.num(), b.channels(), b.height(), b.width())?;
    let data: Vec<u8> = if !b.data.is_empty() {
        b.data.iter().flat_map(|v| v.to_le_bytes()).collect()
    } else {
        b.double_data.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect()
    };
    Ok(Blob {
        shape,
        data: Bytes::from_vec(data),
    })
}

/// The net's layers in V2 form: `layer` as is, or the legacy V1 `layers` upgraded (type enum →
/// type name, parameters moved over).
pub fn upgraded_layers(net: &NetParameter) -> Result<Vec<LayerParameter>, String> {
    if !net.layer.is_empty() && !net.layers.is_empty() {
        return Err("the net has both 'layer' and legacy 'layers' entries".into());
    }
    if net.layers.is_empty() {
        return Ok(net.layer.clone());
    }
    net.layers.iter().map(upgrade_v1).collect()
}

fn upgrade_v1(l: &pb::V1LayerParameter) -> Result<LayerParameter, String> {
    let ty = match l.r#type() {
        V1::None => return Err(format!("V1 layer '{}' has no type", l.name())),
        V1::Absval => "AbsVal",
        V1::Accuracy => "Accuracy",
        V1::Argmax => "ArgMax",
        V1::Bnll => "BNLL",
        V1::Concat => "Concat",
        V1::ContrastiveLoss => "ContrastiveLoss",
        V1::Convolution => "Convolution",
        V1::Data => "Data",
        V1::Deconvolution => "Deconvolution",
        V1::Dropout => "Dropout",
        V1::DummyData => "DummyData",
        V1::EuclideanLoss => "EuclideanLoss",
        V1::Eltwise => "Eltwise",
        V1::Exp => "Exp",
        V1::Flatten => "Flatten",
        V1::Hdf5Data => "HDF5Data",
        V1::Hdf5Output => "HDF5Output",
        V1::HingeLoss => "HingeLoss",
        V1::Im2col => "Im2col",
        V1::ImageData => "ImageData",
        V1::InfogainLoss => "InfogainLoss",
        V1::InnerProduct => "InnerProduct",
        V1::Lrn => "LRN",
        V1::MemoryData => "MemoryData",
        V1::MultinomialLogisticLoss => "MultinomialLogisticLoss",
        V1::Mvn => "MVN",
        V1::Pooling => "Pooling",
        V1::Power => "Power",
        V1::Relu => "ReLU",
        V1::Sigmoid => "Sigmoid",
        V1::SigmoidCrossEntropyLoss => "SigmoidCrossEntropyLoss",
        V1::Silence => "Silence",
        V1::Softmax => "Softmax",
        V1::SoftmaxLoss => "SoftmaxWithLoss",
        V1::Split => "Split",
        V1::Slice => "Slice",
        V1::Tanh => "TanH",
        V1::WindowData => "WindowData",
        V1::Threshold => "Threshold",
    };
    Ok(LayerParameter {
        name: l.name.clone(),
        r#type: Some(ty.to_string()),
        bottom: l.bottom.clone(),
        top: l.top.clone(),
        blobs: l.blobs.clone(),
        include: l.include.clone(),
        exclude: l.exclude.clone(),
        argmax_param: l.argmax_param,
        concat_param: l.concat_param,
        convolution_param: l.convolution_param.clone(),
        dropout_param: l.dropout_param,
        eltwise_param: l.eltwise_param.clone(),
        exp_param: l.exp_param,
        inner_product_param: l.inner_product_param,
        lrn_param: l.lrn_param,
        pooling_param: l.pooling_param,
        power_param: l.power_param,
        relu_param: l.relu_param,
        softmax_param: l.softmax_param,
        slice_param: l.slice_param.clone(),
        threshold_param: l.threshold_param,
        ..Default::default()
    })
}
