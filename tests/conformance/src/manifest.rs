//! Manifests of expectations: `name pass` or `name fail reason…`, one case per line, sorted.

use std::collections::BTreeMap;
use std::path::Path;

/// What a case is expected to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Pass,
    Fail(String),
}

/// Reads a manifest (missing file = empty).
pub fn read(path: &Path) -> BTreeMap<String, Expect> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let name = parts.next().unwrap_or_default().to_string();
        let exp = match parts.next() {
            Some("pass") => Expect::Pass,
            _ => Expect::Fail(parts.next().unwrap_or("").trim().to_string()),
        };
        out.insert(name, exp);
    }
    out
}

/// Writes a manifest.
pub fn write(path: &Path, header: &str, m: &BTreeMap<String, Expect>) -> std::io::Result<()> {
    let mut s = String::new();
    for l in header.lines() {
        s.push_str("# ");
        s.push_str(l);
        s.push('\n');
    }
    for (k, v) in m {
        match v {
            Expect::Pass => s.push_str(&format!("{k} pass\n")),
            Expect::Fail(r) => {
                let r: String = r.replace('\n', " ").chars().take(200).collect();
                s.push_str(&format!("{k} fail {r}\n"))
            }
        }
    }
    std::fs::write(path, s)
}
