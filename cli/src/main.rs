//! The `edgeport` command line. Parsing and printing only; the work is in the library.
//!
//! Exit codes: 0 success; 1 `verify` found outputs outside tolerance; 2 bad usage; 3 the input
//! could not be read or understood; 4 the model uses something unsupported; 5 writing failed.

use clap::{Parser, Subcommand};
use edgeport_cli::commands::{self, CommandError};
use edgeport_cli::inputs::InputSpec;
use std::path::PathBuf;
use std::process::ExitCode;

/// Convert, inspect, run and verify ML models — one binary, no Python.
#[derive(Parser, Debug)]
#[command(name = "edgeport", version, about, long_about = None, after_help = "Examples:\n  edgeport convert model.onnx -o out.onnx --opset 13\n  edgeport inspect model.onnx --json\n  edgeport run model.onnx --seed 1 -o outputs.npz\n  edgeport verify model.onnx out.onnx --per-node")]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Convert a model to another format (picked by the output's extension or --to).
    Convert {
        /// The model file or folder (format sniffed from magic bytes, extension, contents).
        input: PathBuf,
        /// Where to write the result.
        #[arg(short, long)]
        output: PathBuf,
        /// Force the input format (see `edgeport formats`).
        #[arg(long)]
        from: Option<String>,
        /// Force the output format.
        #[arg(long)]
        to: Option<String>,
        /// ONNX opset to write (default 17).
        #[arg(long)]
        opset: Option<i64>,
        /// Passes to run before export, comma-separated (dce, identity, fold, cse).
        #[arg(long, default_value = "")]
        passes: String,
        /// TFLite output: make rank-4 inputs and outputs NHWC (no boundary transposes).
        #[arg(long)]
        nhwc_io: bool,
        /// TFLite output: store float32 weights as float16, each read through a DEQUANTIZE op.
        #[arg(long)]
        f16_weights: bool,
        /// TFLite output: write every weight dense. By default a mostly-zero (pruned) weight is
        /// stored as a sparse tensor read through DENSIFY when that saves ≥ 20% of its bytes — a
        /// smaller file, densified once at load, no faster inference.
        #[arg(long)]
        no_sparse_weights: bool,
        #[command(flatten)]
        import: ImportArgs,
        /// Quantize while converting (int8, int8-dynamic, fp16, bf16, int4-weights, int8-weights);
        /// the same as `edgeport quantize` with its defaults.
        #[arg(long)]
        quantize: Option<String>,
        /// Calibration data for --quantize (.npz or folder).
        #[arg(long)]
        calibration: Option<PathBuf>,
    },
    /// Describe a model: inputs, outputs, ops, parameters, MACs, producer.
    Inspect {
        model: PathBuf,
        #[arg(long)]
        from: Option<String>,
    },
    /// Run a model on the reference evaluator.
    Run {
        model: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        /// Write outputs to this .npz file.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long)]
        from: Option<String>,
    },
    /// Run two models on the same inputs and compare their outputs.
    Verify {
        reference: PathBuf,
        candidate: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        /// Absolute tolerance.
        #[arg(long, default_value_t = 1e-4)]
        atol: f64,
        /// Relative tolerance.
        #[arg(long, default_value_t = 1e-3)]
        rtol: f64,
        /// On failure, find the first node whose value diverges.
        #[arg(long)]
        per_node: bool,
    },
    /// Quantize a model (static int8 by default; see --mode) and report size and output error.
    Quantize {
        /// The float model.
        input: PathBuf,
        /// Where to write the result (format from the extension or --to).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// int8 | int8-dynamic | fp16 | bf16 | int4-weights | int8-weights
        #[arg(long, default_value = "int8")]
        mode: String,
        /// Calibration data: an .npz, or a folder of .npz/.npy files (synthetic inputs if absent).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Held-out inputs for the error report (.npz or folder). Without it the report reads 8
        /// calibration samples (in-sample), or synthetic inputs when there is no calibration data.
        #[arg(long)]
        heldout: Option<PathBuf>,
        /// Skip the held-out error check (both models on the evaluator): the report then has no
        /// output error. Mixed precision (--min-cosine/--max-error) still checks its budget.
        #[arg(long, conflicts_with = "heldout")]
        no_check: bool,
        /// Activation range estimator: minmax | percentile[:P] | entropy | mse
        #[arg(long, default_value = "minmax")]
        method: String,
        /// One weight scale per tensor instead of per output channel.
        #[arg(long)]
        per_tensor: bool,
        /// Block size of weight-only int4/int8 (16..=256).
        #[arg(long, default_value_t = 32)]
        block_size: usize,
        /// Block size of embedding tables in weight-only modes (default: --block-size).
        #[arg(long)]
        embedding_block_size: Option<usize>,
        /// int4: embedding tables with float16 block scales (half the scale bytes).
        #[arg(long)]
        embedding_f16_scales: bool,
        /// int4 GPTQ: act-order (largest-activation columns first, static groups).
        #[arg(long)]
        act_order: bool,
        /// Weight-only: block size of the layers whose name contains SUBSTRING
        /// (SUBSTRING=N, repeatable, first match wins).
        #[arg(long)]
        layer_block: Vec<String>,
        /// Static int8: SmoothQuant strength (0..=1) moving activation outlier ranges into the
        /// MatMul weights before calibration.
        #[arg(long)]
        smooth: Option<f64>,
        /// Keep the most sensitive layers float until the output cosine is at least this.
        #[arg(long)]
        min_cosine: Option<f64>,
        /// Keep the most sensitive layers float until the max abs output error is at most this.
        #[arg(long)]
        max_error: Option<f64>,
        /// Mixed precision, ONNX: what a layer kept float stores as its weights: f16 (float16
        /// behind a Cast, folded at load: the layer is float through and through) or int8 (int8
        /// weights, float activations: the size of full int8). TFLite always keeps int8 weights.
        #[arg(long, default_value = "f16", value_parser = ["f16", "int8"])]
        float_layers: String,
        /// ONNX opset to write (raised to what the result needs when not given).
        #[arg(long)]
        opset: Option<i64>,
        /// int4: round-to-nearest instead of GPTQ.
        #[arg(long)]
        no_gptq: bool,
        /// int8: how Conv/Gemm weights are rounded: rtn (round to nearest, with bias
        /// correction) or gptq (sequential GPTQ layer by layer on the calibration data, fitted
        /// to the float model's outputs, with bias correction; slower).
        #[arg(long, default_value = "rtn")]
        weight_method: String,
        /// int4: blocked DequantizeLinear + MatMul instead of com.microsoft MatMulNBits.
        #[arg(long)]
        no_nbits: bool,
        /// Node names to keep float (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// Seed of synthetic inputs.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// TFLite int8: an integer-only model for NNAPI, Edge TPU and microcontrollers: integer
        /// graph inputs and outputs, and int8 PRelu too (LiteRT's CPU runs its int8 PRELU slowly,
        /// so without this flag PRelu stays float between int8 ops, with a warning).
        #[arg(long)]
        int8_io: bool,
        /// TFLite output: write every weight dense (mostly-zero weights are stored sparse by default).
        #[arg(long)]
        no_sparse_weights: bool,
        /// Image calibration folders: size=H[xW],mean=R,G,B,std=R,G,B,scale=255,layout=nchw|nhwc,order=rgb|bgr
        #[arg(long)]
        preprocess: Option<String>,
        /// Static int8 without a budget: keep float the layers whose float kernels the latency
        /// model prices below their int8 ones (an RGB 3×3 stem and its first block; mobilenet_v2:
        /// faster and closer than all-int8 in onnxruntime). Measure it: onnxruntime's layout
        /// transformer can undo the gain on models with float islands (PRelu).
        #[arg(long)]
        float_where_faster: bool,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Prune a model: remove channels (--structured), zero weights (--sparsity) or N:M sparsity (--nm).
    Prune {
        model: PathBuf,
        /// Where to write the pruned model (format from the extension or --to).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Remove this fraction of the channels of every prunable group (0 <= R < 1).
        #[arg(long, group = "how")]
        structured: Option<f64>,
        /// Zero this fraction of the weights, smallest magnitude first.
        #[arg(long, group = "how")]
        sparsity: Option<f64>,
        /// N:M semi-structured sparsity, e.g. 2:4.
        #[arg(long, group = "how")]
        nm: Option<String>,
        /// Channel ranking: l1, l2 or bn.
        #[arg(long, default_value = "l1")]
        criterion: String,
        /// Rank across layers instead of the same ratio per layer.
        #[arg(long)]
        global: bool,
        /// Layers (producer node names) to leave alone (repeatable).
        #[arg(long)]
        keep: Vec<String>,
        /// Round kept channel counts to a multiple of N (1 = the exact ratio); odd counts defeat
        /// runtimes' vectorised kernels.
        #[arg(long = "round", default_value_t = 8)]
        round_to: usize,
        /// With --structured: fraction of attention heads to remove in each multi-head attention
        /// block (default: the --structured ratio; 0 keeps every head).
        #[arg(long)]
        heads: Option<f64>,
        /// With --structured: prune only the expansion channels of inverted residuals (those a
        /// depthwise conv runs over); block outputs and residual streams stay whole.
        #[arg(long)]
        expansion_only: bool,
        /// With --structured: set each layer's ratio from a latency model of a CPU runtime
        /// (memory-bound layers — depthwise, high resolution, few positions, the classifier —
        /// lose more channels, compute-bound ones fewer; the total removed stays the ratio), and
        /// leave groups no larger than --round whole, so the latency falls with the MACs.
        #[arg(long)]
        latency_aware: bool,
        /// With --structured: calibration samples (.npz or folder, as for quantize). The input
        /// channels of linear layers (MLP hidden neurons) are then ranked by the output error
        /// their removal costs on these samples (Optimal Brain Surgeon saliency), and those
        /// layers are refitted by least squares to their original outputs.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Use at most N calibration samples (0: all).
        #[arg(long, default_value_t = 512)]
        calibration_samples: usize,
        /// Input whose non-zero entries mark the tokens that count in the calibration
        /// statistics (default: an input named attention_mask, if any).
        #[arg(long)]
        token_mask: Option<String>,
        /// With --calibration: rank from the data only, keep the remaining weights as they are.
        #[arg(long)]
        no_refit: bool,
        /// Ridge factor of the refit, relative to the mean diagonal of the Gram matrix.
        #[arg(long, default_value_t = 1e-3)]
        ridge: f64,
        /// Report what would be pruned; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
    /// Distil a student from a teacher on unlabeled data (KL with temperature or MSE).
    Distill {
        /// The teacher model.
        #[arg(long)]
        teacher: PathBuf,
        /// The student model (its weights are trained; the architecture is kept).
        #[arg(long)]
        student: PathBuf,
        /// Unlabeled inputs: an .npz (arrays named by model input) or a folder of .npz/.npy.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the trained student (format from the extension or --to).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 200)]
        steps: usize,
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// kl (logits) or mse (embeddings, features).
        #[arg(long, default_value = "kl")]
        loss: String,
        #[arg(long, default_value_t = 4.0)]
        temperature: f64,
        /// adam or sgd (with --momentum).
        #[arg(long, default_value = "adam")]
        optimizer: String,
        #[arg(long, default_value_t = 0.9)]
        momentum: f64,
        /// constant, cosine or step (x0.1 every third of the run).
        #[arg(long, default_value = "constant")]
        schedule: String,
        #[arg(long, default_value_t = 0.0)]
        weight_decay: f64,
        /// Seed of the data shuffle.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write last.safetensors / best.safetensors (trainable weights) here.
        #[arg(long)]
        checkpoint_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 100)]
        checkpoint_every: usize,
        /// Match an intermediate value by MSE: TEACHER_NODE=STUDENT_NODE (repeatable).
        #[arg(long = "match", value_name = "TEACHER=STUDENT")]
        matches: Vec<String>,
        #[arg(long, default_value_t = 1.0)]
        match_weight: f64,
        /// With --loss mse: student input whose non-zero entries mark real tokens; the loss
        /// skips padding. auto: an input named attention_mask, if any; none: every position.
        #[arg(long, default_value = "auto")]
        token_mask: String,
        /// Held-out .npz (model inputs, optional `label`): score teacher and student before/after.
        #[arg(long)]
        eval: Option<PathBuf>,
    },
    /// Prune, distil from the original, then quantize, with one report (size, MACs, error per step).
    Compress {
        model: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Structured pruning ratio (0 <= R < 1).
        #[arg(long)]
        prune: f64,
        /// Channel ranking: l1, l2 or bn.
        #[arg(long, default_value = "l1")]
        criterion: String,
        /// Per-layer pruning ratios from a CPU latency model (as `prune --latency-aware`).
        #[arg(long)]
        latency_aware: bool,
        /// Unlabeled data for distillation and calibration (.npz or folder).
        #[arg(long)]
        distill_data: PathBuf,
        /// Quantization mode after distillation (e.g. int8); none when absent.
        #[arg(long)]
        quantize: Option<String>,
        /// Held-out .npz for the error figures (default: the distillation data).
        #[arg(long)]
        eval: Option<PathBuf>,
        #[arg(long, default_value_t = 300)]
        steps: usize,
        #[arg(long, default_value_t = 3e-3)]
        lr: f64,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// kl (logits) or mse (embeddings, features).
        #[arg(long, default_value = "kl")]
        loss: String,
        #[arg(long, default_value_t = 4.0)]
        temperature: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// List the known formats (built-in and plugins found on PATH).
    Formats,
}

