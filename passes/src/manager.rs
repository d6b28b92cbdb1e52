//! The `Pass` trait, the pass manager and the registry of passes by name.

use edgeport_ir::Graph;
use std::time::{Duration, Instant};

/// Did a pass change the graph?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Yes,
    No,
}

impl Changed {
    pub fn from_bool(b: bool) -> Changed {
        if b { Changed::Yes } else { Changed::No }
    }
}

/// A pass error, naming the pass.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("pass '{pass}': {msg}")]
    Failed { pass: String, msg: String },
    #[error("after pass '{pass}': {error}")]
    Invalid {
        pass: String,
        error: edgeport_ir::validate::ValidationError,
    },
    #[error("unknown pass '{0}' (known: {1})")]
    Unknown(String, String),
}

/// Shared state of a pipeline run: notes passes leave for the report.
#[derive(Debug, Default)]
pub struct Context {
    pub notes: Vec<String>,
}

/// A graph rewrite.
pub trait Pass {
    /// A short stable name (`dce`, `fold`, …).
    fn name(&self) -> &'static str;
    /// Runs the pass.
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError>;
}

/// What one pass did in a run.
#[derive(Debug, Clone)]
pub struct PassReport {
    pub name: &'static str,
    pub changed: Changed,
    pub time: Duration,
    pub nodes_before: usize,
    pub nodes_after: usize,
}

/// Runs a pipeline of passes.
pub struct Manager {
    passes: Vec<Box<dyn Pass>>,
    validate_between: bool,
}

impl Manager {
    pub fn new(passes: Vec<Box<dyn Pass>>) -> Manager {
        Manager {
            passes,
            validate_between: false,
        }
    }
    /// Builds a pipeline from comma-separated pass names.
    pub fn from_names(spec: &str) -> Result<Manager, PassError> {
        let mut passes = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            passes.push(registry(name)?);
        }
        Ok(Manager::new(passes))
    }
    /// Validate after every pass (catches a broken pass where it happens).
    pub fn validate_between(mut self, on: bool) -> Manager {
        self.validate_between = on;
        self
    }
    /// Runs every pass once, in order.
    pub fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Vec<PassReport>, PassError> {
        let mut out = Vec::new();
        for p in &self.passes {
            let before = g.node_count();
            let t = Instant::now();
            let changed = p.run(g, cx)?;
            // A pass may have read weights that live in a memory-mapped model file (constant
            // folding, BatchNorm fusion): give those pages back; later readers fault them in.
            edgeport_ir::mapped::release_all();
            let time = t.elapsed();
            if self.validate_between
                && let Err(error) = edgeport_ir::validate::validate(g)
            {
                return Err(PassError::Invalid {
                    pass: p.name().to_string(),
                    error,
                });
            }
            out.push(PassReport {
                name: p.name(),
                changed,
                time,
                nodes_before: before,
                nodes_after: g.node_count(),
            });
        }
        Ok(out)
    }
}

/// The passes known by name.
pub const PASS_NAMES: &[&str] = &["dce", "identity", "fold", "cse", "fold_bn", "nhwc", "nhwc-io", "nchw", "shapes"];

/// Looks up a pass by name.
pub fn registry(name: &str) -> Result<Box<dyn Pass>, PassError> {
    Ok(match name {
        "dce" => Box::new(crate::Dce),
        "identity" => Box::new(crate::RemoveIdentity),
        "fold" => Box::new(crate::FoldConstants::default()),
        "cse" => Box::new(crate::Cse),
        "fold_bn" => Box::new(crate::FoldBatchNorm),
        "nhwc" => Box::new(crate::Nhwc::default()),
        "nchw" => Box::new(crate::Nchw),
        "nhwc-io" => Box::new(crate::Nhwc {
            opts: crate::LayoutOptions { nhwc_io: true },
        }),
        "shapes" => Box::new(crate::StaticShapes),
        other => return Err(PassError::Unknown(other.to_string(), PASS_NAMES.join(", "))),
    })
}

/// Ops whose results are not a function of their inputs alone (random ops, `Dropout`, custom
/// ops, graph inputs): passes must not fold or merge them.
pub(crate) fn is_nondeterministic(k: edgeport_ir::OpKind) -> bool {
    use edgeport_ir::OpKind as K;
    matches!(
        k,
        K::Input
            | K::Custom
            | K::RandomNormal
            | K::RandomNormalLike
            | K::RandomUniform
            | K::RandomUniformLike
            | K::Bernoulli
            | K::Multinomial
            | K::Dropout
    )
}
