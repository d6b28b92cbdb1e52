//! # edgeport-mxnet — MXNet import
