//! External plugins: executables named `edgeport-frontend-<name>` or `edgeport-backend-<name>`
//! on PATH, so a frontend or backend may be written in any language. They exchange the IR
//! bundle (a `.epir` folder: `graph.txt` + `weights.safetensors`, see `edgeport_ir::bundle`).
//!
//! Protocol (all arguments are paths):
//! - `edgeport-frontend-<name> extensions` prints the file extensions it reads, one per line;
//!   `edgeport-frontend-<name> import MODEL OUT.epir` writes the bundle, exit 0 on success, and
//!   explains failures on stderr.
//! - `edgeport-backend-<name> extensions`; `edgeport-backend-<name> export IN.epir OUTPUT`.

use crate::formats::{Format, FormatError, Provider};
use edgeport_ir::Graph;
use std::path::{Path, PathBuf};
use std::process::Command;

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default()
}

fn extensions(exe: &Path) -> Vec<String> {
    Command::new(exe)
        .arg("extensions")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Plugins on PATH (first one of a name wins, as the shell would choose).
pub fn discover() -> Vec<Format> {
    let mut out: Vec<Format> = Vec::new();
    for dir in path_dirs() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let fname = e.file_name().to_string_lossy().to_string();
            let (name, is_front) = if let Some(n) = fname.strip_prefix("edgeport-frontend-") {
                (n.to_string(), true)
            } else if let Some(n) = fname.strip_prefix("edgeport-backend-") {
                (n.to_string(), false)
            } else {
                continue;
            };
            if name.is_empty() || out.iter().any(|f| f.name == name && f.can_import == is_front) {
                continue;
            }
            let exe = e.path();
            out.push(Format {
                name,
                extensions: extensions(&exe),
                can_import: is_front,
                can_export: !is_front,
                provider: Provider::Plugin(exe),
            });
        }
    }
    out
}

fn scratch(tag: &str) -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("edgeport-{tag}-{}-{n}.epir", std::process::id()))
}

fn run(exe: &Path, args: &[&std::ffi::OsStr]) -> Result<(), FormatError> {
    let plugin = exe.display().to_string();
    let out = Command::new(exe).args(args).output().map_err(|e| FormatError::Plugin {
        plugin: plugin.clone(),
        msg: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(FormatError::Plugin {
            plugin,
            msg: format!(
                "exit {}: {}",
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// Runs a frontend plugin and reads its bundle.
pub fn import(exe: &Path, model: &Path) -> Result<Graph, FormatError> {
    let dir = scratch("in");
    let r = run(exe, &["import".as_ref(), model.as_os_str(), dir.as_os_str()]).and_then(|_| {
        edgeport_ir::bundle::read_bundle(&dir).map_err(|e| FormatError::Plugin {
            plugin: exe.display().to_string(),
            msg: format!("bad bundle: {e}"),
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// Writes a bundle and runs a backend plugin on it.
pub fn export(exe: &Path, g: &Graph, out: &Path) -> Result<(), FormatError> {
    let dir = scratch("out");
    let r = edgeport_ir::bundle::write_bundle(g, &dir)
        .map_err(|e| FormatError::Export(e.to_string()))
        .and_then(|_| run(exe, &["export".as_ref(), dir.as_os_str(), out.as_os_str()]));
    let _ = std::fs::remove_dir_all(&dir);
    r
}
