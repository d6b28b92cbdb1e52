//! Per-op-type time, for finding where the evaluator spends a run: on when the environment
//! variable `EDGEPORT_PROFILE_OPS` is set (read once), summed over every thread and run;
//! `EDGEPORT_PROFILE_OPS=nodes` keys the totals by node (`op name`) instead of op type.
//! [`report`] returns the totals, largest first. Off, it costs one relaxed load per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 off, 2 per op type, 3 per node
static TOTALS: Mutex<Option<HashMap<String, (Duration, u64)>>> = Mutex::new(None);

/// Whether op timing is on.
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 | 3 => true,
        _ => {
            let v = std::env::var_os("EDGEPORT_PROFILE_OPS");
            let state = match v.as_deref().and_then(|s| s.to_str()) {
                None if v.is_none() => 1,
                Some("nodes") => 3,
                _ => 2,
            };
            STATE.store(state, Ordering::Relaxed);
            state > 1
        }
    }
}

/// Whether the totals are kept per node rather than per op type.
pub fn per_node() -> bool {
    enabled() && STATE.load(Ordering::Relaxed) == 3
}

/// Adds one execution of `op`.
pub fn add(op: &str, t: Duration) {
    if let Ok(mut g) = TOTALS.lock() {
        let e = g.get_or_insert_with(HashMap::new).entry(op.to_string()).or_default();
        e.0 += t;
        e.1 += 1;
    }
}

/// (op, total seconds, executions), largest total first.
pub fn report() -> Vec<(String, f64, u64)> {
    let mut v: Vec<(String, f64, u64)> = TOTALS
        .lock()
        .ok()
        .and_then(|g| {
            g.as_ref()
                .map(|m| m.iter().map(|(k, (d, n))| (k.clone(), d.as_secs_f64(), *n)).collect())
        })
        .unwrap_or_default();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}
