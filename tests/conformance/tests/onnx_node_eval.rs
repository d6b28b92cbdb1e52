//! ONNX backend node tests (and the light real-model tests) through import → evaluator, one
//! test per case, checked against `manifest/eval.txt`. Set `EDGEPORT_BLESS=1` to rewrite the
//! manifest from the results. Without the test data (run `tests/setup.sh`), the suite fails
//! unless `EDGEPORT_ALLOW_NO_DATA=1`.

use edgeport_conformance::manifest::{self, Expect};
use edgeport_conformance::{DataDir, cases};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn main() {
    let args = Arguments::from_args();
    let manifest_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("manifest/eval.txt");
    let Some(data) = DataDir::locate() else {
        if std::env::var("EDGEPORT_ALLOW_NO_DATA").is_ok() {
            eprintln!("ONNX test data not found; skipping (EDGEPORT_ALLOW_NO_DATA set)");
            return;
        }
        eprintln!("ONNX test data not found: run tests/setup.sh or set EDGEPORT_ONNX_DATA");
        std::process::exit(2);
    };
    let expected = manifest::read(&manifest_path);
    let bless = std::env::var("EDGEPORT_BLESS").is_ok();
    let results: Arc<Mutex<BTreeMap<String, Expect>>> = Arc::default();
    let mut trials = Vec::new();
    for dir in data.node_cases() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let exp = expected.get(&name).cloned().unwrap_or(Expect::Pass);
        let res = results.clone();
        let n2 = name.clone();
        trials.push(Trial::test(name, move || {
            check(&n2, exp, bless, &res, move || cases::run_case_eval(&dir))
        }));
    }
    for (name, model, out) in data.light_cases() {
        let exp = expected.get(&name).cloned().unwrap_or(Expect::Pass);
        let res = results.clone();
        let n2 = name.clone();
        trials.push(Trial::test(name, move || {
            check(&n2, exp, bless, &res, move || cases::run_light(&model, &out))
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if bless {
        let r = results.lock().unwrap();
        let mut merged = expected.clone();
        merged.extend(r.clone());
        manifest::write(
            &manifest_path,
            "ONNX node tests (onnx 1.22.0) and light models: import -> evaluator.\nRewrite with EDGEPORT_BLESS=1 cargo test -p edgeport-conformance --test onnx_node_eval",
            &merged,
        )
        .expect("write manifest");
        let pass = merged.values().filter(|e| **e == Expect::Pass).count();
        eprintln!("manifest written: {pass} of {} pass", merged.len());
        return;
    }
    conclusion.exit();
}

/// Time limit of one case.
const CASE_TIMEOUT_SECS: u64 = 120;

fn check(
    name: &str,
    exp: Expect,
    bless: bool,
    res: &Mutex<BTreeMap<String, Expect>>,
    run: impl FnOnce() -> Result<(), String> + Send + std::panic::UnwindSafe + 'static,
) -> Result<(), Failed> {
    // Each case runs on its own thread with a time limit, so a runaway case fails instead of
    // hanging the suite (the thread is abandoned; the process exits at the end).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = match std::panic::catch_unwind(run) {
            Ok(r) => r,
            Err(p) => Err(format!(
                "PANIC: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        let _ = tx.send(r);
    });
    let outcome = rx
        .recv_timeout(std::time::Duration::from_secs(CASE_TIMEOUT_SECS))
        .unwrap_or_else(|_| Err(format!("TIMEOUT: did not finish in {CASE_TIMEOUT_SECS} s")));
    let got = match &outcome {
        Ok(()) => Expect::Pass,
        Err(e) => Expect::Fail(scrub(e.lines().next().unwrap_or(""))),
    };
    res.lock().unwrap().insert(name.to_string(), got.clone());
    if bless {
        return Ok(());
    }
    match (exp, outcome) {
        (Expect::Pass, Ok(())) => Ok(()),
        (Expect::Pass, Err(e)) => Err(e.into()),
        (Expect::Fail(_), Err(e)) if e.starts_with("PANIC") || e.starts_with("TIMEOUT") => Err(e.into()),
        (Expect::Fail(_), Err(_)) => Ok(()),
        (Expect::Fail(r), Ok(())) => Err(format!("passes now but the manifest expects failure ({r}); update the manifest").into()),
    }
}

/// Removes machine-specific path prefixes from a reason (`…/.cache/onnx-1.22.0/data/node/x` → `node/x`).
fn scrub(reason: &str) -> String {
    reason
        .split(' ')
        .map(|w| match w.find(".cache/onnx-1.22.0/data/") {
            Some(i) => &w[i + ".cache/onnx-1.22.0/data/".len()..],
            None => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