/// How to read the input model (`convert` and `quantize`).
#[derive(clap::Args, Debug, Clone)]
struct ImportArgs {
    /// SavedModel signature to read (default serving_default).
    #[arg(long)]
    signature: Option<String>,
    /// The weights file of formats that keep them apart (Caffe .caffemodel, MXNet .params,
    /// Paddle .pdiparams); for other formats (convert) a state dict (.pt/.pth/.bin) or
    /// .safetensors file bound onto the model's constants by parameter name before export.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// An input's shape, NAME=D0,D1,… (repeatable; MXNet symbols and Caffe Data layers).
    #[arg(long = "input-shape")]
    input_shape: Vec<String>,
}

#[derive(clap::Args, Debug, Clone)]
struct InputArgs {
    /// An input as NAME=FILE.npy (repeatable).
    #[arg(long = "input", value_name = "NAME=FILE.npy")]
    input: Vec<String>,
    /// Inputs by name from an .npz file.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Seed for inputs that are not given.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Size of a symbolic dimension, NAME=N (repeatable; default 1).
    #[arg(long = "dim", value_name = "NAME=N")]
    dim: Vec<String>,
}

fn input_spec(a: &InputArgs) -> Result<InputSpec, CommandError> {
    let mut named = Vec::new();
    for s in &a.input {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CommandError::Input(format!("--input '{s}' should be NAME=FILE.npy")))?;
        named.push((k.to_string(), PathBuf::from(v)));
    }
    let mut dims = Vec::new();
    for s in &a.dim {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| CommandError::Input(format!("--dim '{s}' should be NAME=N")))?;
        let n = v
            .parse()
            .map_err(|_| CommandError::Input(format!("--dim '{s}': '{v}' is not a number")))?;
        dims.push((k.to_string(), n));
    }
    Ok(InputSpec {
        named,
        npz: a.inputs.clone(),
        seed: a.seed,
        dims,
    })
}

