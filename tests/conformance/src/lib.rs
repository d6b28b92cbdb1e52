//! # edgeport-conformance
//!
//! Runs the ONNX backend node tests (from the pinned `onnx==1.22.0` wheel, unpacked into a
//! cache by `tests/setup.sh`) and the `light` real-model tests:
//! - **eval**: import → evaluator, outputs compared with ONNX's tolerances;
//! - **ort**: import → export → onnxruntime (driven by `tests/ort_suite.py`).
//!
//! Expectations live in committed manifests (`manifest/*.txt`): one line per case, `pass` or
//! `fail <one-line reason>`. A case that disagrees with its manifest line fails the suite, so
//! the manifest is always the truth; `--bless` rewrites it.

pub mod cases;
pub mod compare;
pub mod manifest;

pub use cases::{Case, DataDir, load_case, run_case_eval};
pub use compare::{Tolerance, compare_values};
