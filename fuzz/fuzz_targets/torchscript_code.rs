//! Fuzz target `torchscript_code`: TorchScript SOURCE TEXT straight into edgeport-pytorch's
//! lexer, parser and symbolic interpreter, past the zip and pickle layers that stop most
//! mutants of whole `.pt` files (target `torchscript_parse`).
//!
//! Each input is taken as the text of a `code/…py` file and
//! 1. parsed on its own;
//! 2. run as the root module's source (`code/__torch__.py`) of two real archives made by torch
//!    (the scripted control-flow module `jit_ctrl.pt`, inputs x[3,8] f32 and n[] i64, and the
//!    traced `jit_cnn.pt`), so class lookup, attributes, weights, constants, ATen rules and
//!    If/Loop building all see it;
//! 3. dictionary/structure-aware variants of it (derived deterministically from the input) go
//!    through 1–2 as well: TorchScript keywords, operators, `torch.`/`ops.prim.` calls, edge
//!    numbers and indentation inserted at token boundaries, and whole lines duplicated, deleted,
//!    swapped or re-indented — so the parser's block structure is exercised, not only its lexer.
//!
//! Every call must give `Ok` or `Err`, never a panic, an abort, a stack overflow or a huge
//! allocation. Seed it with `fuzz/seeds/torchscript_code/` (the `code/` sources of every
//! committed `jit_*.pt`). With `--features libfuzzer` this is a libFuzzer target; without it, the
//! plain stable replayer/mutator (`plain_driver.rs`).
#![cfg_attr(feature = "libfuzzer", no_main)]

use edgeport_pytorch::torchscript::{self, TsOptions};

static CTRL: &[u8] = include_bytes!("../../tests/fixtures/pytorch/jit_ctrl.pt");
static CNN: &[u8] = include_bytes!("../../tests/fixtures/pytorch/jit_cnn.pt");

/// Tokens the variants insert.
const DICT: &[&str] = &[
    "if ", "else:", "elif ", "for ", " in ", "range(", "while ", "return ", "break", "continue", "pass",
    "assert ", "raise ", "def ", "class ", "with ", "lambda ", "not ", " and ", " or ", " is ", " is not ",
    "(", ")", "[", "]", "{", "}", ":", ",", ".", "=", "==", "!=", "<", ">=", "+", "-", "*", "**", "/", "//",
    "%", "@", "&", "|", "^", "~", "<<", ">>", "+=", "\n", "\n  ", "\n    ", "    ", "\t", "\\\n", "#", "\"",
    "'", "\"\"\"", "torch.add(", "torch.relu(", "torch.sum(", "torch.gt(", "torch.view(", "torch.cat(",
    "torch.slice(", "torch.zeros_like(", "torch._transformer_encoder_layer_fwd(", "ops.prim.NumToTensor(",
    "ops.prim.device(", "ops.prim.dtype(", "ops.prim.RaiseException(", "ops.aten.size(", "CONSTANTS.c0",
    "CONSTANTS.c99999999", "self.", "self.fc", "self.fc.weight", "(self.fc).forward(", "bool(", "int(",
    "float(", "len(", "getattr(self, \"fc\")", "annotate(List[int], [])", "unchecked_cast(Tensor, ",
    "uninitialized(Tensor)", "isinstance(", "x", "n", "y", "y1", "k0", "_0", "i", "None", "True", "False",
    "0", "1", "-1", "2.", "1e309", "-inf", "9223372036854775807", "-9223372036854775808", "100000",
    "0x7fffffff", "...",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)) | 1
}

/// Char-boundary offsets where a token starts or ends.
fn boundaries(s: &str) -> Vec<usize> {
    let mut out = vec![0, s.len()];
    let mut prev: Option<char> = None;
    for (i, c) in s.char_indices() {
        if let Some(p) = prev
            && (p.is_alphanumeric() || p == '_') != (c.is_alphanumeric() || c == '_')
        {
            out.push(i);
        }
        prev = Some(c);
    }
    out
}

/// One dictionary/structure-aware variant of `s`.
fn variant(rng: &mut Rng, s: &str) -> String {
    let mut text = s.to_string();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 | 1 => {
                let b = boundaries(&text);
                let at = b[rng.below(b.len())];
                text.insert_str(at, DICT[rng.below(DICT.len())]);
            }
            2 => {
                // Replace the token at a boundary with a dictionary token.
                let b = boundaries(&text);
                let i = rng.below(b.len());
                let start = b[i];
                let end = b.iter().copied().filter(|&e| e > start).min().unwrap_or(start);
                text.replace_range(start..end, DICT[rng.below(DICT.len())]);
            }
            _ => {
                let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
                let n = lines.len();
                let (a, b) = (rng.below(n), rng.below(n));
                match rng.below(4) {
                    0 => {
                        let l = lines[a].clone();
                        lines.insert(b, l);
                    }
                    1 if n > 1 => {
                        lines.remove(a);
                    }
                    2 => lines.swap(a, b),
                    _ => {
                        let l = &mut lines[a];
                        if rng.below(2) == 0 {
                            l.insert_str(0, "  ");
                        } else if l.starts_with("  ") {
                            l.replace_range(0..2, "");
                        }
                    }
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

fn run_text(src: &str) {
    let _ = torchscript::parser::parse(src);
    let sources = vec![("__torch__.py".to_string(), src.to_string())];
    let ctrl = TsOptions {
        input_shapes: vec![("x".into(), vec![3, 8]), ("n".into(), vec![])],
        input_dtypes: vec![("n".into(), edgeport_ir::DType::I64)],
    };
    for (name, bytes, opts) in [("jit_ctrl.pt", CTRL, ctrl), ("jit_cnn.pt", CNN, TsOptions::default())] {
        if let Ok(ar) = edgeport_pytorch::zip::Archive::parse(name, edgeport_ir::Bytes::from_vec(bytes.to_vec())) {
            let _ = torchscript::import_archive_with_sources(ar, &sources, &opts);
        }
    }
}

/// Runs one text; one that takes longer than a second (a near-hang) is saved under
/// `fuzz/artifacts/torchscript_code/slow-<hash>.py` and reported.
fn timed(src: &str) {
    let t = std::time::Instant::now();
    run_text(src);
    let dt = t.elapsed();
    if dt.as_secs_f64() > 1.0 {
        let dir = std::path::Path::new("fuzz/artifacts/torchscript_code");
        let _ = std::fs::create_dir_all(dir);
        let p = dir.join(format!("slow-{:016x}.py", hash(src.as_bytes())));
        let _ = std::fs::write(&p, src);
        eprintln!("SLOW ({:.1} s) saved to {}", dt.as_secs_f64(), p.display());
    }
}

fn run_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    timed(&text);
    let mut rng = Rng(hash(data));
    for _ in 0..3 {
        let v = variant(&mut rng, &text);
        timed(&v);
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("torchscript_code", run_one)
}
