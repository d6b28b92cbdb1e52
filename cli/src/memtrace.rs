//! `EDGEPORT_TRACE_MEM=1`: prints the process's resident and peak resident memory (VmRSS,
//! VmHWM from /proc/self/status) at the stages of a command, to stderr, so a memory figure can
//! be traced to the stage that set it. Does nothing unless the variable is set, or where
//! /proc is absent.

/// Prints one line for `stage` when tracing is on.
pub fn mark(stage: &str) {
    if std::env::var_os("EDGEPORT_TRACE_MEM").is_none() {
        return;
    }
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    eprintln!(
        "mem: {stage:<14} rss {:>7} kB  peak {:>7} kB  (anon {} kB, file {} kB)",
        field("VmRSS:"),
        field("VmHWM:"),
        field("RssAnon:"),
        field("RssFile:")
    );
}