fn emit<T: serde::Serialize + std::fmt::Display>(json: bool, r: &T) {
    use std::io::Write;
    let text = if json {
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    } else {
        r.to_string()
    };
    // Written, not println!: a reader that closes the pipe early (`edgeport inspect m | head`)
    // must not make the command panic; the work is already done.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// The progress bar of `distill` (hidden with --json or when stderr is not a terminal).
struct Bar(Option<indicatif::ProgressBar>, bool);

impl Bar {
    fn new(json: bool) -> Bar {
        Bar(None, json)
    }
}

impl edgeport_train::Observer for Bar {
    fn start(&mut self, total: usize) {
        let pb = if self.1 {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(total as u64)
        };
        if let Ok(st) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps  loss {msg}  [{elapsed_precise} < {eta_precise}]")
        {
            pb.set_style(st);
        }
        self.0 = Some(pb);
    }
    fn step(&mut self, step: usize, loss: f64, lr: f64) {
        if let Some(pb) = &self.0 {
            pb.set_position(step as u64);
            pb.set_message(format!("{loss:.5} (lr {lr:.2e})"));
        }
    }
    fn finish(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    if matches!(
        cli.cmd,
        Cmd::Prune { .. } | Cmd::Distill { .. } | Cmd::Compress { .. } | Cmd::Run { .. } | Cmd::Verify { .. } | Cmd::Quantize { .. }
    ) {
        edgeport_cli::alloc_tune::for_compute();
    }
    let result: Result<i32, CommandError> = (|| match cli.cmd {
        Cmd::Convert {
            input,
            output,
            from,
            to,
            opset,
            passes,
            nhwc_io,
            f16_weights,
            no_sparse_weights,
            import,
            quantize,
            calibration,
        } => {
            if let Some(mode) = quantize {
                if !passes.trim().is_empty() {
                    return Err(CommandError::Input(
                        "--passes and --quantize cannot be combined; run the passes first".into(),
                    ));
                }
                let r = commands::quantize::run(&commands::quantize::QuantizeOptions {
                    input,
                    output,
                    from,
                    to,
                    mode,
                    calibration,
                    opset,
                    signature: import.signature,
                    weights: import.weights,
                    input_shapes: import.input_shape,
                    ..Default::default()
                })?;
                emit(json, &r);
                return Ok(0);
            }
            let r = commands::convert::run(&commands::convert::ConvertOptions {
                input,
                output,
                from,
                to,
                opset,
                passes,
                nhwc_io,
                f16_weights,
                dense_weights: no_sparse_weights,
                signature: import.signature,
                weights: import.weights,
                input_shapes: import.input_shape,
            })?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Prune {
            model,
            output,
            structured,
            sparsity,
            nm,
            criterion,
            global,
            keep,
            round_to,
            heads,
            expansion_only,
            latency_aware,
            calibration,
            calibration_samples,
            token_mask,
            no_refit,
            ridge,
            dry_run,
            from,
            to,
        } => {
            use edgeport_passes::prune::{PruneMode, PruneOptions};
            let mode = match (structured, sparsity, nm) {
                (Some(r), None, None) => PruneMode::Structured(r),
                (None, Some(r), None) => PruneMode::Sparsity(r),
                (None, None, Some(s)) => {
                    let (n, m) = commands::prune::parse_nm(&s)?;
                    PruneMode::NOfM(n, m)
                }
                _ => return Err(CommandError::Input("give one of --structured R, --sparsity R, --nm N:M".into())),
            };
            let cal = calibration.map(|path| commands::prune::CalibrationArgs {
                path,
                samples: calibration_samples,
                token_mask,
                refit: !no_refit,
                ridge,
            });
            let r = commands::prune::run_with(
                &commands::prune::PruneArgs {
                    input: model,
                    output,
                    from,
                    to,
                    opts: PruneOptions {
                        mode,
                        criterion: commands::prune::parse_criterion(&criterion)?,
                        keep,
                        global,
                        round_to,
                        heads,
                        expansion_only,
                        latency: latency_aware.then(edgeport_passes::prune::LatencyModel::default),
                    },
                    dry_run,
                },
                cal.as_ref(),
            )?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Distill {
            teacher,
            student,
            data,
            output,
            to,
            steps,
            lr,
            batch,
            loss,
            temperature,
            optimizer,
            momentum,
            schedule,
            weight_decay,
            seed,
            checkpoint_dir,
            checkpoint_every,
            matches,
            match_weight,
            token_mask,
            eval,
        } => {
            use edgeport_train::{LossKind, OptimizerKind, Schedule, TrainConfig};
            let loss = match loss.as_str() {
                "kl" => LossKind::Kl,
                "mse" => LossKind::Mse,
                o => return Err(CommandError::Input(format!("--loss '{o}': expected kl or mse"))),
            };
            let optimizer = match optimizer.as_str() {
                "adam" => OptimizerKind::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                },
                "sgd" => OptimizerKind::Sgd { momentum },
                o => return Err(CommandError::Input(format!("--optimizer '{o}': expected adam or sgd"))),
            };
            let schedule = match schedule.as_str() {
                "constant" => Schedule::Constant,
                "cosine" => Schedule::Cosine,
                "step" => Schedule::Step {
                    every: steps.div_ceil(3).max(1),
                    gamma: 0.1,
                },
                o => return Err(CommandError::Input(format!("--schedule '{o}': expected constant, cosine or step"))),
            };
            let mut pairs = Vec::new();
            for m in &matches {
                let (t, s) = m
                    .split_once('=')
                    .ok_or_else(|| CommandError::Input(format!("--match '{m}' should be TEACHER_NODE=STUDENT_NODE")))?;
                pairs.push((t.to_string(), s.to_string()));
            }
            let cfg = TrainConfig {
                steps,
                batch,
                lr,
                optimizer,
                schedule,
                loss,
                temperature,
                weight_decay,
                seed,
                checkpoint_dir,
                checkpoint_every,
                matches: pairs,
                match_weight,
                // "auto" (the default): the student's attention_mask input, if it has one.
                token_mask: Some(token_mask),
            };
            let mut bar = Bar::new(json);
            let r = commands::distill::run(
                &commands::distill::DistillArgs {
                    teacher,
                    student,
                    data,
                    output,
                    to,
                    cfg,
                    eval,
                },
                &mut bar,
            )?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Compress {
            model,
            output,
            prune,
            criterion,
            latency_aware,
            distill_data,
            quantize,
            eval,
            steps,
            lr,
            batch,
            loss,
            temperature,
            seed,
        } => {
            let loss = match loss.as_str() {
                "kl" => edgeport_train::LossKind::Kl,
                "mse" => edgeport_train::LossKind::Mse,
                o => return Err(CommandError::Input(format!("--loss '{o}': expected kl or mse"))),
            };
            let cfg = edgeport_train::TrainConfig {
                steps,
                batch,
                lr,
                loss,
                temperature,
                seed,
                schedule: edgeport_train::Schedule::Cosine,
                ..Default::default()
            };
            let mut bar = Bar::new(json);
            let r = commands::compress::run(
                &commands::compress::CompressArgs {
                    model,
                    output,
                    prune,
                    criterion: commands::prune::parse_criterion(&criterion)?,
                    latency_aware,
                    distill_data,
                    quantize,
                    eval,
                    cfg,
                },
                &mut bar,
            )?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Inspect { model, from } => {
            emit(json, &commands::inspect::run(&model, from.as_deref())?);
            Ok(0)
        }
        Cmd::Run {
            model,
            inputs,
            output,
            from,
        } => {
            let r = commands::run::run(&commands::run::RunOptions {
                model,
                from,
                inputs: input_spec(&inputs)?,
                output,
            })?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Verify {
            reference,
            candidate,
            inputs,
            atol,
            rtol,
            per_node,
        } => {
            let r = commands::verify::run(&commands::verify::VerifyOptions {
                reference,
                candidate,
                inputs: input_spec(&inputs)?,
                atol,
                rtol,
                per_node,
            })?;
            emit(json, &r);
            Ok(if r.ok { 0 } else { 1 })
        }
        Cmd::Quantize {
            input,
            output,
            from,
            to,
            mode,
            calibration,
            heldout,
            no_check,
            method,
            per_tensor,
            block_size,
            embedding_block_size,
            embedding_f16_scales,
            act_order,
            layer_block,
            smooth,
            min_cosine,
            max_error,
            float_layers,
            opset,
            no_gptq,
            weight_method,
            no_nbits,
            exclude,
            seed,
            int8_io,
            no_sparse_weights,
            preprocess,
            float_where_faster,
            import,
        } => {
            let r = commands::quantize::run(&commands::quantize::QuantizeOptions {
                input,
                output,
                from,
                to,
                mode,
                calibration,
                heldout,
                no_check,
                method,
                per_tensor,
                block_size,
                embedding_block_size,
                embedding_f16_scales,
                act_order,
                layer_block,
                smooth,
                min_cosine,
                max_error,
                float_layer_weights_int8: float_layers == "int8",
                opset,
                no_gptq,
                weight_method,
                no_nbits,
                exclude,
                seed,
                int8_io,
                dense_weights: no_sparse_weights,
                preprocess,
                float_where_faster,
                signature: import.signature,
                weights: import.weights,
                input_shapes: import.input_shape,
            })?;
            emit(json, &r);
            Ok(0)
        }
        Cmd::Formats => {
            let fs = edgeport_cli::formats::formats();
            if json {
                let v: Vec<_> = fs
                        .iter()
                        .map(|f| serde_json::json!({"name": f.name, "extensions": f.extensions, "import": f.can_import, "export": f.can_export, "plugin": f.provider != edgeport_cli::formats::Provider::Builtin}))
                        .collect();
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                for f in fs {
                    let dir = match (f.can_import, f.can_export) {
                        (true, true) => "import, export",
                        (true, false) => "import",
                        _ => "export",
                    };
                    let src = if f.provider == edgeport_cli::formats::Provider::Builtin {
                        ""
                    } else {
                        " (plugin)"
                    };
                    println!("{:<8} .{:<10} {dir}{src}", f.name, f.extensions.join(" ."));
                }
            }
            Ok(0)
        }
    })();
    if edgeport_eval::profile::enabled() {
        eprintln!("evaluator time by op (EDGEPORT_PROFILE_OPS):");
        for (op, secs, n) in edgeport_eval::profile::report() {
            eprintln!("  {op:<24} {secs:>9.3} s  {n:>8} runs");
        }
    }
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"error": e.to_string(), "exit_code": e.exit_code()}));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
